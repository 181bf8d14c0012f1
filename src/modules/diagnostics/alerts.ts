import type { AlertThresholds } from '../../config/settings';
import { signatureFailureRate } from '../webhooks/webhook-events.service';
import type { ServiceLevelFigures, ServiceLevelWindow } from '../workflows/workflows.service';
import type { AlertDto, SystemHealthDto } from './dto/last-webhook-response.dto';

/** Raw figures read from the database in one round trip (null everywhere when it is unreachable). */
export interface HealthFigures {
  database: 'up' | 'down';
  now: Date;
  eventsLastHour: number;
  failedLastHour: number;
  /** The last hour's events by processing outcome (pending ones are not judged yet). */
  processedLastHour: number;
  processingFailedLastHour: number;
  unmatchedLastHour: number;
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
  /** Workflows and agent runs finished in the last hour (alerts) and 24 hours (system_health). */
  serviceLevels: ServiceLevelFigures;
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
  alerts.push(...serviceLevelAlerts(f, t));
  return alerts;
}

/**
 * The service levels of contract section 15 over the last hour, as deploy/prometheus/alerts.yml has them
 * (WorkflowSuccessRateLow, AgentSuccessRateLow, WorkflowDurationSlow, EventProcessingSuccessLow). Nothing
 * finished in the hour: nothing to judge, no alert.
 */
function serviceLevelAlerts(f: HealthFigures, t: AlertThresholds): AlertDto[] {
  const alerts: AlertDto[] = [];
  const hour = f.serviceLevels.hour;
  const workflowRate = workflowSuccessRate(hour);
  if (workflowRate !== null && workflowRate < t.workflowSuccessRateMin) {
    alerts.push({
      severity: 'critical',
      rule: 'workflow_success_rate',
      message: `Workflow success rate ${workflowRate}% over the last hour (${hour.workflowsCompleted} of ${hour.workflowsFinished} completed) is below ${t.workflowSuccessRateMin}%`,
      value: workflowRate,
      threshold: t.workflowSuccessRateMin,
    });
  }
  const agentRate = agentSuccessRate(hour);
  if (agentRate !== null && agentRate < t.agentSuccessRateMin) {
    alerts.push({
      severity: 'warning',
      rule: 'agent_success_rate',
      message: `Agent success rate ${agentRate}% over the last hour (${hour.agentsCompleted} of ${hour.agentsFinished} agent runs completed) is below ${t.agentSuccessRateMin}%`,
      value: agentRate,
      threshold: t.agentSuccessRateMin,
    });
  }
  const p95Seconds = hour.p95DurationMs === null ? null : Math.round(hour.p95DurationMs / 100) / 10;
  if (p95Seconds !== null && p95Seconds > t.workflowP95DurationSeconds) {
    alerts.push({
      severity: 'warning',
      rule: 'workflow_duration_p95',
      message: `Workflows took ${p95Seconds} s (p95, creation to end) over the last hour, more than ${t.workflowP95DurationSeconds} s`,
      value: p95Seconds,
      threshold: t.workflowP95DurationSeconds,
    });
  }
  const processingRate = eventProcessingSuccessRate(f);
  if (processingRate !== null && processingRate < t.eventProcessingSuccessRateMin) {
    alerts.push({
      severity: 'warning',
      rule: 'event_processing_success_rate',
      message: `${processingRate}% of the last hour's handled events were processed (${f.processingFailedLastHour} failed, ${f.unmatchedLastHour} unmatched), below ${t.eventProcessingSuccessRateMin}%`,
      value: processingRate,
      threshold: t.eventProcessingSuccessRateMin,
    });
  }
  return alerts;
}

/** Completed out of finished workflows, percent; null when none finished. */
function workflowSuccessRate(w: ServiceLevelWindow): number | null {
  return w.workflowsFinished === 0 ? null : percent(w.workflowsCompleted, w.workflowsFinished);
}

/** Completed out of finished agent runs, percent; null when none finished. */
function agentSuccessRate(w: ServiceLevelWindow): number | null {
  return w.agentsFinished === 0 ? null : percent(w.agentsCompleted, w.agentsFinished);
}

/** Processed out of the last hour's handled events (processed, failed, unmatched), percent; null when none. */
function eventProcessingSuccessRate(f: HealthFigures): number | null {
  const handled = f.processedLastHour + f.processingFailedLastHour + f.unmatchedLastHour;
  return handled === 0 ? null : percent(f.processedLastHour, handled);
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
      workflow_success_rate: null,
      agent_success_rate: null,
      p95_workflow_duration_ms: null,
      database: 'down',
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
    workflow_success_rate: workflowSuccessRate(f.serviceLevels.day),
    agent_success_rate: agentSuccessRate(f.serviceLevels.day),
    p95_workflow_duration_ms:
      f.serviceLevels.day.p95DurationMs === null ? null : Math.round(f.serviceLevels.day.p95DurationMs),
    database: 'up',
  };
}
