import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
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
  ) {}

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
