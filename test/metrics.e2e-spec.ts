import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module';
import { appOptions, configureApp, createHttpAdapter } from '../src/app.setup';
import { loadSettings } from '../src/config/settings';
import { EventProcessorService } from '../src/modules/webhooks/event-processor.service';
import {
  baseTestEnv,
  createTestApp,
  freePort,
  operatorHeaders,
  resetDatabase,
  type TestApp,
} from './support/app';
import { waitFor } from './support/wait';
import { createWebhookTestApp, insertWorkflow, postSigned } from './support/webhooks';

/** Value of one exact series line of the exposition (`name{labels} value`); null when absent. */
function valueOf(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

describe('GET /metrics (e2e)', () => {
  let t: TestApp;
  const scrape = async () => (await request(t.url).get('/metrics').expect(200)).text;

  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_READ_PER_MIN: '50' });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('is public, Prometheus text, not cached', async () => {
    const res = await request(t.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('# TYPE http_requests_total counter');
  });

  it('exposes every named series, and each one moves with the traffic that feeds it', async () => {
    const sync = await request(t.url).post('/api/opal/sync').set(operatorHeaders()).send({}).expect(200);
    const syncId = sync.body.sync_id as string;
    await waitFor(async () => {
      const res = await request(t.url).get(`/api/opal/sync/${syncId}`).set(operatorHeaders());
      return res.body.status === 'completed';
    }, 'the simulated workflow to complete');

    const event = JSON.stringify({
      event_id: `evt-${randomUUID()}`,
      event_type: 'workflow_started',
      workflow_id: `opal-wf-${randomUUID()}`,
      workflow_name: 'strategy_workflow',
    });
    await postSigned(t.url, event).expect(202);
    await postSigned(t.url, event).expect((res) => expect([200, 409]).toContain(res.status));
    await postSigned(t.url, event, { signature: `t=${Date.now()},v1=${'0'.repeat(64)}` }).expect(401);
    await request(t.url)
      .get('/api/opal/syncs')
      .set('Authorization', `Bearer ${'x'.repeat(40)}`)
      .expect(401);
    for (let i = 0; i < 51; i++) await request(t.url).get('/api/opal/syncs').set(operatorHeaders());

    const text = await scrape();
    const expectAtLeast = (series: string, min: number): void => {
      const value = valueOf(text, series);
      expect([series, value !== null && value >= min]).toEqual([series, true]);
    };

    expectAtLeast('http_requests_total{method="POST",route="/api/opal/sync",status="200"}', 1);
    expectAtLeast(
      'http_request_duration_seconds_count{method="POST",route="/api/opal/sync",status="200"}',
      1,
    );
    expectAtLeast('force_sync_requests_total{endpoint="force_sync",outcome="accepted"}', 1);
    expectAtLeast('opal_trigger_attempts_total{outcome="accepted",status_code="200"}', 1);
    expectAtLeast('opal_trigger_duration_seconds_count', 1);
    expectAtLeast('webhook_events_total{result="accepted"}', 10);
    expectAtLeast('webhook_events_total{result="duplicate"}', 1);
    expectAtLeast('webhook_events_total{result="rejected",reason="signature_invalid"}', 1);
    expectAtLeast('webhook_processing_lag_seconds_count', 10);
    expectAtLeast('auth_failures_total{route="/api/opal/syncs"}', 1);
    expectAtLeast('rate_limited_total{group="read"}', 1);
    expectAtLeast('database_up', 1);
    // Sampled from the database at scrape time; their values are checked below, against known rows.
    expect(valueOf(text, 'webhook_processing_backlog')).not.toBeNull();
    expect(valueOf(text, 'workflows_active')).not.toBeNull();
    expect(text).toContain('# TYPE rate_limiter_storage_errors_total counter');
  });
});

describe('GET /metrics: gauges sampled from the database (e2e)', () => {
  let t: TestApp;
  const gauges = async (): Promise<{ backlog: number | null; active: number | null }> => {
    const text = (await request(t.url).get('/metrics').expect(200)).text;
    return {
      backlog: valueOf(text, 'webhook_processing_backlog'),
      active: valueOf(text, 'workflows_active'),
    };
  };

  beforeAll(async () => {
    // Processing off, so that the table only changes when the test changes it.
    t = await createWebhookTestApp({ processorEnabled: false });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('follows the pending events and the triggered/running workflows at every scrape, both ways', async () => {
    expect(await gauges()).toEqual({ backlog: 0, active: 0 });

    const pending = (from: number, to: number) =>
      t.dataSource.query(
        `INSERT INTO webhook_events (id, idempotency_key, event_type, workflow_ref, status, occurred_at,
                                     processing_status, payload)
         SELECT gen_random_uuid(), 'metrics-backlog-' || g, 'workflow_started', 'metrics-backlog', 'pending', now(),
                'pending', '{}'::jsonb
           FROM generate_series($1::int, $2::int) g`,
        [from, to],
      );
    await pending(1, 3);
    const running = await insertWorkflow(t.dataSource, { status: 'running' });
    await insertWorkflow(t.dataSource, { status: 'running' });
    await insertWorkflow(t.dataSource, { status: 'triggered' });
    await insertWorkflow(t.dataSource, { status: 'completed' });
    await insertWorkflow(t.dataSource, { status: 'pending', triggered: false });
    expect(await gauges()).toEqual({ backlog: 3, active: 3 });

    await pending(4, 5);
    await t.dataSource.query(`UPDATE workflows SET status = 'completed' WHERE id = $1`, [running.id]);
    expect(await gauges()).toEqual({ backlog: 5, active: 2 });

    // Processed (their workflow is unknown: unmatched), so no longer pending.
    expect(await t.app.get(EventProcessorService).drain()).toBe(5);
    expect(await gauges()).toEqual({ backlog: 0, active: 2 });
  });
});

describe('GET /metrics on its own port, METRICS_PORT (e2e)', () => {
  let t: TestApp;
  let metricsUrl: string;

  beforeAll(async () => {
    const metricsPort = await freePort();
    t = await createTestApp({ METRICS_PORT: String(metricsPort) });
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the exposition on the metrics port, with what the API port counted', async () => {
    await request(t.url).get('/api/health/live').expect(200);
    const res = await request(metricsUrl).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toMatch(
      /^http_requests_total\{method="GET",route="\/api\/health\/live",status="200"\} [1-9]/m,
    );
    expect(res.text).toMatch(/^database_up 1$/m);
    await request(metricsUrl).head('/metrics').expect(200);
  });

  it('answers 404 with the error body for /metrics on the API port', async () => {
    const res = await request(t.url).get('/metrics').expect(404);
    expect(res.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect(res.text).not.toContain('http_requests_total');
  });

  it('serves nothing else on the metrics port', async () => {
    for (const path of ['/', '/api/health', '/api/opal/syncs', '/metrics/', '/docs']) {
      const res = await request(metricsUrl).get(path).expect(404);
      expect([path, res.body.code]).toEqual([path, 'NOT_FOUND']);
    }
    const post = await request(metricsUrl).post('/metrics').send('{}').expect(404);
    expect(post.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
    expect(post.headers['x-correlation-id']).toMatch(/^req-/);
  });

  it('frees the metrics port when the app closes', async () => {
    const port = await freePort();
    const app = await createTestApp({ METRICS_PORT: String(port) });
    await request(`http://127.0.0.1:${port}`).get('/metrics').expect(200);
    await app.close();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  it('refuses to start when the metrics port is taken', async () => {
    const blocker = createServer();
    const taken = await new Promise<number>((resolve) =>
      blocker.listen(0, () => resolve((blocker.address() as { port: number }).port)),
    );
    const port = await freePort();
    const settings = loadSettings({ ...(await baseTestEnv(port)), METRICS_PORT: String(taken) });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(settings)] }).compile();
    const app = moduleRef.createNestApplication(
      createHttpAdapter(),
      appOptions(false, () => undefined),
    );
    try {
      // The metrics server starts with the app (configureApp initialises it), before the API listens.
      await expect(configureApp(app).then(() => app.listen(port, '127.0.0.1'))).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await app.close();
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
