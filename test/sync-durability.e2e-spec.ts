import { DataSource } from 'typeorm';
import { freePorts } from '../src/common/free-port';
import { MetricsService } from '../src/metrics/metrics.service';
import { buildDataSourceOptions, runMigrationsLocked } from '../src/database/data-source-options';
import { OpalSimulator } from '../src/modules/opal/simulator/opal-simulator';
import {
  baseTestEnv,
  createTestApp,
  operatorHeaders,
  resetDatabase,
  TEST_OPAL_KEY,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';
import { testHmac } from './support/hmac';
import { testDatabaseUrl } from './support/database';
import { ServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';

/** OPAL stays "down" (nothing listens on its port) until a simulator is started on that port. */
function opalOn(port: number): OpalSimulator {
  return new OpalSimulator({
    authKey: TEST_OPAL_KEY,
    hmac: testHmac(TEST_WEBHOOK_SECRET),
    agentDelayMs: 0,
    failAgents: [],
    triggerFailures: 0,
    port,
  });
}

const RETRY_ENV = {
  OPAL_TIMEOUT_MS: '1000',
  OPAL_RETRY_BASE_DELAY_MS: '50',
  OPAL_RETRY_MAX_DELAY_MS: '500',
  OPAL_MAX_ATTEMPTS: '100',
  // These tests count retries while OPAL is down: the circuit breaker (test/circuit-breaker) would hold them.
  OPAL_BREAKER_FAILURES: '0',
};

/** OPAL accepted; with the webhook receiver in place, its callbacks may already have moved the workflow on. */
const ACCEPTED_STATES = ['triggered', 'running', 'completed', 'partially_completed'];

interface Row {
  id: string;
  status: string;
  trigger_attempts: number;
  attempt_rows: number;
  max_attempt: number | null;
  accepted_rows: number;
}

async function rows(ds: DataSource, ids: string[]): Promise<Row[]> {
  return ds.query(
    `SELECT w.id, w.status, w.trigger_attempts,
            (SELECT count(*)::int FROM trigger_attempts a WHERE a.workflow_id = w.id) AS attempt_rows,
            (SELECT max(attempt)::int FROM trigger_attempts a WHERE a.workflow_id = w.id) AS max_attempt,
            (SELECT count(*)::int FROM trigger_attempts a
              WHERE a.workflow_id = w.id AND a.outcome = 'accepted') AS accepted_rows
       FROM workflows w WHERE w.id = ANY($1::uuid[])`,
    [ids],
  );
}

/**
 * OPAL accepted the workflow exactly once, however often the service tried. A call OPAL answered 200 is sent
 * again only when the service never got that answer (its attempt was recorded as failed: timeout or network
 * error on a loaded machine) — then OPAL's Idempotency-Key deduplication is what keeps it to one workflow.
 */
async function expectDeliveredOnce(ds: DataSource, opal: OpalSimulator, syncId: string): Promise<void> {
  expect(opal.acceptedCount(syncId)).toBe(1);
  const answered = opal.triggers.filter((tr) => tr.idempotencyKey === syncId && tr.status === 200);
  const attempts: { outcome: string }[] = await ds.query(
    `SELECT outcome FROM trigger_attempts WHERE workflow_id = $1 ORDER BY attempt`,
    [syncId],
  );
  expect(attempts.filter((a) => a.outcome === 'accepted')).toHaveLength(1);
  const answersLost = attempts.filter((a) => a.outcome !== 'accepted').length;
  expect(answered.length).toBeLessThanOrEqual(1 + answersLost);
}

describe('durable triggers (e2e)', () => {
  let ds: DataSource;

  beforeAll(async () => {
    ds = await new DataSource(
      buildDataSourceOptions({ url: await testDatabaseUrl(), poolSize: 2 }),
    ).initialize();
    await runMigrationsLocked(ds);
    await resetDatabase(ds);
  });
  afterAll(async () => {
    await resetDatabase(ds);
    await ds.destroy();
  });

  it('delivers a trigger once after the service was SIGKILLed while OPAL was down', async () => {
    const [servicePort, opalPort] = await freePorts(2);
    const service = new ServiceProcess({
      ...(await baseTestEnv(servicePort)),
      ...RETRY_ENV,
      OPAL_WEBHOOK_URL: `http://127.0.0.1:${opalPort}/webhooks/strategy_workflow`,
    });
    const opal = opalOn(opalPort);
    try {
      await service.start();
      const res = await fetch(`${service.url}/api/opal/sync`, {
        method: 'POST',
        headers: { ...operatorHeaders(), 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_context: { client_name: `Crash Co ${process.pid}` } }),
      });
      expect(res.status).toBe(202);
      const body = (await res.json()) as {
        sync_id: string;
        sync_details: { external_opal: { status: string } };
      };
      expect(body.sync_details.external_opal.status).toBe('retry_scheduled');
      const syncId = body.sync_id;
      await waitFor(
        async () => (await rows(ds, [syncId]))[0].trigger_attempts >= 3,
        'background retries while OPAL is down',
      );

      await service.stop('SIGKILL');
      const [atKill] = await rows(ds, [syncId]);
      expect(atKill.status).toBe('pending');

      await service.start();
      await waitFor(
        async () => (await rows(ds, [syncId]))[0].attempt_rows > atKill.attempt_rows,
        'the restarted service to resume the retries',
      );

      await opal.start();
      const [delivered] = await waitFor(async () => {
        const found = await rows(ds, [syncId]);
        return found[0].status !== 'pending' && found[0].accepted_rows > 0 ? found : null;
      }, 'the trigger to be delivered after the restart');
      expect(ACCEPTED_STATES).toContain(delivered.status);
      await expectDeliveredOnce(ds, opal, syncId);
      // No attempt was lost or recorded twice across the crash (an attempt cut by SIGKILL has no row).
      expect(delivered.max_attempt).toBeLessThanOrEqual(delivered.trigger_attempts);
    } finally {
      await service.stop('SIGTERM');
      await opal.stop();
    }
  }, 120000);

  describe('two instances on one database', () => {
    let a: TestApp;
    let b: TestApp;
    let opal: OpalSimulator;

    beforeAll(async () => {
      const [opalPort] = await freePorts(1);
      const env = {
        ...RETRY_ENV,
        OPAL_WEBHOOK_URL: `http://127.0.0.1:${opalPort}/webhooks/strategy_workflow`,
      };
      a = await createTestApp(env);
      b = await createTestApp(env);
      opal = opalOn(opalPort);
      await resetDatabase(a.dataSource);
    });
    afterAll(async () => {
      await opal.stop();
      await Promise.all([a.close(), b.close()]);
    });

    it('delivers each of 20 triggers exactly once when OPAL comes back', async () => {
      const answers = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const res = await fetch(`${(i % 2 === 0 ? a : b).url}/api/opal/sync`, {
            method: 'POST',
            headers: { ...operatorHeaders(), 'Content-Type': 'application/json' },
            body: JSON.stringify({ client_context: { client_name: `Pair Co ${i}` } }),
          });
          return { status: res.status, body: (await res.json()) as { sync_id: string } };
        }),
      );
      expect(answers.map((x) => x.status)).toEqual(Array<number>(20).fill(202));
      const ids = answers.map((x) => x.body.sync_id);
      await waitFor(
        async () => (await rows(ds, ids)).every((r) => r.trigger_attempts >= 2),
        'both instances to retry while OPAL is down',
      );

      await opal.start();
      const delivered = await waitFor(async () => {
        const found = await rows(ds, ids);
        // A callback can move a workflow out of `pending` before its accepted attempt is recorded.
        return found.every((r) => r.status !== 'pending' && r.accepted_rows > 0) ? found : null;
      }, 'every trigger to be delivered and its accepted attempt recorded');

      for (const row of delivered) {
        expect(ACCEPTED_STATES).toContain(row.status);
        await expectDeliveredOnce(ds, opal, row.id);
        // Each claim was made by one instance at a time: attempts numbered 1..n, one row each.
        expect(row.attempt_rows).toBe(row.trigger_attempts);
        expect(row.max_attempt).toBe(row.trigger_attempts);
      }
      // Both instances did part of the work.
      const sentBy = async (t: TestApp) =>
        (await t.app.get(MetricsService).opalAttempts.get()).values.reduce((sum, v) => sum + v.value, 0);
      expect(await sentBy(a)).toBeGreaterThan(0);
      expect(await sentBy(b)).toBeGreaterThan(0);
    }, 120000);
  });
});
