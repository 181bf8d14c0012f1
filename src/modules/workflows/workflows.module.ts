import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AgentRunEntity } from './agent-run.entity';
import { TriggerAttemptEntity } from './trigger-attempt.entity';
import { WorkflowEntity } from './workflow.entity';
import { WorkflowEvents } from './workflow-events.service';
import { WorkflowStateService } from './workflow-state.service';
import { WorkflowsRepository } from './workflows.repository';
import { WorkflowsService } from './workflows.service';

/** The tables this module owns. */
export const WORKFLOWS_ENTITIES = [WorkflowEntity, AgentRunEntity, TriggerAttemptEntity];

/**
 * Owns `workflows`, `agent_runs` and `trigger_attempts`: the state machine, the one write path
 * (`WorkflowStateService`), reads and figures (`WorkflowsService`) and "workflow changed" notifications
 * (`WorkflowEvents`). Other modules use these three services; none touches the tables.
 */
@Module({
  imports: [TypeOrmModule.forFeature(WORKFLOWS_ENTITIES)],
  providers: [WorkflowsRepository, WorkflowsService, WorkflowStateService, WorkflowEvents],
  exports: [WorkflowsService, WorkflowStateService, WorkflowEvents],
})
export class WorkflowsModule {}
