import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AgentRunEntity } from './agent-run.entity';
import { TriggerAttemptEntity } from './trigger-attempt.entity';
import { WorkflowEntity } from './workflow.entity';
import { WorkflowStateService } from './workflow-state.service';
import { WorkflowsService } from './workflows.service';

/**
 * Workflows, their agents and trigger attempts: the state that force sync creates, webhook processing and
 * replay move forward, and diagnostics read.
 */
@Module({
  imports: [TypeOrmModule.forFeature([WorkflowEntity, AgentRunEntity, TriggerAttemptEntity])],
  providers: [WorkflowsService, WorkflowStateService],
  exports: [TypeOrmModule, WorkflowsService, WorkflowStateService],
})
export class WorkflowsModule {}
