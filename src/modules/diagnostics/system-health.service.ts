import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuthFailuresService } from '../../audit/auth-failures.service';
import { AppConfig } from '../../config/app-config';
import { WebhookEventsService } from '../webhooks/webhook-events.service';
import { WorkflowsService, type ServiceLevelWindow } from '../workflows/workflows.service';
import { evaluateAlerts, toSystemHealth, type HealthFigures } from './alerts';
import type { AlertDto, SystemHealthDto } from './dto/last-webhook-response.dto';

/**
 * `system_health` and `alerts` of the diagnostics answer, evaluated on every call from the owners' figures
 * (deliveries from the webhooks module, force syncs and active workflows from the workflows module,
 * authentication failures from the audit log), read side by side.
 */
@Injectable()
export class SystemHealthService {
  private readonly logger = new Logger('SystemHealth');

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: WebhookEventsService,
    private readonly workflows: WorkflowsService,
    private readonly authFailures: AuthFailuresService,
    private readonly config: AppConfig,
  ) {}

  async evaluate(): Promise<{ systemHealth: SystemHealthDto; alerts: AlertDto[] }> {
    const figures = await this.figures();
    const alerts = evaluateAlerts(figures, this.config.alerts);
    return { systemHealth: toSystemHealth(figures, alerts), alerts };
  }

  async databaseReachable(): Promise<boolean> {
    try {
      await this.dataSource.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /** The figures, or `database: 'down'` when a query fails and the database does not answer a ping either. */
  async figures(): Promise<HealthFigures> {
    try {
      const { alerts } = this.config;
      const [deliveries, forceSyncs, activeWorkflows, authFailures, serviceLevels] = await Promise.all([
        this.events.deliveryFigures(),
        this.workflows.forceSyncFigures(alerts.forceSyncWindowMinutes),
        this.workflows.activeWorkflows(),
        this.authFailures.countSince(alerts.authFailuresWindowMinutes),
        this.workflows.serviceLevelFigures(),
      ]);
      return {
        database: 'up',
        now: deliveries.now,
        eventsLastHour: deliveries.eventsLastHour,
        failedLastHour: deliveries.failedLastHour,
        processedLastHour: deliveries.processedLastHour,
        processingFailedLastHour: deliveries.processingFailedLastHour,
        unmatchedLastHour: deliveries.unmatchedLastHour,
        avgProcessingMs: deliveries.avgProcessingMs,
        p95ProcessingMs: deliveries.p95ProcessingMs,
        lastWebhookAt: deliveries.lastWebhookAt,
        backlog: deliveries.backlog,
        signatureRejectedLastHour: deliveries.signatureRejectedLastHour,
        rejectedLastHour: deliveries.rejectedLastHour,
        forceSyncAccepted: forceSyncs.accepted,
        forceSyncFinished: forceSyncs.finished,
        forceSyncMaxResponseMs: forceSyncs.maxResponseMs,
        activeWorkflows,
        authFailures,
        serviceLevels,
      };
    } catch (error) {
      if (await this.databaseReachable()) throw error;
      this.logger.error({ msg: 'System health: database unreachable' });
      return { ...DOWN_FIGURES, now: new Date() };
    }
  }
}

const NO_SERVICE_LEVELS: ServiceLevelWindow = {
  workflowsFinished: 0,
  workflowsCompleted: 0,
  agentsFinished: 0,
  agentsCompleted: 0,
  p95DurationMs: null,
};

const DOWN_FIGURES: HealthFigures = {
  database: 'down',
  now: new Date(0),
  eventsLastHour: 0,
  failedLastHour: 0,
  processedLastHour: 0,
  processingFailedLastHour: 0,
  unmatchedLastHour: 0,
  avgProcessingMs: null,
  p95ProcessingMs: null,
  lastWebhookAt: null,
  backlog: 0,
  signatureRejectedLastHour: 0,
  rejectedLastHour: 0,
  forceSyncAccepted: 0,
  forceSyncFinished: 0,
  forceSyncMaxResponseMs: null,
  activeWorkflows: 0,
  authFailures: 0,
  serviceLevels: {
    hour: NO_SERVICE_LEVELS,
    day: NO_SERVICE_LEVELS,
  },
};
