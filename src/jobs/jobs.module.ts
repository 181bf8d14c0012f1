import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DiagnosticsModule } from '../modules/diagnostics/diagnostics.module';
import { MaintenanceModule } from '../modules/maintenance/maintenance.module';
import { ReplayModule } from '../modules/replay/replay.module';
import { SyncModule } from '../modules/sync/sync.module';
import { WebhooksModule } from '../modules/webhooks/webhooks.module';
import { WorkflowsModule } from '../modules/workflows/workflows.module';
import { JobLeaseEntity } from './job-lease.entity';
import { JobLeasesRepository } from './job-leases.repository';
import { JobRunner } from './job-runner';
import { PeriodicJobs } from './periodic-jobs';

/** The table the scheduler owns. */
export const JOBS_ENTITIES = [JobLeaseEntity];

/** The one scheduler: periodic jobs, each under a lease with an expiry (owns `job_leases`). */
@Module({
  imports: [
    ScheduleModule.forRoot(),
    TypeOrmModule.forFeature(JOBS_ENTITIES),
    WorkflowsModule,
    WebhooksModule,
    SyncModule,
    DiagnosticsModule,
    MaintenanceModule,
    ReplayModule,
  ],
  providers: [JobLeasesRepository, JobRunner, PeriodicJobs],
})
export class JobsModule {}
