import { Module } from '@nestjs/common';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { OpalModule } from '../opal/opal.module';
import { SyncModule } from '../sync/sync.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { DiagnosticsController } from './diagnostics.controller';
import { DiagnosticsService } from './diagnostics.service';
import { MaintenanceService } from './maintenance.service';
import { RecoveryController } from './recovery.controller';
import { RecoveryService } from './recovery.service';
import { SystemHealthService } from './system-health.service';

/**
 * Diagnostics (events, system health, alerts), configuration test, retention (on request; daily by the scheduler),
 * and the recovery tools (event lookup, dead-letter inbox and requeue, export), all read and done through the
 * owners' services.
 */
@Module({
  imports: [OpalModule, WorkflowsModule, WebhooksModule, SyncModule, MaintenanceModule],
  controllers: [DiagnosticsController, RecoveryController],
  providers: [DiagnosticsService, SystemHealthService, MaintenanceService, RecoveryService],
  exports: [MaintenanceService],
})
export class DiagnosticsModule {}
