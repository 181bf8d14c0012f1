import { accountFor, insertWorkflows, median, scrape, storedEvents, waitProcessed } from './support/checks';
import { operatorHeaders, report, sleep, tunable } from './support/harness';
import { http, json } from './support/http';
import { singleServiceScenario } from './support/scenario';
import { makeEvents, RetryingSender, signedHeaders, WEBHOOK_PATH } from './support/sender';

const SERIES = [
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_lag_mean_seconds',
];

/**
 * Scenario 6: mixed traffic for a while (full 10 min, quick 60 s): unique events, repeats, wrongly signed
 * callbacks, force syncs whose simulated workflows call back, and reads. Memory and event-loop lag, sampled from
 * the service's /metrics, stay flat; every event is accounted for.
 */
describe('reliability 6: soak', () => {
  const scenario = singleServiceScenario('s6', { OPAL_SIMULATOR_AGENT_DELAY_MS: '20' });

  it('keeps memory and event-loop lag flat under mixed traffic, with every event accounted for', async () => {
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
    const track = (p: Promise<unknown>): void => {
      const tracked = p.catch(() => undefined).finally(() => inFlight.delete(tracked));
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
      if (tick % (5 * ticksPerSecond) === 0) {
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
    const syncStatuses: Record<string, number> = Object.fromEntries(
      (
        await scenario.pool.query(
          `SELECT status, count(*)::int AS n FROM workflows WHERE client_name LIKE 's6-%' AND source = 'force_sync'
            AND triggered_by <> 'reliability' GROUP BY status`,
        )
      ).rows.map((r: { status: string; n: number }) => [r.status, r.n]),
    );

    // Flat: the start is the median of three samples after a warm-up, the end the median of the last three.
    const steady = samples.filter((s) => s.at >= Math.min(15_000, seconds * 250)).sort((x, y) => x.at - y.at);
    const window = (from: number): Record<string, number> =>
      Object.fromEntries(
        SERIES.map((name) => [name, median(steady.slice(from, from + 3).map((s) => s[name]))]),
      );
    const start = window(0);
    const end = window(Math.max(0, steady.length - 3));
    const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
    const ms = (secondsValue: number): number => Math.round(secondsValue * 10000) / 10;

    report('6. soak (mixed traffic)', {
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
      samples: steady.length,
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
    });

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
    expect(steady.length).toBeGreaterThanOrEqual(3);
    expect(end.process_resident_memory_bytes).toBeLessThan(
      start.process_resident_memory_bytes * 1.3 + 30 * 2 ** 20,
    );
    expect(end.nodejs_heap_size_used_bytes).toBeLessThan(
      start.nodejs_heap_size_used_bytes * 1.5 + 20 * 2 ** 20,
    );
    expect(end.nodejs_eventloop_lag_p99_seconds).toBeLessThan(
      Math.max(3 * start.nodejs_eventloop_lag_p99_seconds, 0.1),
    );
  });
});
