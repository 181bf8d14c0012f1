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
 * Scenario 2: PostgreSQL stops for a few seconds while events arrive. The service answers 503 meanwhile, its
 * readiness goes red, and it reconnects by itself (same process): nothing acknowledged is lost or doubled.
 */
describe('reliability 2: database restart under ingest', () => {
  const scenario = singleServiceScenario('s2');

  it('answers 503 while PostgreSQL is down, reconnects without a restart, loses and doubles nothing', async () => {
    const n = tunable('RELIABILITY_EVENTS', { full: 10_000, quick: 5_000 });
    const outageMs = tunable('RELIABILITY_DB_OUTAGE_MS', { full: 10_000, quick: 5_000 });
    const workflows = await insertWorkflows(scenario.pool, 8, 's2');
    const events = makeEvents('s2', workflows, n, 2);
    const sender = new RetryingSender([scenario.service.url], {
      concurrency: 32,
      deadlineMs: 300_000,
      keepTimeline: true,
    });
    const pid = scenario.service.pid;
    const sending = sender.run(events);

    await waitFor(() => sender.done >= n * 0.3, '30% acknowledged', { timeoutMs: 120_000, intervalMs: 10 });
    const readiness: { at: number; status: number }[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const status = await http(`${scenario.service.url}/api/health/ready`, {
          timeoutMs: 5000,
          maxSockets: 2,
        }).then(
          (a) => a.status,
          () => 0,
        );
        readiness.push({ at: Date.now(), status });
        await sleep(100);
      }
    })();

    const stoppedAt = Date.now();
    await scenario.postgres.stop();
    const downAt = Date.now();
    await sleep(outageMs);
    const restartAt = Date.now();
    await scenario.postgres.start();
    const upAt = Date.now();
    const readyAt = (
      await waitFor(() => readiness.find((r) => r.at > upAt && r.status === 200), 'ready again', {
        timeoutMs: 60_000,
        intervalMs: 50,
      })
    ).at;
    const firstStoredAt = (
      await waitFor(
        () => sender.timeline.find((t) => t.at > upAt && t.answer === '202'),
        'an event stored again',
        {
          timeoutMs: 60_000,
          intervalMs: 50,
        },
      )
    ).at;
    probing = false;
    await probe;
    await sending;

    const processing = await waitProcessed(scenario.pool, 's2');
    const stored = await storedEvents(scenario.pool, 's2');
    const figures = accountFor(events, sender, stored);
    const comparison = await compareWithStateMachine(scenario.pool, workflows);
    const duringOutage = sender.timeline.filter((t) => t.at > downAt && t.at < restartAt);
    const outageAnswers: Record<string, number> = {};
    for (const t of duringOutage) outageAnswers[t.answer] = (outageAnswers[t.answer] ?? 0) + 1;
    const readinessDuring = readiness.filter((r) => r.at > downAt && r.at < restartAt).map((r) => r.status);

    report(
      '2. PostgreSQL stopped (fast shutdown) under ingest',
      {
        ...figures,
        processing,
        attempts: sender.figures.attempts,
        answers: sender.figures.answers,
        database_down_ms: restartAt - stoppedAt,
        answers_while_down: outageAnswers,
        readiness_while_down: [...new Set(readinessDuring)],
        recovery_ms_ready_after_db_up: readyAt - upAt,
        recovery_ms_first_202_after_db_up: firstStoredAt - upAt,
        service_restarts: scenario.service.starts - 1,
        workflows_matching_state_machine: `${comparison.matching}/${comparison.workflows}`,
      },
      `${fmt(n)} sent, ${fmt(figures.stored)} stored, ${figures.duplicates} twice, ${figures.lost} lost; down ${((restartAt - stoppedAt) / 1000).toFixed(1)} s: answers meanwhile ${counted(outageAnswers)}, readiness ${[...new Set(readinessDuring)].join(', ')}; ready ${readyAt - upAt} ms after the database returned, without a restart; ${comparison.matching}/${comparison.workflows} workflows as the state machine makes of their stored events`,
    );

    expect(figures.unaccounted).toBe(0);
    expect(figures.cut_off).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
    expect(figures.stored).toBe(n);
    expect(processing).toEqual({ processed: n });
    expect(comparison.mismatches).toEqual([]);
    // Same process throughout: it reconnected by itself.
    expect(scenario.service.pid).toBe(pid);
    expect(scenario.service.starts).toBe(1);
    expect(outageAnswers['503'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(outageAnswers).filter((a) => a !== '503')).toEqual([]);
    expect(readinessDuring.length).toBeGreaterThan(0);
    expect(readinessDuring.every((s) => s === 503)).toBe(true);
  });
});
