import type { Pool } from 'pg';
import { waitFor } from '../support/wait';
import {
  cleanupAll,
  counted,
  distinctFreePorts,
  operatorHeaders,
  report,
  ServiceChild,
  SimulatorChild,
  sleep,
  tunable,
} from './support/harness';
import { destroyAgents, json } from './support/http';
import { ScenarioPostgres } from './support/postgres';
import { WEBHOOK_PATH } from './support/sender';

interface SyncAnswer {
  sync_id: string;
  sync_details: { external_opal: { triggered: boolean; status: string } };
}

/**
 * Scenario 3: OPAL (the standalone simulator) is down while force syncs arrive. None is reported as a success
 * before OPAL is back; once it is, every sync is delivered and OPAL accepted each exactly once.
 */
describe('reliability 3: OPAL outage', () => {
  const postgres = new ScenarioPostgres();
  let pool: Pool;
  let service: ServiceChild;
  let opal: SimulatorChild;

  beforeAll(async () => {
    await postgres.init();
    const [servicePort, opalPort] = await distinctFreePorts(2);
    opal = new SimulatorChild(opalPort, `http://127.0.0.1:${servicePort}${WEBHOOK_PATH}`);
    service = new ServiceChild('s3', servicePort, {
      databaseUrl: postgres.url,
      opalWebhookUrl: opal.triggerUrl,
      env: {
        OPAL_TIMEOUT_MS: '2000',
        OPAL_RETRY_BASE_DELAY_MS: '200',
        OPAL_RETRY_MAX_DELAY_MS: '2000',
        OPAL_MAX_ATTEMPTS: '100',
        FORCE_SYNC_RESPONSE_BUDGET_MS: '500',
      },
    });
    await opal.startReady();
    await service.startReady();
    pool = postgres.pool();
  });

  afterAll(async () => {
    destroyAgents();
    await service?.kill();
    await opal?.kill();
    await pool?.end();
    await postgres.stop();
    cleanupAll();
  });

  it('delivers every force sync once OPAL is back, each accepted once, none reported as success before', async () => {
    const syncs = tunable('RELIABILITY_SYNCS', { full: 20, quick: 10 });
    const outageMs = tunable('RELIABILITY_OPAL_OUTAGE_MS', { full: 30_000, quick: 5_000 });

    // A sync while OPAL is up, so the outage is a change the service has to notice.
    const before = await json<SyncAnswer>(`${service.url}/api/opal/sync`, {
      headers: operatorHeaders(),
      body: { sync_scope: 'odp_only', client_context: { client_name: 's3-before' } },
    });
    expect(before.status).toBe(200);

    await opal.stop();
    const downAt = Date.now();
    const answers = await Promise.all(
      Array.from({ length: syncs }, (_, i) =>
        json<SyncAnswer>(`${service.url}/api/opal/sync`, {
          headers: operatorHeaders(),
          body: { sync_scope: 'odp_only', client_context: { client_name: `s3-outage-${i}` } },
        }),
      ),
    );
    const ids = answers.map((a) => a.body.sync_id);
    const statusesWhileDown = new Set<string>();
    while (Date.now() - downAt < outageMs) {
      const rows: { status: string }[] = (
        await pool.query(`SELECT status FROM workflows WHERE id = ANY($1::uuid[])`, [ids])
      ).rows;
      rows.forEach((r) => statusesWhileDown.add(r.status));
      for (const id of ids.slice(0, 3)) {
        const live = await json<{ status: string }>(`${service.url}/api/opal/sync/${id}`, {
          headers: operatorHeaders(),
        });
        statusesWhileDown.add(live.body.status);
      }
      await sleep(500);
    }
    const attemptsWhileDown: number = (
      await pool.query(
        `SELECT count(*)::int AS n FROM trigger_attempts WHERE workflow_id = ANY($1::uuid[])`,
        [ids],
      )
    ).rows[0].n;

    const upAt = Date.now();
    await opal.startReady();
    const status = async (): Promise<Record<string, number>> => {
      const rows: { status: string; n: number }[] = (
        await pool.query(
          `SELECT status, count(*)::int AS n FROM workflows WHERE id = ANY($1::uuid[]) GROUP BY status`,
          [ids],
        )
      ).rows;
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    };
    await waitFor(async () => ((await status()).pending ?? 0) === 0, 'every sync accepted by OPAL', {
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const acceptedAfterMs = Date.now() - upAt;
    await waitFor(
      async () => (await status()).completed === syncs,
      'every workflow completed by its callbacks',
      {
        timeoutMs: 120_000,
        intervalMs: 100,
      },
    );
    const completedAfterMs = Date.now() - upAt;

    const state = await opal.state();
    const acceptedCounts = ids.map((id) => state.accepted[id] ?? 0);
    const triggerRows: { status: string; n: number }[] = (
      await pool.query(
        `SELECT (CASE WHEN status_code IS NULL THEN 'network' ELSE status_code::text END) AS status, count(*)::int AS n
           FROM trigger_attempts WHERE workflow_id = ANY($1::uuid[]) GROUP BY 1`,
        [ids],
      )
    ).rows;

    const answerCounts = countBy(answers.map((a) => a.status));
    const externalStatuses = countBy(answers.map((a) => a.body.sync_details?.external_opal?.status));
    const failedAttempts = triggerRows.filter((r) => r.status !== '200').reduce((sum, r) => sum + r.n, 0);
    const acceptedOnce = acceptedCounts.filter((c) => c === 1).length;
    report(
      `3. OPAL down ${Math.round((upAt - downAt) / 1000)} s, ${syncs} force syncs`,
      {
        syncs_sent: syncs,
        answers_while_down: answerCounts,
        external_status_while_down: externalStatuses,
        workflow_statuses_while_down: [...statusesWhileDown],
        opal_down_ms: upAt - downAt,
        attempts_while_down: attemptsWhileDown,
        trigger_attempts: Object.fromEntries(triggerRows.map((r) => [r.status, r.n])),
        recovery_ms_all_accepted_after_opal_up: acceptedAfterMs,
        recovery_ms_all_completed_after_opal_up: completedAfterMs,
        opal_accepted_once: `${acceptedOnce}/${syncs}`,
        final_statuses: await status(),
      },
      `answers while down ${counted(answerCounts)} (${counted(externalStatuses)}), none reported as a success; ${failedAttempts} failed attempts recorded; all accepted ${(acceptedAfterMs / 1000).toFixed(1)} s after OPAL returned, ${acceptedOnce}/${syncs} exactly once; all completed after ${(completedAfterMs / 1000).toFixed(1)} s`,
    );

    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 202));
    expect(answers.every((a) => a.body.sync_details.external_opal.triggered === false)).toBe(true);
    expect([...statusesWhileDown]).toEqual(['pending']);
    expect(acceptedCounts).toEqual(ids.map(() => 1));
    expect(Object.keys(state.accepted).filter((key) => !ids.includes(key))).toEqual([]);
    expect(await status()).toEqual({ completed: syncs });
  });
});

function countBy(values: unknown[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}
