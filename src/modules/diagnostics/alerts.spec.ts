import type { AlertThresholds } from '../../config/settings';
import type { ServiceLevelWindow } from '../workflows/workflows.service';
import { evaluateAlerts, toSystemHealth, webhookStatusOf, type HealthFigures } from './alerts';
import { eventCursorOf, parseEventCursor } from '../webhooks/dto/event-cursor';

const thresholds: AlertThresholds = {
  forceSyncSuccessRateMin: 90,
  forceSyncWindowMinutes: 15,
  noWebhookMinutes: 60,
  authFailuresMax: 5,
  authFailuresWindowMinutes: 10,
  forceSyncResponseMs: 5000,
  backlogMax: 100,
  signatureFailureRatePercent: 10,
  workflowSuccessRateMin: 90,
  agentSuccessRateMin: 95,
  workflowP95DurationSeconds: 480,
  eventProcessingSuccessRateMin: 99,
};

const window = (w: Partial<ServiceLevelWindow> = {}): ServiceLevelWindow => ({
  workflowsFinished: 20,
  workflowsCompleted: 19,
  agentsFinished: 180,
  agentsCompleted: 176,
  p95DurationMs: 300_000,
  ...w,
});
const hour = (w: Partial<ServiceLevelWindow>): Pick<HealthFigures, 'serviceLevels'> => ({
  serviceLevels: { hour: window(w), day: window() },
});

const now = new Date('2026-01-01T12:00:00Z');
const quiet: HealthFigures = {
  database: 'up',
  now,
  eventsLastHour: 100,
  failedLastHour: 0,
  processedLastHour: 100,
  processingFailedLastHour: 0,
  unmatchedLastHour: 0,
  avgProcessingMs: 12,
  p95ProcessingMs: 30,
  lastWebhookAt: new Date(now.getTime() - 60_000),
  backlog: 0,
  signatureRejectedLastHour: 0,
  rejectedLastHour: 0,
  forceSyncAccepted: 10,
  forceSyncFinished: 10,
  forceSyncMaxResponseMs: 900,
  activeWorkflows: 1,
  authFailures: 0,
  serviceLevels: { hour: window(), day: window() },
};
const rules = (f: HealthFigures) => evaluateAlerts(f, thresholds).map((a) => `${a.severity}:${a.rule}`);

describe('evaluateAlerts', () => {
  it('is quiet when every figure is within its threshold', () => {
    expect(rules(quiet)).toEqual([]);
    expect(webhookStatusOf([])).toBe('healthy');
  });

  it('fires each rule strictly past its threshold', () => {
    expect(rules({ ...quiet, forceSyncAccepted: 8 })).toEqual(['critical:force_sync_success_rate']);
    expect(rules({ ...quiet, forceSyncAccepted: 9 })).toEqual([]); // exactly 90 %
    expect(rules({ ...quiet, authFailures: 6 })).toEqual(['critical:auth_failures']);
    expect(rules({ ...quiet, authFailures: 5 })).toEqual([]);
    expect(rules({ ...quiet, forceSyncMaxResponseMs: 5001 })).toEqual(['warning:force_sync_response_time']);
    expect(rules({ ...quiet, backlog: 101 })).toEqual(['warning:processing_backlog']);
    expect(rules({ ...quiet, backlog: 100 })).toEqual([]);
    // 12 of (100 + 12) = 10.71 %
    expect(rules({ ...quiet, signatureRejectedLastHour: 12, rejectedLastHour: 12 })).toEqual([
      'warning:signature_failure_rate',
    ]);
  });

  it('no_webhook_events needs both silence and an active workflow', () => {
    const silent = { ...quiet, lastWebhookAt: new Date(now.getTime() - 61 * 60_000) };
    expect(rules(silent)).toEqual(['critical:no_webhook_events']);
    expect(evaluateAlerts(silent, thresholds)[0].value).toBe(61);
    expect(rules({ ...silent, activeWorkflows: 0 })).toEqual([]);
    expect(rules({ ...quiet, lastWebhookAt: null })).toEqual(['critical:no_webhook_events']);
  });

  it('does not judge the force sync rate when no force sync finished', () => {
    expect(rules({ ...quiet, forceSyncAccepted: 0, forceSyncFinished: 0 })).toEqual([]);
    expect(
      toSystemHealth({ ...quiet, forceSyncAccepted: 0, forceSyncFinished: 0 }, []).force_sync_success_rate,
    ).toBe(100);
  });

  it('reports an unreachable database as the only, critical, alert and an unhealthy receiver', () => {
    const down = { ...quiet, database: 'down' as const };
    const alerts = evaluateAlerts(down, thresholds);
    expect(alerts).toEqual([
      {
        severity: 'critical',
        rule: 'database_unreachable',
        message: expect.any(String),
        value: 'down',
        threshold: null,
      },
    ]);
    expect(toSystemHealth(down, alerts)).toMatchObject({ database: 'down', webhook_status: 'unhealthy' });
  });

  it('fires the service levels of the last hour strictly past their thresholds', () => {
    // Workflow success: critical below 90 %.
    expect(rules({ ...quiet, ...hour({ workflowsCompleted: 17 }) })).toEqual([
      'critical:workflow_success_rate',
    ]);
    expect(rules({ ...quiet, ...hour({ workflowsCompleted: 18 }) })).toEqual([]); // exactly 90 %
    // Agent success: warning below 95 %.
    expect(rules({ ...quiet, ...hour({ agentsCompleted: 170 }) })).toEqual(['warning:agent_success_rate']);
    expect(rules({ ...quiet, ...hour({ agentsCompleted: 171 }) })).toEqual([]); // exactly 95 %
    // p95 duration: warning above 8 minutes.
    expect(rules({ ...quiet, ...hour({ p95DurationMs: 480_100 }) })).toEqual([
      'warning:workflow_duration_p95',
    ]);
    expect(rules({ ...quiet, ...hour({ p95DurationMs: 480_000 }) })).toEqual([]);
    // Event processing: warning below 99 % of processed + failed + unmatched.
    expect(
      rules({ ...quiet, processedLastHour: 98, unmatchedLastHour: 1, processingFailedLastHour: 1 }),
    ).toEqual(['warning:event_processing_success_rate']);
    expect(rules({ ...quiet, processedLastHour: 99, unmatchedLastHour: 1 })).toEqual([]); // exactly 99 %
  });

  it('names the figures in the service-level alerts', () => {
    const [alert] = evaluateAlerts({ ...quiet, ...hour({ workflowsCompleted: 10 }) }, thresholds);
    expect(alert).toEqual({
      severity: 'critical',
      rule: 'workflow_success_rate',
      message: 'Workflow success rate 50% over the last hour (10 of 20 completed) is below 90%',
      value: 50,
      threshold: 90,
    });
  });

  it('judges no service level when nothing finished in the hour', () => {
    const idle = hour({
      workflowsFinished: 0,
      workflowsCompleted: 0,
      agentsFinished: 0,
      agentsCompleted: 0,
      p95DurationMs: null,
    });
    expect(rules({ ...quiet, ...idle, processedLastHour: 0 })).toEqual([]);
  });

  it("reports the last 24 hours' service levels in system_health, null when nothing finished", () => {
    const day = window({
      workflowsFinished: 8,
      workflowsCompleted: 7,
      agentsCompleted: 171,
      p95DurationMs: 1234.6,
    });
    const health = toSystemHealth({ ...quiet, serviceLevels: { hour: window(), day } }, []);
    expect(health).toMatchObject({
      workflow_success_rate: 87.5,
      agent_success_rate: 95,
      p95_workflow_duration_ms: 1235,
    });
    const none = window({
      workflowsFinished: 0,
      workflowsCompleted: 0,
      agentsFinished: 0,
      agentsCompleted: 0,
    });
    expect(
      toSystemHealth({ ...quiet, serviceLevels: { hour: none, day: { ...none, p95DurationMs: null } } }, []),
    ).toMatchObject({
      workflow_success_rate: null,
      agent_success_rate: null,
      p95_workflow_duration_ms: null,
    });
  });

  it('degrades the receiver on backlog or signature failures', () => {
    const alerts = evaluateAlerts({ ...quiet, backlog: 500 }, thresholds);
    expect(webhookStatusOf(alerts)).toBe('degraded');
  });
});

describe('event cursor', () => {
  it('accepts the plain sequence and its base64url form, nothing else', () => {
    expect(parseEventCursor(eventCursorOf(12345))).toBe('12345');
    expect(parseEventCursor(Buffer.from('12345').toString('base64url'))).toBe('12345');
    for (const bad of ['', '0', '-1', '1.5', 'abc!', 'YWJj', '9'.repeat(19)])
      expect(parseEventCursor(bad)).toBeNull();
  });
});
