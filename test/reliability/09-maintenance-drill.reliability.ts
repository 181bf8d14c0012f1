import { waitFor } from '../support/wait';
import {
  accountFor,
  compareWithStateMachine,
  insertWorkflows,
  storedEvents,
  waitProcessed,
} from './support/checks';
import { n as fmt, operatorHeaders, report, tunable } from './support/harness';
import { json } from './support/http';
import { singleServiceScenario } from './support/scenario';
import { makeEvents, RetryingSender } from './support/sender';

/**
 * Scenario 9: the maintenance drill. Maintenance mode on, a burst of callbacks from a retrying sender, a SIGKILL
 * in the middle of it, a restart (the mode survives it), then back to normal: every event is stored once, none is
 * applied during the pause, all are applied after it, and each workflow's state is what the state machine makes of
 * its stored events.
 */
describe('reliability 9: maintenance drill', () => {
  const scenario = singleServiceScenario('s9');

  const mode = async (): Promise<string> =>
    (
      await json<{ mode: string }>(`${scenario.service.url}/api/maintenance`, {
        headers: operatorHeaders(),
      })
    ).body.mode;
  const setMode = async (value: 'paused' | 'normal'): Promise<void> => {
    const res = await json(`${scenario.service.url}/api/maintenance`, {
      method: 'PUT',
      headers: operatorHeaders(),
      body: { mode: value, reason: 'maintenance drill' },
    });
    expect(res.status).toBe(200);
  };
  const processedSoFar = async (): Promise<number> =>
    (
      await scenario.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM webhook_events
          WHERE source_event_id LIKE 's9-%' AND processing_status <> 'pending'`,
      )
    ).rows[0].n;

  it('holds every callback of a burst through a SIGKILL and a restart while paused, then applies them all once resumed', async () => {
    const n = tunable('RELIABILITY_EVENTS', { full: 10_000, quick: 3_000 });
    const workflows = await insertWorkflows(scenario.pool, 8, 's9');
    await setMode('paused');
    const forceSync = await json(`${scenario.service.url}/api/opal/sync`, {
      headers: operatorHeaders(),
      body: {},
    });
    expect(forceSync.status).toBe(503);

    const events = makeEvents('s9', workflows, n, 9);
    const sender = new RetryingSender([scenario.service.url], { concurrency: 32, deadlineMs: 300_000 });
    const began = Date.now();
    const sending = sender.run(events);
    await waitFor(() => sender.done >= n * 0.5, '50% acknowledged', { timeoutMs: 120_000, intervalMs: 10 });
    await scenario.service.kill('SIGKILL');
    const restartMs = await scenario.service.startReady();
    const modeAfterRestart = await mode();
    await sending;
    const sendSeconds = (Date.now() - began) / 1000;

    const stored = await storedEvents(scenario.pool, 's9');
    const figures = accountFor(events, sender, stored);
    const processedWhilePaused = await processedSoFar();

    const resumed = Date.now();
    await setMode('normal');
    const processing = await waitProcessed(scenario.pool, 's9');
    const drainSeconds = (Date.now() - resumed) / 1000;
    const comparison = await compareWithStateMachine(scenario.pool, workflows);
    report(
      '9. Maintenance drill: pause, a burst of callbacks, SIGKILL, restart, resume',
      {
        ...figures,
        mode_after_restart: modeAfterRestart,
        processed_while_paused: processedWhilePaused,
        processing,
        restart_to_ready_ms: restartMs,
        send_duration_s: sendSeconds.toFixed(1),
        drain_after_resume_s: drainSeconds.toFixed(1),
        workflows_matching_state_machine: `${comparison.matching}/${comparison.workflows}`,
      },
      `${fmt(n)} sent while paused (SIGKILL at half, ready again in ${(restartMs / 1000).toFixed(1)} s, still ${modeAfterRestart}); ${fmt(figures.stored)} stored, ${figures.duplicates} twice, ${figures.lost} lost, ${processedWhilePaused} applied during the pause; all ${fmt(processing.processed ?? 0)} processed ${drainSeconds.toFixed(1)} s after resuming; ${comparison.matching}/${comparison.workflows} workflows as the state machine makes of their stored events`,
    );

    expect(modeAfterRestart).toBe('paused');
    expect(processedWhilePaused).toBe(0);
    expect(figures.unaccounted).toBe(0);
    expect(figures.cut_off).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
    expect(figures.stored).toBe(n);
    expect(processing).toEqual({ processed: n });
    expect(comparison.mismatches).toEqual([]);
    expect(scenario.service.starts).toBe(2);
  });
});
