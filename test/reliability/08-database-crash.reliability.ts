import { waitFor } from '../support/wait';
import {
  accountFor,
  compareWithStateMachine,
  insertWorkflows,
  storedEvents,
  waitProcessed,
} from './support/checks';
import { counted, n as fmt, report, sleep, tunable } from './support/harness';
import { http } from './support/http';
import { singleServiceScenario } from './support/scenario';
import { makeEvents, RetryingSender } from './support/sender';

/**
 * Scenario 8: PostgreSQL is killed (SIGKILL to the postmaster and every backend at once, as a machine or container
 * kill would) while events arrive, so group-commit batches are cut mid-statement or mid-commit, and it comes back
 * through crash recovery from its write-ahead log. The service answers 503 meanwhile and reconnects by itself;
 * every event acknowledged before the kill is still there, none is stored twice.
 */
describe('reliability 8: PostgreSQL killed under ingest', () => {
  const scenario = singleServiceScenario('s8');

  it('loses nothing acknowledged when PostgreSQL is killed and recovers from its log', async () => {
    const n = tunable('RELIABILITY_EVENTS', { full: 10_000, quick: 5_000 });
    const outageMs = tunable('RELIABILITY_DB_CRASH_OUTAGE_MS', { full: 3_000, quick: 2_000 });
    const workflows = await insertWorkflows(scenario.pool, 8, 's8');
    const events = makeEvents('s8', workflows, n, 7);
    const sender = new RetryingSender([scenario.service.url], {
      concurrency: 32,
      deadlineMs: 300_000,
      keepTimeline: true,
    });
    const pid = scenario.service.pid;
    const sending = sender.run(events);

    await waitFor(() => sender.done >= n * 0.3, '30% acknowledged', { timeoutMs: 120_000, intervalMs: 10 });
    const acknowledgedBeforeKill = sender.figures.accepted;
    const killedAt = Date.now();
    const killedProcesses = await scenario.postgres.crash();
    const goneAt = Date.now();
    await sleep(outageMs);
    const restartAt = Date.now();
    await scenario.postgres.start();
    const upAt = Date.now();
    const recovery = scenario.postgres.logMatching(
      /not properly shut down|automatic recovery in progress|redo (starts|done)/,
    );
    const readyAt = await waitFor(
      async () => {
        const answer = await http(`${scenario.service.url}/api/health/ready`, { timeoutMs: 5000 }).catch(
          () => null,
        );
        return answer?.status === 200 ? Date.now() : null;
      },
      'ready again',
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    await sending;

    const processing = await waitProcessed(scenario.pool, 's8');
    const stored = await storedEvents(scenario.pool, 's8');
    const figures = accountFor(events, sender, stored);
    const comparison = await compareWithStateMachine(scenario.pool, workflows);
    const duringOutage: Record<string, number> = {};
    for (const t of sender.timeline.filter((x) => x.at >= killedAt && x.at < upAt)) {
      duringOutage[t.answer] = (duringOutage[t.answer] ?? 0) + 1;
    }
    const firstStoredAfter = sender.timeline.find((t) => t.at > upAt && t.answer === '202');

    report(
      '8. PostgreSQL killed (SIGKILL) under ingest, crash recovery',
      {
        ...figures,
        processing,
        attempts: sender.figures.attempts,
        answers: sender.figures.answers,
        acknowledged_202_before_kill: acknowledgedBeforeKill,
        postgres_processes_killed: killedProcesses,
        database_down_ms: upAt - killedAt,
        kill_to_all_gone_ms: goneAt - killedAt,
        restart_to_accepting_ms: upAt - restartAt,
        crash_recovery_log: recovery.slice(0, 5),
        answers_while_down: duringOutage,
        recovery_ms_ready_after_db_up: readyAt - upAt,
        recovery_ms_first_202_after_db_up: firstStoredAfter ? firstStoredAfter.at - upAt : null,
        service_restarts: scenario.service.starts - 1,
        workflows_matching_state_machine: `${comparison.matching}/${comparison.workflows}`,
      },
      `${fmt(n)} sent, ${fmt(acknowledgedBeforeKill)} acknowledged before ${killedProcesses} PostgreSQL processes were killed; down ${((upAt - killedAt) / 1000).toFixed(1)} s (answers meanwhile ${counted(duringOutage)}), then crash recovery from the write-ahead log; ${fmt(figures.stored)} stored, ${figures.duplicates} twice, ${figures.lost} lost, ${fmt(figures.acknowledged_409_answer_lost_earlier)} × 409 for events stored before their answer was lost; ready ${readyAt - upAt} ms after the database returned, without a restart; ${comparison.matching}/${comparison.workflows} workflows as the state machine makes of their stored events`,
    );

    expect(recovery.length).toBeGreaterThan(0);
    expect(figures.unaccounted).toBe(0);
    expect(figures.cut_off).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
    expect(figures.stored).toBe(n);
    expect(processing).toEqual({ processed: n });
    expect(comparison.mismatches).toEqual([]);
    expect(scenario.service.pid).toBe(pid);
    expect(scenario.service.starts).toBe(1);
    // Nothing but "try again" while the database is gone: no 5xx other than 503, nothing refused for good.
    expect(Object.keys(sender.figures.answers).filter((a) => !/^(202|409|503|conn:.*)$/.test(a))).toEqual([]);
  });
});
