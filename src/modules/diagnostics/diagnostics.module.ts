import { Module } from '@nestjs/common';
import { MaintenanceModule } from '../maintenance/maintenance.module';
import { OpalModule } from '../opal/opal.module';
import { SyncModule } from '../sync/sync.module';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { WorkflowsModule } from '../workflows/workflows.module';
import { DiagnosticsController } from './diagnostics.controller';
import { DiagnosticsService } from './diagnostics.service';
import { MaintenanceService } from './maintenance.service';
import { SystemHealthService } from './system-health.service';

/**
 * Diagnostics (events, system health, alerts), configuration test, retention (on request; daily by the scheduler), all read
 * and done through the owners' services.
 */
@Module({
  imports: [OpalModule, WorkflowsModule, WebhooksModule, SyncModule, MaintenanceModule],
  controllers: [DiagnosticsController],
  providers: [DiagnosticsService, SystemHealthService, MaintenanceService],
  exports: [MaintenanceService],
})
export class DiagnosticsModule {}
