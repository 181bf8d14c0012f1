import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { ShutdownState } from '../common/graceful-shutdown';
import { AppConfig } from '../config/app-config';
import { AnalyticsReader } from '../database/analytics-reader';
import { OpalBreakerService } from '../modules/opal/opal-breaker.service';
import { OpalConfigurationService } from '../modules/opal/opal-configuration.service';
import { WebhookEventsService } from '../modules/webhooks/webhook-events.service';

@Injectable()
export class HealthIndicators {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly opal: OpalConfigurationService,
    private readonly events: WebhookEventsService,
    private readonly shutdown: ShutdownState,
    private readonly reader: AnalyticsReader,
    private readonly breaker: OpalBreakerService,
  ) {}

  /** Where analytics reads go; degraded (still 200) while a configured replica is down or lagging. */
  readReplica(key: string) {
    const session = this.indicator.check(key);
    const { state, serving, lag_seconds, max_lag_seconds } = this.reader.status();
    const details = { state, serving, lag_seconds, max_lag_seconds };
    return state === 'down' || state === 'lagging' ? session.degraded(details) : session.up(details);
  }

  /** This instance's breaker on OPAL; degraded (still 200) while it is not closed. */
  opalCircuitBreaker(key: string) {
    const session = this.indicator.check(key);
    const { state, consecutive_failures, probe_at } = this.breaker.report();
    const details = { state, consecutive_failures, probe_at };
    return state === 'closed' ? session.up(details) : session.degraded(details);
  }

  /** Events stored but not yet applied; degraded (still 200) above the alert threshold. */
  async backlog(key: string) {
    const session = this.indicator.check(key);
    try {
      const backlog = await this.events.backlog();
      return backlog > this.config.alerts.backlogMax
        ? session.degraded({ backlog, threshold: this.config.alerts.backlogMax })
        : session.up({ backlog });
    } catch {
      return session.down({ message: 'backlog unavailable' });
    }
  }

  /** Down from the moment the service starts shutting down, so that traffic moves to other instances. */
  accepting(key: string) {
    const session = this.indicator.check(key);
    return this.shutdown.draining ? session.down({ message: 'shutting down' }) : session.up();
  }

  async migrations(key: string) {
    const session = this.indicator.check(key);
    try {
      const pending = await this.dataSource.showMigrations();
      return pending ? session.down({ message: 'migrations pending' }) : session.up();
    } catch {
      return session.down({ message: 'migrations state unavailable' });
    }
  }

  opalConfiguration(key: string) {
    const session = this.indicator.check(key);
    const report = this.opal.report();
    return report.valid
      ? session.up({ mode: report.mode })
      : session.down({ mode: report.mode, problems: report.checks.filter((c) => !c.ok).map((c) => c.name) });
  }
}
