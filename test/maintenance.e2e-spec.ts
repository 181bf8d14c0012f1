import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { OPAL_AGENTS } from '../src/domain/opal';
import { operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { waitFor } from './support/wait';
import { createWebhookTestApp, insertWorkflow, postSigned } from './support/webhooks';

const WORKFLOWS = 50;
/** One whole run per workflow: started, nine agents started and completed, completed (20 callbacks). */
const CALLBACKS_PER_WORKFLOW = 2 + 2 * OPAL_AGENTS.length;

function runOf(opalWorkflowId: string): string[] {
  const body = (fields: Record<string, unknown>) =>
    JSON.stringify({
      event_id: `evt-${randomUUID()}`,
      workflow_id: opalWorkflowId,
      workflow_name: 'strategy_workflow',
      timestamp: new Date().toISOString(),
      ...fields,
    });
  return [
    body({ event_type: 'workflow_started' }),
    ...OPAL_AGENTS.flatMap((agent_id) => [
      body({ event_type: 'agent_started', agent_id }),
      body({ event_type: 'agent_completed', agent_id, execution_status: 'success' }),
    ]),
    body({ event_type: 'workflow_completed' }),
  ];
}

describe('maintenance mode across two instances (e2e)', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await createWebhookTestApp();
    b = await createWebhookTestApp();
    await resetDatabase(a.dataSource);
  });
  afterAll(async () => {
    await request(a.url).put('/api/maintenance').set(operatorHeaders()).send({ mode: 'normal' });
    await resetDatabase(a.dataSource);
    await a.close();
    await b.close();
  });

  const setMode = (t: TestApp, mode: string, reason?: string) =>
    request(t.url)
      .put('/api/maintenance')
      .set(operatorHeaders())
      .send(reason === undefined ? { mode } : { mode, reason });
  const forceSync = (t: TestApp) =>
    request(t.url)
      .post('/api/opal/sync')
      .set(operatorHeaders())
      .send({ allow_concurrent: true, client_context: { client_name: `maintenance ${randomUUID()}` } });

  it('starts normal, refuses an unknown mode with 400, and sets the mode with who, when and why (audited)', async () => {
    const initial = await request(a.url).get('/api/maintenance').set(operatorHeaders()).expect(200);
    expect(initial.body).toEqual({ mode: 'normal', since: null, reason: null, by: null });
    expect((await setMode(a, 'frozen').expect(400)).body.code).toBe('VALIDATION_FAILED');
    const paused = await setMode(a, 'paused', 'audit check').expect(200);
    expect(paused.body).toMatchObject({
      mode: 'paused',
      reason: 'audit check',
      by: expect.stringMatching(/^key:/),
    });
    expect(Date.parse(paused.body.since)).not.toBeNaN();
    const normal = await setMode(a, 'normal').expect(200);
    expect(normal.body).toMatchObject({ mode: 'normal', reason: null });
    const audit = await a.dataSource.query<{ details: unknown }[]>(
      `SELECT details FROM audit_log WHERE action = 'maintenance' ORDER BY id`,
    );
    expect(audit.map((r) => r.details)).toEqual([
      { mode: 'paused', reason: 'audit check' },
      { mode: 'normal', reason: null },
    ]);
  });

  it('a force sync on either instance is refused within a second of the switch; 1,000 callbacks during the pause are stored, then processed in received order', async () => {
    const workflows = await Promise.all(
      Array.from({ length: WORKFLOWS }, () => insertWorkflow(a.dataSource, { status: 'triggered' })),
    );
    // Both instances have read the mode (normal) just now: each would otherwise trust it for half a second.
    await forceSync(a).expect(200);
    await forceSync(b).expect(200);

    await setMode(a, 'paused', 'restoring the database').expect(200);
    const switched = Date.now();
    const refusedAt: Record<string, number> = {};
    await waitFor(
      async () => {
        for (const [name, t] of [
          ['a', a],
          ['b', b],
        ] as const) {
          if (refusedAt[name] !== undefined) continue;
          const res = await forceSync(t);
          if (res.status === 503) {
            refusedAt[name] = Date.now() - switched;
            expect(res.body).toMatchObject({ success: false, code: 'MAINTENANCE_MODE' });
            expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
          } else expect([200, 202]).toContain(res.status);
        }
        return Object.keys(refusedAt).length === 2;
      },
      'force sync refused on both instances',
      { timeoutMs: 5000, intervalMs: 20 },
    );
    expect(refusedAt.a).toBeLessThanOrEqual(1000);
    expect(refusedAt.b).toBeLessThanOrEqual(1000);

    // 1,000 callbacks, spread over both instances, 16 at a time: every one is stored (202) while paused.
    const bodies = workflows.flatMap((w) => runOf(w.opalWorkflowId!));
    expect(bodies).toHaveLength(WORKFLOWS * CALLBACKS_PER_WORKFLOW);
    expect(bodies).toHaveLength(1000);
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < bodies.length) {
          const i = next++;
          const res = await postSigned(i % 2 === 0 ? a.url : b.url, bodies[i]);
          statuses.push(res.status);
        }
      }),
    );
    expect(statuses.filter((s) => s === 202)).toHaveLength(1000);

    const counts = async () =>
      (
        await a.dataSource.query<{ status: string; n: number }[]>(
          `SELECT processing_status AS status, count(*)::int AS n FROM webhook_events
            WHERE workflow_ref = ANY($1::text[]) GROUP BY 1`,
          [workflows.map((w) => w.opalWorkflowId)],
        )
      ).reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status]: r.n }), {});
    // The processors on both instances had their passes while the callbacks arrived: none was applied.
    expect(await counts()).toEqual({ pending: 1000 });
    const statusesNow = await a.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM workflows WHERE id = ANY($1::uuid[]) AND status = 'triggered'`,
      [workflows.map((w) => w.id)],
    );
    expect(statusesNow[0].n).toBe(WORKFLOWS);

    // Reads, health and readiness keep working, and say it is paused.
    await request(b.url).get('/api/health/ready').expect(200);
    const diagnostics = await request(b.url)
      .get('/api/diagnostics/last-webhook?limit=1')
      .set(operatorHeaders())
      .expect(200);
    expect(diagnostics.body.system_health.maintenance).toMatchObject({
      mode: 'paused',
      reason: 'restoring the database',
    });
    expect(diagnostics.body.alerts).toContainEqual(
      expect.objectContaining({ severity: 'warning', rule: 'maintenance_mode' }),
    );
    const metrics = await request(b.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^maintenance_mode 1$/m);

    await setMode(b, 'normal').expect(200);
    await waitFor(async () => (await counts()).processed === 1000, '1,000 events processed after resume', {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const done = await a.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM workflows WHERE id = ANY($1::uuid[]) AND status = 'completed'`,
      [workflows.map((w) => w.id)],
    );
    expect(done[0].n).toBe(WORKFLOWS);
    // Received order: a later event (higher sequence) was never applied before an earlier one.
    const inversions = await a.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM (
         SELECT processed_at, lag(processed_at) OVER (ORDER BY sequence) AS before FROM webhook_events
          WHERE workflow_ref = ANY($1::text[])) s
        WHERE processed_at < before`,
      [workflows.map((w) => w.opalWorkflowId)],
    );
    expect(inversions[0].n).toBe(0);
    expect((await request(a.url).get('/metrics').expect(200)).text).toMatch(/^maintenance_mode 0$/m);
    await forceSync(a).expect(200);
    await forceSync(b).expect(200);
  });

  it('refuses every write route with 503 MAINTENANCE_MODE and Retry-After while paused; a restarted instance still obeys', async () => {
    const active = await insertWorkflow(a.dataSource, { status: 'running' });
    const finished = await insertWorkflow(a.dataSource, { status: 'completed' });
    await setMode(a, 'paused', 'write routes').expect(200);
    const writes = (t: TestApp) => [
      forceSync(t),
      request(t.url)
        .post('/api/orchestrations/trigger')
        .set(operatorHeaders())
        .send({ workflow_name: 'strategy_workflow', session_id: 's-1' }),
      request(t.url).post(`/api/opal/sync/${active.id}/cancel`).set(operatorHeaders()).send({}),
      request(t.url).post(`/api/opal/sync/${finished.id}/rerun`).set(operatorHeaders()),
      request(t.url)
        .post('/api/orchestrations/replay')
        .set(operatorHeaders())
        .send({ workflow_id: active.id }),
      request(t.url)
        .post('/api/orchestrations/replay')
        .set(operatorHeaders())
        .send({ selection: { status: ['running', 'completed'] } }),
      request(t.url)
        .post('/api/orchestrations/replay')
        .set(operatorHeaders())
        .send({ selection: { status: ['running'] }, dry_run: true }),
      request(t.url)
        .post('/api/diagnostics/last-webhook')
        .set(operatorHeaders())
        .send({ action: 'cleanup_old_events', retention_days: 30 }),
    ];
    const restarted = await createWebhookTestApp();
    try {
      for (const t of [a, b, restarted]) {
        await waitFor(async () => (await forceSync(t)).status === 503, 'paused seen');
        for (const res of await Promise.all(writes(t))) {
          expect({ status: res.status, code: res.body.code }).toEqual({
            status: 503,
            code: 'MAINTENANCE_MODE',
          });
          expect(res.headers['retry-after']).toMatch(/^\d+$/);
        }
      }
      // A dry run of the cleanup deletes nothing, so it is still answered.
      await request(restarted.url)
        .post('/api/diagnostics/last-webhook')
        .set(operatorHeaders())
        .send({ action: 'cleanup_old_events', retention_days: 30, dry_run: true })
        .expect(200);
      const mode = await request(restarted.url).get('/api/maintenance').set(operatorHeaders()).expect(200);
      expect(mode.body).toMatchObject({ mode: 'paused', reason: 'write routes' });
      expect(
        (await request(a.url).get(`/api/opal/sync/${active.id}`).set(operatorHeaders())).body.status,
      ).toBe('running');
    } finally {
      await restarted.close();
    }
    await setMode(b, 'normal').expect(200);
    await waitFor(
      async () =>
        (await request(a.url).post(`/api/opal/sync/${active.id}/cancel`).set(operatorHeaders())).status ===
        200,
      'cancel allowed again',
    );
  });
});
