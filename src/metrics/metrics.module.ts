import { Global, Module } from '@nestjs/common';
import { DatabaseMetricsCollector } from './database-metrics.collector';
import { MetricsService } from './metrics.service';

@Global()
@Module({ providers: [MetricsService, DatabaseMetricsCollector], exports: [MetricsService] })
export class MetricsModule {}
