import { Global, Module } from '@nestjs/common';
import { MetricsServer } from './metrics-server';
import { MetricsService } from './metrics.service';

/**
 * The Prometheus registry and the service's series, and where they are served (METRICS_PORT); the scrape-time
 * figures are sampled by the health module from their owners.
 */
@Global()
@Module({
  providers: [MetricsService, MetricsServer],
  exports: [MetricsService, MetricsServer],
})
export class MetricsModule {}
