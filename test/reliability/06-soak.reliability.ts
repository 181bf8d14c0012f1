import { waitFor } from '../support/wait';
import {
  accountFor,
  compareWithStateMachine,
  insertWorkflows,
  median,
  scrape,
  storedEvents,
  waitProcessed,
} from './support/checks';
import { counted, n as fmt, operatorHeaders, report, sleep, tunable } from './support/harness';
import { http, json } from './support/http';
import { singleServiceScenario } from './support/scenario';
import { makeEvents, RetryingSender, signedHeaders, WEBHOOK_PATH } from './support/sender';

const SERIES = [
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_lag_mean_seconds',
];

/** /metrics is scraped this often; the start and end windows are made of these samples. */
const SAMPLE_EVERY_S = 1;
/** Fewest samples in each window: a window of one or two samples says nothing about a trend. */
const MIN_WINDOW = 5;

/**
 * Scenario 6: mixed traffic for a while (full 10 min, quick 60 s, CI 20 s): unique events, repeats, wrongly
 * signed callbacks, force syncs whose simulated workflows call back, and reads. Memory, sampled every second
 * from the service's /metrics, stays flat between a start window and a separate end window; every event is
 * accounted for, every force sync's workflow completes, and no request of the soak is left unaccounted (a
 * rejected promise counts, it is not dropped). Event-loop lag is reported, not judged: on a shared machine it
 * measures the neighbours as much as the service.
 */
describe('reliability 6: soak', () => {
  // The soak's workflows must not time out while it runs (a time-out is not an event the check can fold).
  const scenario = singleServiceScenario('s6', {
    OPAL_SIMULATOR_AGENT_DELAY_MS: '20',
    WORKFLOW_TIMEOUT_MINUTES: '120',
  });

  it('keeps memory flat under mixed traffic, with every event, request and force sync accounted for', async () => {
    const seconds = tunable('RELIABILITY_SOAK_SECONDS', { full: 600, quick: 60 });
    const perSecond = tunable('RELIABILITY_SOAK_EVENTS_PER_S', { full: 100, quick: 100 });
    const ticksPerSecond = 10;
    const perTick = Math.max(1, Math.round(perSecond / ticksPerSecond));
    const workflows = await insertWorkflows(scenario.pool, 10, 's6');
    const events = makeEvents('s6', workflows, seconds * ticksPerSecond * perTick, 6);
    const unique = new RetryingSender([scenario.service.url], {
      concurrency: 8,
      deadlineMs: seconds * 1000 + 120_000,
    });
    const repeats = new RetryingSender([scenario.service.url], {
      concurrency: 4,
      deadlineMs: seconds * 1000 + 120_000,
    });
    const badSignature: Record<string, number> = {};
    const syncs: Record<string, number> = {};
    const reads: Record<string, number> = {};
    const samples: (Record<string, number> & { at: number })[] = [];
    const inFlight = new Set<Promise<unknown>>();
    const rejected: string[] = [];
    const track = (p: Promise<unknown>): void => {
      const tracked = p
        .catch((error: unknown) => {
          rejected.push(String(error).slice(0, 200));
        })
        .finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    };
    const count = (into: Record<string, number>, key: string | number): void => {
      into[key] = (into[key] ?? 0) + 1;
    };

    const began = Date.now();
    let sent = 0;
    for (let tick = 0; Date.now() - began < seconds * 1000; tick++) {
      const due = began + tick * (1000 / ticksPerSecond);
      if (due > Date.now()) await sleep(due - Date.now());
      const batch = events.slice(sent, sent + perTick);
      sent += batch.length;
      track(unique.run(batch));
      // One repeat of an event sent a while ago, and one wrongly signed callback, per tick.
      if (sent > 200) track(repeats.run([events[Math.floor(Math.random() * (sent - 200))]]));
      const bad = JSON.stringify({
        event_id: `s6-bad-${tick}`,
        workflow_id: workflows[0],
        event_type: 'workflow_started',
      });
      track(
        http(`${scenario.service.url}${WEBHOOK_PATH}`, {
          method: 'POST',
          headers: signedHeaders(bad, 'not-the-secret-of-this-scenario.service-xx'),
          body: bad,
        }).then(
          (a) => count(badSignature, a.status),
          () => count(badSignature, 'error'),
        ),
      );
      if (tick % (2 * ticksPerSecond) === 0) {
        track(
          json(`${scenario.service.url}/api/opal/sync`, {
            headers: operatorHeaders(),
            body: { sync_scope: 'odp_only', client_context: { client_name: `s6-${tick}` } },
          }).then((a) => count(syncs, a.status)),
        );
      }
      if (tick % 3 === 0) {
        const path = ['/api/opal/syncs?limit=20', '/api/diagnostics/last-webhook?limit=25', '/api/health'][
          (tick % 9) / 3
        ];
        track(
          http(`${scenario.service.url}${path}`, { headers: operatorHeaders() }).then(
            (a) => count(reads, a.status),
            (error: { code?: string }) => count(reads, `error:${error.code ?? 'unknown'}`),
          ),
        );
      }
      if (tick % (SAMPLE_EVERY_S * ticksPerSecond) === 0) {
        track(
          scrape(scenario.service.url, SERIES).then((values) =>
            samples.push({ ...values, at: Date.now() - began }),
          ),
        );
      }
    }
    await Promise.all([...inFlight]);
    const sendSeconds = (Date.now() - began) / 1000;

    const processing = await waitProcessed(scenario.pool, 's6', 180_000);
    const stored = await storedEvents(scenario.pool, 's6');
    const figures = accountFor(events.slice(0, sent), unique, stored);
    // Every force sync answered 200 was accepted by OPAL: its workflow must complete (its callbacks arrive after
    // the soak's last tick).
    const syncStatus = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        (
          await scenario.pool.query(
            `SELECT status, count(*)::int AS n FROM workflows WHERE client_name LIKE 's6-%' AND source = 'force_sync'
              AND triggered_by <> 'reliability' GROUP BY status`,
          )
        ).rows.map((r: { status: string; n: number }) => [r.status, r.n]),
      );
    const syncsSent = Object.values(syncs).reduce((sum, c) => sum + c, 0);
    const syncStatuses = await waitFor(
      async () => {
        const statuses = await syncStatus();
        return (statuses.completed ?? 0) === syncsSent ? statuses : null;
      },
      'every force sync of the soak completed',
      { timeoutMs: 120_000, intervalMs: 250 },
    ).catch(() => syncStatus());
    const comparison = await compareWithStateMachine(scenario.pool, workflows);

    // Flat: a start window after a warm-up and a separate end window, each of several samples (medians).
    const steady = samples.filter((s) => s.at >= Math.min(15_000, seconds * 250)).sort((x, y) => x.at - y.at);
    const windowSize = Math.max(MIN_WINDOW, Math.min(60, Math.floor(steady.length / 3)));
    const startWindow = steady.slice(0, windowSize);
    const endWindow = steady.slice(Math.max(windowSize, steady.length - windowSize));
    const window = (part: typeof steady): Record<string, number> =>
      Object.fromEntries(SERIES.map((name) => [name, median(part.map((s) => s[name]))]));
    const start = window(startWindow);
    const end = window(endWindow);
    const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
    const ms = (secondsValue: number): number => Math.round(secondsValue * 10000) / 10;

    report(
      `6. Soak: ${Math.round(sendSeconds / 60) >= 1 ? `${Math.round(sendSeconds / 60)} min` : `${Math.round(sendSeconds)} s`} of mixed traffic`,
      {
        duration_s: sendSeconds.toFixed(0),
        ...figures,
        processing,
        repeats_sent: repeats.figures.sent,
        repeats_answered_409: repeats.figures.alreadyStored,
        repeats_stored_again: repeats.figures.accepted,
        bad_signature_answers: badSignature,
        force_sync_answers: syncs,
        force_sync_workflows: syncStatuses,
        read_answers: reads,
        rejected_promises: rejected.length,
        rejected_samples: rejected.slice(0, 5),
        workflows_matching_state_machine: `${comparison.matching}/${comparison.workflows}`,
        samples: steady.length,
        window_samples: [startWindow.length, endWindow.length],
        window_seconds: [
          [startWindow[0]?.at, startWindow.at(-1)?.at].map((ms) => Math.round((ms ?? 0) / 1000)),
          [endWindow[0]?.at, endWindow.at(-1)?.at].map((ms) => Math.round((ms ?? 0) / 1000)),
        ],
        rss_mb_start_end: [mb(start.process_resident_memory_bytes), mb(end.process_resident_memory_bytes)],
        heap_used_mb_start_end: [mb(start.nodejs_heap_size_used_bytes), mb(end.nodejs_heap_size_used_bytes)],
        event_loop_lag_p99_ms_start_end: [
          ms(start.nodejs_eventloop_lag_p99_seconds),
          ms(end.nodejs_eventloop_lag_p99_seconds),
        ],
        event_loop_lag_mean_ms_start_end: [
          ms(start.nodejs_eventloop_lag_mean_seconds),
          ms(end.nodejs_eventloop_lag_mean_seconds),
        ],
      },
      `${fmt(sent)} events sent, ${fmt(figures.acknowledged_202)} × 202, ${fmt(figures.stored)} stored (${figures.duplicates} twice, ${figures.lost} lost), ${fmt(processing.processed ?? 0)} processed; ${fmt(repeats.figures.sent)} repeats: ${counted({ '409': repeats.figures.alreadyStored, '202': repeats.figures.accepted })}; bad signatures ${counted(badSignature)}; force syncs ${counted(syncs)}, ${syncStatuses.completed ?? 0} completed; reads ${counted(reads)}; ${rejected.length} requests rejected; RSS ${mb(start.process_resident_memory_bytes)} → ${mb(end.process_resident_memory_bytes)} MB, heap used ${mb(start.nodejs_heap_size_used_bytes)} → ${mb(end.nodejs_heap_size_used_bytes)} MB (medians of ${startWindow.length} and ${endWindow.length} samples), event-loop lag p99 ${ms(start.nodejs_eventloop_lag_p99_seconds)} → ${ms(end.nodejs_eventloop_lag_p99_seconds)} ms; ${comparison.matching}/${comparison.workflows} workflows as the state machine makes of their stored events`,
    );

    expect(figures.unaccounted).toBe(0);
    expect(figures.cut_off).toBe(0);
    expect(figures.lost).toBe(0);
    expect(figures.duplicates).toBe(0);
    expect(figures.stored).toBe(sent);
    expect(processing).toEqual({ processed: sent });
    expect(repeats.figures.accepted).toBe(0);
    expect(repeats.figures.cutOff).toBe(0);
    expect(Object.keys(badSignature)).toEqual(['401']);
    expect(Object.keys(syncs)).toEqual(['200']);
    expect(Object.keys(reads)).toEqual(['200']);
    expect(rejected).toEqual([]);
    expect(syncStatuses).toEqual({ completed: syncsSent });
    expect(comparison.mismatches).toEqual([]);
    // Two separate windows of enough samples each.
    expect(startWindow.length).toBeGreaterThanOrEqual(MIN_WINDOW);
    expect(endWindow.length).toBeGreaterThanOrEqual(MIN_WINDOW);
    expect(startWindow.at(-1)!.at).toBeLessThan(endWindow[0].at);
    expect(end.process_resident_memory_bytes).toBeLessThan(
      start.process_resident_memory_bytes * 1.3 + 30 * 2 ** 20,
    );
    expect(end.nodejs_heap_size_used_bytes).toBeLessThan(
      start.nodejs_heap_size_used_bytes * 1.5 + 20 * 2 ** 20,
    );
  });
});
