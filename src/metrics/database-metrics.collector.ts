import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MetricsService } from './metrics.service';

/**
 * Samples the database at scrape time, so that the backlog and the database alert are right on every
 * instance however many run, without a timer of its own.
 */
@Injectable()
export class DatabaseMetricsCollector implements OnModuleInit {
  private readonly logger = new Logger('Metrics');
  private lastFailed = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.metrics.setSampler(() => this.sample());
  }

  async sample(): Promise<void> {
    try {
      const [row] = await this.dataSource.query<{ backlog: number; active: number }[]>(
        `SELECT (SELECT count(*) FROM webhook_events WHERE processing_status = 'pending')::int AS backlog,
                (SELECT count(*) FROM workflows WHERE status IN ('triggered', 'running'))::int AS active`,
      );
      this.metrics.processingBacklog.set(row.backlog);
      this.metrics.activeWorkflows.set(row.active);
      this.metrics.databaseUp.set(1);
      if (this.lastFailed) this.logger.log({ msg: 'Metrics database sample succeeded again' });
      this.lastFailed = false;
    } catch (error) {
      this.metrics.databaseUp.set(0);
      if (!this.lastFailed) this.logger.error({ msg: 'Metrics database sample failed', error });
      this.lastFailed = true;
    }
  }
}
