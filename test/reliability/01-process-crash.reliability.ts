import { waitFor } from '../support/wait';
import {
  accountFor,
  compareWithStateMachine,
  insertWorkflows,
  storedEvents,
  waitProcessed,
} from './support/checks';
import { n as fmt, report, tunable } from './support/harness';
import { singleServiceScenario } from './support/scenario';
import { makeEvents, RetryingSender } from './support/sender';

/**
 * Scenario 1: the service is SIGKILLed twice while a retrying sender posts signed events; after restarts every
 * event is stored once, processed, and each workflow's stored state is what the state machine makes of its
 * stored events.
 */
describe('reliability 1: process crash under ingest', () => {
  const scenario = singleServiceScenario('s1');

  it('stores every event once, processes it, and keeps the state the events define after two SIGKILLs', async () => {
    const n = tunable('RELIABILITY_EVENTS', { full: 10_000, quick: 5_000 });
    const workflows = await insertWorkflows(scenario.pool, 8, 's1');
    const events = makeEvents('s1', workflows, n, 1);
    const sender = new RetryingSender([scenario.service.url], { concurrency: 32, deadlineMs: 300_000 });
    const began = Date.now();
    const sending = sender.run(events);

    const recoveries: number[] = [];
    for (const share of [0.25, 0.6]) {
      await waitFor(() => sender.done >= n * share, `${share * 100}% acknowledged`, {
        timeoutMs: 120_000,
        intervalMs: 10,
      });
      await scenario.service.kill('SIGKILL');
      recoveries.push(await scenario.service.startReady());
    }
    await sending;
    const sendSeconds = (Date.now() - began) / 1000;

    const processing = await waitProcessed(scenario.pool, 's1');
    const stored = await storedEvents(scenario.pool, 's1');
    const figures = accountFor(events, sender, stored);
    const comparison = await compareWithStateMachine(scenario.pool, workflows);
    report(
      '1. SIGKILL twice under ingest (concurrency 32, a sender that retries like OPAL)',
      {
        ...figures,
        processing,
        attempts: sender.figures.attempts,
        answers: sender.figures.answers,
        restart_to_ready_ms: recoveries,
        max_ms_event_to_acknowledged: sender.figures.maxMsToDone,
        workflows_matching_state_machine: `${comparison.matching}/${comparison.workflows}`,
        send_duration_s: sendSeconds.toFixed(1),
        events_per_s: Math.round(n / sendSeconds),
      },
      `${fmt(n)} sent; ${fmt(figures.acknowledged_202)} × 202 and ${fmt(figures.acknowledged_409_answer_lost_earlier)} × 409 (stored, answer lost in a crash); ${fmt(figures.stored)} stored, ${figures.duplicates} twice, ${figures.lost} lost, ${fmt(processing.processed ?? 0)} processed; ready again ${recoveries.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(' and ')} after each kill; ${comparison.matching}/${comparison.workflows} workflows as the state machine makes of their stored events`,
    );

    expect(figures.unaccounted).toBe(0);
    expect(figures.cut_off).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
    expect(figures.stored).toBe(n);
    expect(processing).toEqual({ processed: n });
    expect(comparison.mismatches).toEqual([]);
    expect(scenario.service.starts).toBe(3);
  });
});
