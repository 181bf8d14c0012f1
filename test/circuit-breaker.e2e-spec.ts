import request from 'supertest';
import { WEBHOOK_PATH } from '../src/domain/routes';
import {
  createTestApp,
  freePort,
  operatorHeaders,
  resetDatabase,
  TEST_OPAL_KEY,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';
import { SimulatorProcess } from './support/simulator-process';
import { waitFor } from './support/wait';

const FAILURES = 3;
const COOLDOWN_MS = 5000;

interface Breaker {
  enabled: boolean;
  state: 'closed' | 'open' | 'half_open';
  consecutive_failures: number;
  probe_at: string | null;
}

describe('circuit breaker on OPAL, with the standalone simulator stopped and restarted (e2e)', () => {
  let t: TestApp;
  let opal: SimulatorProcess;
  const syncIds: string[] = [];

  const breaker = async (): Promise<Breaker> =>
    (await request(t.url).get('/api/opal/sync').set(operatorHeaders()).expect(200)).body
      .circuit_breaker as Breaker;
  const forceSync = (n: number) =>
    request(t.url)
      .post('/api/opal/sync')
      .set(operatorHeaders())
      .send({ client_context: { client_name: `breaker-${n}` } });

  beforeAll(async () => {
    opal = new SimulatorProcess(await freePort(), {
      OSA_WEBHOOK_SHARED_SECRET: TEST_WEBHOOK_SECRET,
      OPAL_STRATEGY_WORKFLOW_AUTH_KEY: TEST_OPAL_KEY,
    });
    // OPAL is down from the start: nothing listens on its port yet.
    t = await createTestApp({
      OPAL_WEBHOOK_URL: opal.triggerUrl,
      OPAL_BREAKER_FAILURES: String(FAILURES),
      OPAL_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
      OPAL_TIMEOUT_MS: '1000',
      OPAL_RETRY_BASE_DELAY_MS: '100',
      OPAL_RETRY_MAX_DELAY_MS: '400',
      OPAL_MAX_ATTEMPTS: '100',
    });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await opal.stop();
    await t.close();
  });

  it('is closed while nothing failed, and says it is per instance', async () => {
    expect(await breaker()).toMatchObject({
      enabled: true,
      state: 'closed',
      consecutive_failures: 0,
      failure_threshold: FAILURES,
      cooldown_ms: COOLDOWN_MS,
      scope: 'instance',
    });
  });

  it('opens after consecutive failed calls while OPAL is down', async () => {
    for (let n = 0; n < FAILURES; n++) {
      const res = await forceSync(n).expect(202);
      expect(res.body.sync_details.external_opal).toMatchObject({ status: 'retry_scheduled', attempts: 1 });
      syncIds.push(res.body.sync_id as string);
    }
    const open = await waitFor(async () => {
      const b = await breaker();
      return b.state !== 'closed' ? b : null;
    }, 'the breaker to open');
    expect(open.consecutive_failures).toBeGreaterThanOrEqual(FAILURES);
    expect(open.probe_at).not.toBeNull();
  });

  it('answers a force sync 202 at once while open: no call made, the first one scheduled for the probe', async () => {
    // Ask while a good part of the cooldown is left, so this request cannot be the probe.
    await waitFor(
      async () => {
        const b = await breaker();
        return b.state === 'open' && Date.parse(b.probe_at!) - Date.now() > COOLDOWN_MS / 2;
      },
      'an open breaker with most of its cooldown left',
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const res = await forceSync(99).expect(202);
    const external = res.body.sync_details.external_opal;
    expect(external).toMatchObject({ status: 'retry_scheduled', attempts: 0, triggered: false });
    expect(external.last_error).toMatch(/circuit breaker open/);
    expect(Date.parse(external.next_attempt_at as string)).toBeGreaterThan(Date.now());
    expect(res.body.sync_details.telemetry.external_duration_ms).toBe(0);
    syncIds.push(res.body.sync_id as string);
    const attempts: unknown[] = await t.dataSource.query(
      'SELECT 1 FROM trigger_attempts WHERE workflow_id = $1',
      [res.body.sync_id],
    );
    expect(attempts).toHaveLength(0);

    const diagnostics = await request(t.url)
      .get('/api/diagnostics/last-webhook?limit=1')
      .set(operatorHeaders())
      .expect(200);
    expect(diagnostics.body.system_health.opal_circuit_breaker.state).not.toBe('closed');
    expect(diagnostics.body.alerts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ severity: 'warning', rule: 'opal_circuit_breaker_open' }),
      ]),
    );
    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/opal_circuit_breaker_short_circuits_total [1-9]/);
    expect(metrics.text).toMatch(/opal_circuit_breaker_state\{state="closed"\} 0/);
    const health = await request(t.url).get('/api/health').expect(200);
    expect(health.body.details.opal_circuit_breaker.status).toBe('degraded');
  });

  it('probes once OPAL is back, closes, and every scheduled trigger is delivered exactly once', async () => {
    await opal.stop(); // (still down; a no-op)
    const restarted = new SimulatorProcess(opal.port, {
      OSA_WEBHOOK_SHARED_SECRET: TEST_WEBHOOK_SECRET,
      OPAL_STRATEGY_WORKFLOW_AUTH_KEY: TEST_OPAL_KEY,
      OPAL_SIMULATOR_CALLBACK_URL: `${t.url}${WEBHOOK_PATH}`,
    });
    opal = restarted;
    await opal.start();
    await waitFor(async () => (await breaker()).state === 'closed', 'the breaker to close', {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const rows: { id: string; status: string; accepted: number }[] = await waitFor(
      async () => {
        const found: { id: string; status: string; accepted: number }[] = await t.dataSource.query(
          `SELECT w.id, w.status,
                  (SELECT count(*)::int FROM trigger_attempts a WHERE a.workflow_id = w.id AND a.outcome = 'accepted')
                    AS accepted
             FROM workflows w WHERE w.id = ANY($1::uuid[])`,
          [syncIds],
        );
        return found.every((r) => r.status !== 'pending') ? found : null;
      },
      'every scheduled trigger delivered',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(rows).toHaveLength(syncIds.length);
    for (const row of rows) expect(row.accepted).toBe(1);
    const state = (await fetch(`http://127.0.0.1:${opal.port}/__sim/state`).then((r) => r.json())) as {
      accepted: Record<string, number>;
    };
    for (const id of syncIds) expect(state.accepted[id]).toBe(1);

    // Closed again: a force sync makes its call and OPAL accepts it.
    const res = await forceSync(100).expect(200);
    expect(res.body.sync_details.external_opal).toMatchObject({ status: 'accepted', attempts: 1 });
    const diagnostics = await request(t.url)
      .get('/api/diagnostics/last-webhook?limit=1')
      .set(operatorHeaders())
      .expect(200);
    expect(diagnostics.body.alerts).not.toEqual(
      expect.arrayContaining([expect.objectContaining({ rule: 'opal_circuit_breaker_open' })]),
    );
  });
});
