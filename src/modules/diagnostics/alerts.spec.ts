import type { AlertThresholds } from '../../config/settings';
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
};

const now = new Date('2026-01-01T12:00:00Z');
const quiet: HealthFigures = {
  database: 'up',
  now,
  eventsLastHour: 100,
  failedLastHour: 0,
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
  maintenance: { mode: 'normal', since: null, reason: null, by: null },
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

  it('warns while maintenance mode is on, and shows the mode in system_health', () => {
    const since = new Date(now.getTime() - 5 * 60_000);
    const paused = {
      ...quiet,
      maintenance: { mode: 'paused' as const, since, reason: 'restore', by: 'key:0123456789abcdef' },
    };
    const alerts = evaluateAlerts(paused, thresholds);
    expect(alerts.map((a) => `${a.severity}:${a.rule}`)).toEqual(['warning:maintenance_mode']);
    expect(alerts[0].message).toContain('restore');
    expect(toSystemHealth(paused, alerts)).toMatchObject({
      webhook_status: 'healthy',
      maintenance: {
        mode: 'paused',
        since: since.toISOString(),
        reason: 'restore',
        by: 'key:0123456789abcdef',
      },
    });
    expect(toSystemHealth(quiet, []).maintenance).toEqual({
      mode: 'normal',
      since: null,
      reason: null,
      by: null,
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
