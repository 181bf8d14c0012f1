import { Module } from '@nestjs/common';
import { OpalModule } from '../opal/opal.module';
import { DiagnosticsController } from './diagnostics.controller';
import { DiagnosticsService } from './diagnostics.service';
import { MaintenanceService } from './maintenance.service';
import { RetentionJob } from './retention.job';
import { SystemHealthService } from './system-health.service';

/** Diagnostics (events, system health, alerts), configuration test, retention (on request and daily). */
@Module({
  imports: [OpalModule],
  controllers: [DiagnosticsController],
  providers: [DiagnosticsService, SystemHealthService, MaintenanceService, RetentionJob],
})
export class DiagnosticsModule {}
