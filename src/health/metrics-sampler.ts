import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AnalyticsReader } from '../database/analytics-reader';
import { MetricsService } from '../metrics/metrics.service';
import { MaintenanceModeService } from '../modules/maintenance/maintenance-mode.service';
import { WebhookEventsService } from '../modules/webhooks/webhook-events.service';
import { WorkflowsService } from '../modules/workflows/workflows.service';

/**
 * Samples the owners' figures at scrape time (the processing backlog, the active workflows, whether the
 * database answers, the maintenance mode), so that they are right on every instance however many run, without a timer of its own.
 */
@Injectable()
export class MetricsSampler implements OnModuleInit {
  private readonly logger = new Logger('Metrics');
  private lastFailed = false;

  constructor(
    private readonly metrics: MetricsService,
    private readonly events: WebhookEventsService,
    private readonly workflows: WorkflowsService,
    private readonly reader: AnalyticsReader,
    private readonly maintenance: MaintenanceModeService,
  ) {}

  onModuleInit(): void {
    this.metrics.setSampler(() => this.sample());
  }

  async sample(): Promise<void> {
    const replica = this.reader.status();
    this.metrics.replicaServing.set(replica.serving === 'replica' ? 1 : 0);
    if (replica.lag_seconds === null) this.metrics.replicaLag.reset();
    else this.metrics.replicaLag.set(replica.lag_seconds);
    try {
      const [backlog, active, paused] = await Promise.all([
        this.events.backlog(),
        this.workflows.activeWorkflows(),
        this.maintenance.isPaused(),
      ]);
      this.metrics.processingBacklog.set(backlog);
      this.metrics.maintenanceMode.set(paused ? 1 : 0);
      this.metrics.activeWorkflows.set(active);
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
