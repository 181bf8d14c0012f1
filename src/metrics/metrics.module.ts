import { Global, Module } from '@nestjs/common';
import { DatabaseMetricsCollector } from './database-metrics.collector';
import { MetricsServer } from './metrics-server';
import { MetricsService } from './metrics.service';

@Global()
@Module({
  providers: [MetricsService, DatabaseMetricsCollector, MetricsServer],
  exports: [MetricsService, MetricsServer],
})
export class MetricsModule {}
