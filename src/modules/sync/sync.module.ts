import { Module } from '@nestjs/common';
import { OpalModule } from '../opal/opal.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { ForceSyncController } from './force-sync.controller';
import { ForceSyncService } from './force-sync.service';
import { IdempotencyService } from './idempotency.service';
import { OrchestrationTriggerController } from './orchestration-trigger.controller';
import { TriggerDispatcherService } from './trigger-dispatcher.service';

/** Force sync, orchestration trigger and the durable delivery of triggers to OPAL. */
@Module({
  imports: [OpalModule, WorkflowsModule],
  controllers: [ForceSyncController, OrchestrationTriggerController],
  providers: [ForceSyncService, IdempotencyService, TriggerDispatcherService],
  exports: [TriggerDispatcherService],
})
export class SyncModule {}
