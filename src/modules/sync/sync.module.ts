import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { OpalModule } from '../opal/opal.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { ForceSyncController } from './force-sync.controller';
import { ForceSyncService } from './force-sync.service';
import { IdempotencyRecordEntity } from './idempotency-record.entity';
import { IdempotencyService } from './idempotency.service';
import { OrchestrationTriggerController } from './orchestration-trigger.controller';
import { SyncCancelService } from './sync-cancel.service';
import { TriggerDispatcherService } from './trigger-dispatcher.service';

/** The table this module owns. */
export const SYNC_ENTITIES = [IdempotencyRecordEntity];

/**
 * Force sync, orchestration trigger, cancel and rerun, and the durable delivery of triggers to OPAL (through the workflows' write
 * path). Owns `idempotency_keys`.
 */
@Module({
  imports: [TypeOrmModule.forFeature(SYNC_ENTITIES), OpalModule, WorkflowsModule, MaintenanceModule],
  controllers: [ForceSyncController, OrchestrationTriggerController],
  providers: [ForceSyncService, IdempotencyService, TriggerDispatcherService, SyncCancelService],
  exports: [TriggerDispatcherService, IdempotencyService],
})
export class SyncModule {}
