import { Module } from '@nestjs/common';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { BulkReplayService } from './bulk-replay.service';
import { ReplayJobEntity, ReplayJobWorkflowEntity } from './replay-job.entity';
import { ReplayJobsRepository } from './replay-jobs.repository';
import { ReplayController } from './replay.controller';
import { ReplayService } from './replay.service';

/** The tables this module owns. */
export const REPLAY_ENTITIES = [ReplayJobEntity, ReplayJobWorkflowEntity];

/**
 * Event replay: rebuilds a workflow's state from its stored events through the workflows' write path, one
 * workflow at a time or in bulk. Owns `replay_jobs` and `replay_job_workflows` (bulk replays, run by the
 * scheduler through `BulkReplayService.runPending`).
 */
@Module({
  imports: [TypeOrmModule.forFeature(REPLAY_ENTITIES), WorkflowsModule, WebhooksModule, MaintenanceModule],
  controllers: [ReplayController],
  providers: [ReplayService, BulkReplayService, ReplayJobsRepository],
  exports: [BulkReplayService],
})
export class ReplayModule {}
