import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuthFailuresService } from '../../audit/auth-failures.service';
import { AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { evaluateAlerts, toSystemHealth, type HealthFigures } from './alerts';
import type { AlertDto, SystemHealthDto } from './dto/last-webhook-response.dto';

interface FiguresRow {
  now: Date;
  events_last_hour: number;
  failed_last_hour: number;
  avg_ms: number | null;
  p95_ms: number | null;
  last_webhook_at: Date | null;
  backlog: number;
  signature_rejected: number;
  rejected: number;
  fs_accepted: number;
  fs_finished: number;
  fs_max_response_ms: number | null;
  active_workflows: number;
}

/**
 * Every figure in one statement; each sub-select is bounded by an index (received_at, the pending partial
 * index, rejected_deliveries' bucket key, workflows' created_at and status indexes), so no table is scanned.
 */
export const FIGURES_SQL = `
WITH recent AS (
  SELECT count(*)::int AS events_last_hour,
         count(*) FILTER (WHERE status = 'failed' OR processing_status = 'failed')::int AS failed_last_hour,
         avg(processing_time_ms)::float8 AS avg_ms,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY processing_time_ms)::float8 AS p95_ms
    FROM webhook_events
   WHERE received_at > now() - interval '1 hour'
), rejected AS (
  SELECT coalesce(sum(count) FILTER (WHERE reason = 'signature_invalid'), 0)::int AS signature_rejected,
         coalesce(sum(count), 0)::int AS rejected
    FROM rejected_deliveries
   WHERE bucket > now() - interval '1 hour'
), force_syncs AS (
  SELECT count(*) FILTER (WHERE triggered_at IS NOT NULL)::int AS fs_accepted,
         count(*) FILTER (WHERE triggered_at IS NOT NULL OR status = 'trigger_failed')::int AS fs_finished,
         max(response_time_ms)::int AS fs_max_response_ms
    FROM workflows
   WHERE created_at > now() - $1::int * interval '1 minute'
)
SELECT now() AS now, recent.*, rejected.*, force_syncs.*,
       (SELECT max(received_at) FROM webhook_events) AS last_webhook_at,
       (SELECT count(*)::int FROM webhook_events WHERE processing_status = 'pending') AS backlog,
       (SELECT count(*)::int FROM workflows
         WHERE status IN ('triggered', 'running')
           AND created_at > now() - $2::int * interval '1 minute') AS active_workflows
  FROM recent, rejected, force_syncs`;

/** `system_health` and `alerts` of the diagnostics answer, computed in SQL on every call. */
@Injectable()
export class SystemHealthService {
  private readonly logger = new Logger('SystemHealth');

  constructor(
    private readonly dataSource: DataSource,
    private readonly authFailures: AuthFailuresService,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  async evaluate(): Promise<{ systemHealth: SystemHealthDto; alerts: AlertDto[] }> {
    const figures = await this.figures();
    const alerts = evaluateAlerts(figures, this.config.alerts);
    if (figures.database === 'up') this.metrics.processingBacklog.set(figures.backlog);
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
      const { alerts, workflowTimeoutMinutes } = this.config;
      const [rows, authFailures] = await Promise.all([
        this.dataSource.query<FiguresRow[]>(FIGURES_SQL, [
          alerts.forceSyncWindowMinutes,
          workflowTimeoutMinutes,
        ]),
        this.authFailures.countSince(alerts.authFailuresWindowMinutes),
      ]);
      const row = rows[0];
      return {
        database: 'up',
        now: row.now,
        eventsLastHour: row.events_last_hour,
        failedLastHour: row.failed_last_hour,
        avgProcessingMs: row.avg_ms,
        p95ProcessingMs: row.p95_ms,
        lastWebhookAt: row.last_webhook_at,
        backlog: row.backlog,
        signatureRejectedLastHour: row.signature_rejected,
        rejectedLastHour: row.rejected,
        forceSyncAccepted: row.fs_accepted,
        forceSyncFinished: row.fs_finished,
        forceSyncMaxResponseMs: row.fs_max_response_ms,
        activeWorkflows: row.active_workflows,
        authFailures,
      };
    } catch (error) {
      if (await this.databaseReachable()) throw error;
      this.logger.error({ msg: 'System health: database unreachable' });
      return { ...DOWN_FIGURES, now: new Date() };
    }
  }
}

const DOWN_FIGURES: HealthFigures = {
  database: 'down',
  now: new Date(0),
  eventsLastHour: 0,
  failedLastHour: 0,
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
};
