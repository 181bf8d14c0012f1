import { Module, type DynamicModule } from '@nestjs/common';
import { AdminModule } from './admin/admin.module';
import { AuditModule } from './audit/audit.module';
import { ThrottlingModule } from './policy/throttling.module';
import { AppConfigModule } from './config/config.module';
import type { Settings } from './config/settings';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';
import { MetricsModule } from './metrics/metrics.module';
import { DiagnosticsModule } from './modules/diagnostics/diagnostics.module';
import { LiveModule } from './modules/live/live.module';
import { OpalModule } from './modules/opal/opal.module';
import { ReplayModule } from './modules/replay/replay.module';
import { SyncModule } from './modules/sync/sync.module';
import { WebhooksModule } from './modules/webhooks/webhooks.module';
import { RootController } from './root.controller';

@Module({})
export class AppModule {
  static register(settings: Settings): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(settings),
        // First, so that the OpenAPI document lists the receiver first (Express matches it first whatever the order:
        // configureApp puts its routes in front).
        WebhooksModule,
        MetricsModule,
        DatabaseModule,
        AuditModule,
        HealthModule,
        OpalModule,
        SyncModule,
        LiveModule,
        DiagnosticsModule,
        ReplayModule,
        JobsModule,
        ThrottlingModule,
        AdminModule,
      ],
      controllers: [RootController],
    };
  }
}
