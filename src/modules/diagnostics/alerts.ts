import type { AlertThresholds } from '../../config/settings';
import { signatureFailureRate } from '../webhooks/webhook-events.service';
import type { AlertDto, SystemHealthDto } from './dto/last-webhook-response.dto';
import type { MaintenanceState } from '../maintenance/maintenance-mode.service';

/** Raw figures read from the database in one round trip (null everywhere when it is unreachable). */
export interface HealthFigures {
  database: 'up' | 'down';
  now: Date;
  eventsLastHour: number;
  failedLastHour: number;
  avgProcessingMs: number | null;
  p95ProcessingMs: number | null;
  lastWebhookAt: Date | null;
  backlog: number;
  signatureRejectedLastHour: number;
  rejectedLastHour: number;
  forceSyncAccepted: number;
  /** Force syncs/triggers whose trigger handling finished (accepted by OPAL, or given up: trigger_failed). */
  forceSyncFinished: number;
  forceSyncMaxResponseMs: number | null;
  /** Workflows waiting for OPAL's callbacks: triggered or running, and younger than the workflow timeout. */
  activeWorkflows: number;
  authFailures: number;
  /** The maintenance mode (paused: writes refused, processing and retention held). */
  maintenance: MaintenanceState;
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((10000 * part) / whole) / 100;
}

function roundMs(value: number | null): number | null {
  return value === null ? null : Math.round(value * 100) / 100;
}

/** The alert rules of the contract (section 7), thresholds from ALERT_* settings. Pure, so it is unit-tested. */
export function evaluateAlerts(f: HealthFigures | null, t: AlertThresholds): AlertDto[] {
  if (f === null || f.database === 'down') {
    return [
      {
        severity: 'critical',
        rule: 'database_unreachable',
        message: 'The database is unreachable',
        value: 'down',
        threshold: null,
      },
    ];
  }
  const alerts: AlertDto[] = [];
  const successRate = forceSyncSuccessRate(f);
  if (f.forceSyncFinished > 0 && successRate < t.forceSyncSuccessRateMin) {
    alerts.push({
      severity: 'critical',
      rule: 'force_sync_success_rate',
      message: `Force sync success rate ${successRate}% over the last ${t.forceSyncWindowMinutes} min is below ${t.forceSyncSuccessRateMin}%`,
      value: successRate,
      threshold: t.forceSyncSuccessRateMin,
    });
  }
  const silentMs = f.lastWebhookAt === null ? null : f.now.getTime() - f.lastWebhookAt.getTime();
  if (f.activeWorkflows > 0 && (silentMs === null || silentMs >= t.noWebhookMinutes * 60_000)) {
    alerts.push({
      severity: 'critical',
      rule: 'no_webhook_events',
      message:
        silentMs === null
          ? `No webhook event ever received while ${f.activeWorkflows} workflow(s) are active`
          : `No webhook event for ${Math.floor(silentMs / 60_000)} min while ${f.activeWorkflows} workflow(s) are active`,
      value: silentMs === null ? null : Math.floor(silentMs / 60_000),
      threshold: t.noWebhookMinutes,
    });
  }
  if (f.authFailures > t.authFailuresMax) {
    alerts.push({
      severity: 'critical',
      rule: 'auth_failures',
      message: `${f.authFailures} authentication failures in the last ${t.authFailuresWindowMinutes} min (more than ${t.authFailuresMax})`,
      value: f.authFailures,
      threshold: t.authFailuresMax,
    });
  }
  if (f.forceSyncMaxResponseMs !== null && f.forceSyncMaxResponseMs > t.forceSyncResponseMs) {
    alerts.push({
      severity: 'warning',
      rule: 'force_sync_response_time',
      message: `A force sync took ${f.forceSyncMaxResponseMs} ms to answer in the last ${t.forceSyncWindowMinutes} min (more than ${t.forceSyncResponseMs} ms)`,
      value: f.forceSyncMaxResponseMs,
      threshold: t.forceSyncResponseMs,
    });
  }
  if (f.backlog > t.backlogMax) {
    alerts.push({
      severity: 'warning',
      rule: 'processing_backlog',
      message: `${f.backlog} events waiting to be processed (more than ${t.backlogMax})`,
      value: f.backlog,
      threshold: t.backlogMax,
    });
  }
  if (f.maintenance.mode === 'paused') {
    alerts.push({
      severity: 'warning',
      rule: 'maintenance_mode',
      message: `Maintenance mode is on${f.maintenance.since ? ` since ${f.maintenance.since.toISOString()}` : ''}: write operations are refused and events are stored but not processed${f.maintenance.reason ? ` (reason: ${f.maintenance.reason})` : ''}`,
      value: 'paused',
      threshold: null,
    });
  }
  const signatureRate = signatureFailureRate(f);
  if (signatureRate > t.signatureFailureRatePercent) {
    alerts.push({
      severity: 'warning',
      rule: 'signature_failure_rate',
      message: `${signatureRate}% of the last hour's deliveries had an invalid signature (more than ${t.signatureFailureRatePercent}%)`,
      value: signatureRate,
      threshold: t.signatureFailureRatePercent,
    });
  }
  return alerts;
}

function forceSyncSuccessRate(f: HealthFigures): number {
  // No finished force sync in the window: nothing failed, so the rate is 100 (and the alert stays quiet).
  return f.forceSyncFinished === 0 ? 100 : percent(f.forceSyncAccepted, f.forceSyncFinished);
}

const UNHEALTHY_RULES = new Set(['database_unreachable', 'no_webhook_events']);
const DEGRADED_RULES = new Set(['processing_backlog', 'signature_failure_rate']);

/**
 * The receiver's status: unhealthy when events cannot be stored or are not arriving while expected, degraded
 * when they arrive but pile up unprocessed or many fail the signature check.
 */
export function webhookStatusOf(alerts: AlertDto[]): SystemHealthDto['webhook_status'] {
  if (alerts.some((a) => UNHEALTHY_RULES.has(a.rule))) return 'unhealthy';
  if (alerts.some((a) => DEGRADED_RULES.has(a.rule))) return 'degraded';
  return 'healthy';
}

export function toSystemHealth(f: HealthFigures | null, alerts: AlertDto[]): SystemHealthDto {
  if (f === null || f.database === 'down') {
    return {
      webhook_status: 'unhealthy',
      recent_failure_rate: null,
      avg_processing_time: null,
      p95_processing_time: null,
      last_webhook_at: null,
      processing_backlog: null,
      signature_failure_rate: null,
      force_sync_success_rate: null,
      database: 'down',
      maintenance: null,
    };
  }
  return {
    webhook_status: webhookStatusOf(alerts),
    recent_failure_rate: percent(f.failedLastHour, f.eventsLastHour),
    avg_processing_time: roundMs(f.avgProcessingMs),
    p95_processing_time: roundMs(f.p95ProcessingMs),
    last_webhook_at: f.lastWebhookAt ? f.lastWebhookAt.toISOString() : null,
    processing_backlog: f.backlog,
    signature_failure_rate: signatureFailureRate(f),
    force_sync_success_rate: forceSyncSuccessRate(f),
    database: 'up',
    maintenance: {
      mode: f.maintenance.mode,
      since: f.maintenance.since ? f.maintenance.since.toISOString() : null,
      reason: f.maintenance.reason,
      by: f.maintenance.by,
    },
  };
}
