import type { AuthFailuresService } from '../../audit/auth-failures.service';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../config/app-config';
import { AnalyticsReader } from '../../database/analytics-reader';
import { OpalBreakerService } from '../opal/opal-breaker.service';
import { MetricsService } from '../../metrics/metrics.service';
import { WebhookEventsRepository } from '../webhooks/webhook-events.repository';
import { WebhookEventsService } from '../webhooks/webhook-events.service';
import { WorkflowsRepository } from '../workflows/workflows.repository';
import { WorkflowsService } from '../workflows/workflows.service';
import { MaintenanceModeService } from '../maintenance/maintenance-mode.service';
import { DiagnosticsService } from './diagnostics.service';
import { SystemHealthService } from './system-health.service';

// The database-down path cannot be produced on the shared test database without breaking other suites, so
// here the connection itself is the stub: every query fails as a refused connection does.
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const downDataSource = { query: () => Promise.reject(refused) } as unknown as DataSource;
const audit = { countSince: () => Promise.reject(refused) } as unknown as AuthFailuresService;

/** The owners' real services, over the given connection. */
function owners(dataSource: DataSource): { events: WebhookEventsService; workflows: WorkflowsService } {
  // No replica configured: the reader sends every analytics read to this connection.
  const reader = new AnalyticsReader(dataSource, { ...config, readReplica: null });
  const workflows = new WorkflowsService(
    null as never,
    null as never,
    null as never,
    new WorkflowsRepository(dataSource, reader),
    config,
  );
  return {
    workflows,
    events: new WebhookEventsService(dataSource, new WebhookEventsRepository(dataSource, reader), workflows),
  };
}
const config = {
  workflowTimeoutMinutes: 10,
  alerts: {
    forceSyncSuccessRateMin: 90,
    forceSyncWindowMinutes: 15,
    noWebhookMinutes: 60,
    authFailuresMax: 5,
    authFailuresWindowMinutes: 10,
    forceSyncResponseMs: 5000,
    backlogMax: 100,
    signatureFailureRatePercent: 10,
  },
} as unknown as AppConfig;

const noReplica = new AnalyticsReader(downDataSource, { readReplica: null } as unknown as AppConfig);
const breaker = new OpalBreakerService(
  { opal: { breakerFailures: 5, breakerCooldownMs: 30000 } } as unknown as AppConfig,
  new MetricsService(),
);

describe('diagnostics with the database unreachable', () => {
  it('answers with database down and the critical alert instead of failing', async () => {
    const { events, workflows } = owners(downDataSource);
    const health = new SystemHealthService(
      downDataSource,
      events,
      workflows,
      audit,
      config,
      noReplica,
      breaker,
      new MaintenanceModeService(downDataSource, null as never),
    );
    const diagnostics = new DiagnosticsService(events, health);
    const answer = await diagnostics.lastWebhook({ limit: 10, status: 'all', include_payload: false });
    expect(answer.events).toEqual([]);
    expect(answer.summary).toEqual({ matched_count: null, matched_count_capped: false, returned_count: 0 });
    expect(answer.system_health).toMatchObject({
      database: 'down',
      webhook_status: 'unhealthy',
      processing_backlog: null,
    });
    expect(answer.alerts).toEqual([
      expect.objectContaining({ severity: 'critical', rule: 'database_unreachable' }),
    ]);
  });

  it('still fails loudly when a query fails while the database answers', async () => {
    const broken = {
      query: (sql: string) =>
        sql === 'SELECT 1' ? Promise.resolve([{}]) : Promise.reject(new Error('syntax error')),
    } as unknown as DataSource;
    const { events, workflows } = owners(broken);
    const answeringAudit = { countSince: () => Promise.resolve(0) } as unknown as AuthFailuresService;
    const health = new SystemHealthService(
      broken,
      events,
      workflows,
      answeringAudit,
      config,
      noReplica,
      breaker,
      new MaintenanceModeService(broken, null as never),
    );
    await expect(health.figures()).rejects.toThrow('syntax error');
  });
});
