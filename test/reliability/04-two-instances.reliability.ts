import type { Pool } from 'pg';
import { waitFor } from '../support/wait';
import {
  accountFor,
  compareWithStateMachine,
  insertWorkflows,
  storedEvents,
  waitProcessed,
} from './support/checks';
import {
  cleanupAll,
  counted,
  distinctFreePorts,
  n as fmt,
  operatorHeaders,
  report,
  ServiceChild,
  SimulatorChild,
  sleep,
  tunable,
} from './support/harness';
import { destroyAgents, json } from './support/http';
import { ScenarioPostgres } from './support/postgres';
import { makeEvents, RetryingSender, WEBHOOK_PATH } from './support/sender';

interface SyncAnswer {
  sync_id?: string;
  code?: string;
  details?: { sync_id?: string }[];
}

/**
 * Scenario 4: two services on one database, requests alternating between them: concurrent force syncs, the same
 * events sent to both, a replay on one while the other ingests, retention cleanup on both at once.
 */
describe('reliability 4: two instances on one database', () => {
  const postgres = new ScenarioPostgres();
  let pool: Pool;
  let a: ServiceChild;
  let b: ServiceChild;
  let opal: SimulatorChild;

  beforeAll(async () => {
    await postgres.init();
    const [portA, portB, opalPort] = await distinctFreePorts(3);
    opal = new SimulatorChild(opalPort, `http://127.0.0.1:${portA}${WEBHOOK_PATH}`);
    await opal.startReady();
    a = new ServiceChild('s4a', portA, { databaseUrl: postgres.url, opalWebhookUrl: opal.triggerUrl });
    b = new ServiceChild('s4b', portB, { databaseUrl: postgres.url, opalWebhookUrl: opal.triggerUrl });
    await Promise.all([a.startReady(), b.startReady()]);
    pool = postgres.pool();
  });

  afterAll(async () => {
    destroyAgents();
    await Promise.all([a?.kill(), b?.kill(), opal?.kill()]);
    await pool?.end();
    await postgres.stop();
    cleanupAll();
  });

  const alternate = (i: number): ServiceChild => (i % 2 === 0 ? a : b);

  it('holds single flight and idempotency across instances, and loses or doubles no event', async () => {
    const n = tunable('RELIABILITY_EVENTS', { full: 10_000, quick: 3_000 });
    const oldEvents = tunable('RELIABILITY_OLD_EVENTS', { full: 5_000, quick: 2_000 });
    const concurrentSyncs = 20;

    // Concurrent force syncs for one scope and client: one wins, every other answer is 409 naming it.
    const singleFlight = await Promise.all(
      Array.from({ length: concurrentSyncs }, (_, i) =>
        json<SyncAnswer>(`${alternate(i).url}/api/opal/sync`, {
          headers: operatorHeaders(),
          body: { sync_scope: 'odp_only', client_context: { client_name: 's4-single' } },
        }),
      ),
    );
    const winners = singleFlight.filter((r) => r.status === 200 || r.status === 202);
    const conflicts = singleFlight.filter((r) => r.status === 409 && r.body.code === 'SYNC_ALREADY_ACTIVE');
    const singleFlightRows: number = (
      await pool.query(`SELECT count(*)::int AS n FROM workflows WHERE client_name = 's4-single'`)
    ).rows[0].n;

    // The same Idempotency-Key on both instances at once: one workflow, one answer.
    const idempotent = await Promise.all(
      Array.from({ length: 10 }, (_, i) => syncWithKey(alternate(i).url, 's4-key-1', 's4-idem')),
    );
    const idempotentRows: number = (
      await pool.query(`SELECT count(*)::int AS n FROM workflows WHERE client_name = 's4-idem'`)
    ).rows[0].n;

    // Old events for the retention cleanup that both instances will run at once.
    await pool.query(
      `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, workflow_ref, status,
                                   occurred_at, received_at, processing_status, processed_at, payload)
       SELECT gen_random_uuid(), 's4old-' || i, 's4old-' || i, 'agent_started', 'old-workflow', 'pending',
              now() - interval '40 days', now() - interval '40 days', 'unmatched', NULL, '{}'::jsonb
         FROM generate_series(1, $1::int) AS i`,
      [oldEvents],
    );

    // Every event to both instances at the same time, while B replays and both clean up.
    const workflows = await insertWorkflows(pool, 6, 's4');
    const events = makeEvents('s4', workflows, n, 4);
    // Two senders post every event at the same moment, one to A and the other to B (alternating by event).
    const toA = new RetryingSender([a.url, b.url], { concurrency: 16, deadlineMs: 300_000 });
    const toB = new RetryingSender([b.url, a.url], { concurrency: 16, deadlineMs: 300_000 });
    const sending = Promise.all([toA.run(events), toB.run(events)]);

    let replaying = true;
    const replayAnswers: Record<string, number> = {};
    const replays = (async () => {
      while (replaying) {
        for (const id of workflows) {
          const answer = await json(`${b.url}/api/orchestrations/replay`, {
            headers: operatorHeaders(),
            body: { workflow_id: id, replay_options: { force_reprocess: true } },
          });
          replayAnswers[answer.status] = (replayAnswers[answer.status] ?? 0) + 1;
        }
        await sleep(200);
      }
    })();

    await waitFor(() => toA.done + toB.done >= n * 0.5, 'half the events sent', {
      timeoutMs: 180_000,
      intervalMs: 20,
    });
    const cleanups = await Promise.all(
      [a, b].map((service) =>
        json<{ deleted: number }>(`${service.url}/api/diagnostics/last-webhook`, {
          headers: operatorHeaders(),
          body: { action: 'cleanup_old_events', retention_days: 30 },
        }),
      ),
    );
    await sending;
    replaying = false;
    await replays;

    const processing = await waitProcessed(pool, 's4');
    const stored = await storedEvents(pool, 's4');
    const ofA = accountFor(events, toA, stored);
    const ofB = accountFor(events, toB, stored);
    const acceptedByBoth = events.filter(
      (e) => toA.outcomes.get(e.id) === 'accepted' && toB.outcomes.get(e.id) === 'accepted',
    ).length;
    const acceptedByNone = events.filter(
      (e) => toA.outcomes.get(e.id) !== 'accepted' && toB.outcomes.get(e.id) !== 'accepted',
    ).length;
    const comparison = await compareWithStateMachine(pool, workflows);
    const oldLeft: number = (
      await pool.query(`SELECT count(*)::int AS n FROM webhook_events WHERE source_event_id LIKE 's4old-%'`)
    ).rows[0].n;

    const syncIds = [winners[0]?.body.sync_id, idempotent[0]?.body.sync_id].filter(
      (id): id is string => !!id,
    );
    await waitFor(async () => {
      const state = await opal.state();
      return syncIds.every((id) => state.accepted[id] === 1);
    }, 'OPAL accepted both syncs');
    const opalState = await opal.state();

    report(
      '4. Two instances on one database, requests alternating',
      {
        concurrent_force_syncs: concurrentSyncs,
        force_sync_winners: winners.length,
        force_sync_409_naming_winner: conflicts.filter(
          (r) => r.body.details?.[0]?.sync_id === winners[0]?.body.sync_id,
        ).length,
        workflows_for_one_client: singleFlightRows,
        idempotency_key_answers: countBy(idempotent.map((r) => `${r.status}:${r.body.sync_id}`)).length,
        idempotency_key_workflows: idempotentRows,
        opal_accepted: syncIds.map((id) => opalState.accepted[id]),
        events_sent_to_each: n,
        stored: stored.stored,
        duplicates: stored.duplicates,
        lost_via_sender_1: ofA.lost,
        lost_via_sender_2: ofB.lost,
        accepted_202_by_sender_1: toA.figures.accepted,
        accepted_202_by_sender_2: toB.figures.accepted,
        accepted_by_both_senders: acceptedByBoth,
        accepted_by_neither_sender: acceptedByNone,
        cut_off: toA.figures.cutOff + toB.figures.cutOff,
        processing,
        replays_on_b_while_ingesting: replayAnswers,
        cleanup_deleted: cleanups.map((c) => `${c.status}:${c.body.deleted}`),
        old_events: oldEvents,
        old_events_left: oldLeft,
        workflows_matching_state_machine: `${comparison.matching}/${comparison.workflows}`,
        service_error_lines: a.output.errorLines.length + b.output.errorLines.length,
      },
      `${concurrentSyncs} concurrent force syncs: ${winners.length} × 200/202, ${conflicts.length} × 409, ${singleFlightRows} workflow; one Idempotency-Key sent 10 times: ${idempotentRows} workflow; ${fmt(n)} events sent to both (each twice): ${fmt(stored.stored)} stored, ${stored.duplicates} twice, ${ofA.lost + ofB.lost} lost, ${fmt(processing.processed ?? 0)} processed; ${counted(replayAnswers)} replays on one instance while both ingest; cleanup on both at once deleted ${fmt(oldEvents - oldLeft)}/${fmt(oldEvents)} old events, each once; ${comparison.matching}/${comparison.workflows} workflows as the state machine makes of their stored events`,
    );
    for (const line of [...a.output.errorLines, ...b.output.errorLines].slice(0, 5)) {
      process.stdout.write(`  service error: ${line}\n`);
    }

    expect(winners).toHaveLength(1);
    expect(conflicts).toHaveLength(concurrentSyncs - 1);
    expect(conflicts.every((r) => r.body.details?.[0]?.sync_id === winners[0].body.sync_id)).toBe(true);
    expect(singleFlightRows).toBe(1);
    expect(new Set(idempotent.map((r) => `${r.status}:${r.body.sync_id}`)).size).toBe(1);
    expect(idempotentRows).toBe(1);
    expect(syncIds.map((id) => opalState.accepted[id])).toEqual([1, 1]);

    expect(ofA.unaccounted + ofB.unaccounted).toBe(0);
    expect(toA.figures.cutOff + toB.figures.cutOff).toBe(0);
    expect(ofA.lost + ofB.lost).toBe(0);
    expect(stored.duplicates).toBe(0);
    expect(stored.stored).toBe(n);
    expect(acceptedByBoth).toBe(0);
    expect(acceptedByNone).toBe(0);
    expect(toA.figures.accepted + toB.figures.accepted).toBe(n);
    expect(processing).toEqual({ processed: n });
    expect(Object.keys(replayAnswers)).toEqual(['200']);
    expect(comparison.mismatches).toEqual([]);

    expect(cleanups.map((c) => c.status)).toEqual([200, 200]);
    expect(cleanups[0].body.deleted + cleanups[1].body.deleted).toBe(oldEvents);
    expect(oldLeft).toBe(0);
  });
});

/** A force sync with an Idempotency-Key, retried while the key is still being processed elsewhere. */
async function syncWithKey(
  url: string,
  key: string,
  client: string,
): Promise<{ status: number; body: SyncAnswer }> {
  for (let attempt = 0; attempt < 60; attempt++) {
    const answer = await json<SyncAnswer>(`${url}/api/opal/sync`, {
      headers: { ...operatorHeaders(), 'Idempotency-Key': key },
      body: { sync_scope: 'odp_only', client_context: { client_name: client }, allow_concurrent: true },
    });
    if (!(answer.status === 409 && answer.body.code === 'IDEMPOTENCY_KEY_IN_USE')) return answer;
    await sleep(500);
  }
  throw new Error(`Idempotency-Key ${key} stayed in use`);
}

function countBy(values: string[]): string[] {
  return [...new Set(values)];
}
