import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { MaintenanceModule } from '../modules/maintenance/maintenance.module';
import { OpalModule } from '../modules/opal/opal.module';
import { WebhooksModule } from '../modules/webhooks/webhooks.module';
import { WorkflowsModule } from '../modules/workflows/workflows.module';
import { ShutdownState } from '../common/graceful-shutdown';
import { HealthController } from './health.controller';
import { HealthIndicators } from './health.indicators';
import { MetricsSampler } from './metrics-sampler';

/** Health probes and the scrape-time gauges, both read through the owners' services. */
@Module({
  imports: [
    TerminusModule.forRoot({ logger: false }),
    OpalModule,
    WebhooksModule,
    WorkflowsModule,
    MaintenanceModule,
  ],
  controllers: [HealthController],
  providers: [HealthIndicators, MetricsSampler, ShutdownState],
})
export class HealthModule {}
