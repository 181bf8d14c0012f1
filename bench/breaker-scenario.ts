/**
 * The OPAL circuit breaker's effect: force-sync answer times while OPAL is down, with the breaker off
 * (OPAL_BREAKER_FAILURES=0, every request spends its response budget on OPAL) and on (the default 5: after five
 * failed calls the breaker opens and requests answer 202 at once). Two kinds of "down": an OPAL that accepts
 * connections and never answers (a hung server, a black-holing load balancer: each call waits for its timeout)
 * and one that refuses connections (process stopped: each call fails at once, so the breaker saves little).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { freePort } from '../src/common/free-port';
import { summarize } from './stats';

export type OpalDownKind = 'unresponsive' | 'refusing';

export interface BreakerRun {
  opal_down: OpalDownKind;
  breaker: 'off' | 'on';
  breaker_failures: number;
  requests: number;
  statuses: Record<string, number>;
  p50_ms: number | null;
  p95_ms: number | null;
  max_ms: number | null;
  /** The answers after the breaker could have opened (requests 6 and later). */
  after_open_p50_ms: number | null;
}

/** An "OPAL" that accepts connections and never answers: every call waits for its timeout. */
export async function startUnresponsiveOpal(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/webhooks/strategy_workflow`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An "OPAL" whose process is stopped: a port nothing listens on. */
export async function refusingOpalUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}/webhooks/strategy_workflow`;
}

/** `requests` force syncs one after the other (each a new client, so none is refused as already active). */
export async function forceSyncSeries(
  serviceUrl: string,
  operatorKey: string,
  requests: number,
  tag: string,
): Promise<{ latencies: number[]; statuses: Record<string, number> }> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  for (let n = 0; n < requests; n++) {
    const started = performance.now();
    const res = await fetch(`${serviceUrl}/api/opal/sync`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${operatorKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_context: { client_name: `bench-breaker-${tag}-${n}` } }),
    });
    await res.arrayBuffer();
    latencies.push(performance.now() - started);
    statuses[String(res.status)] = (statuses[String(res.status)] ?? 0) + 1;
  }
  return { latencies, statuses };
}

export function breakerRun(
  opalDown: OpalDownKind,
  breakerFailures: number,
  series: { latencies: number[]; statuses: Record<string, number> },
): BreakerRun {
  const all = summarize(series.latencies);
  const after = summarize(series.latencies.slice(Math.max(breakerFailures, 5)));
  return {
    opal_down: opalDown,
    breaker: breakerFailures === 0 ? 'off' : 'on',
    breaker_failures: breakerFailures,
    requests: series.latencies.length,
    statuses: series.statuses,
    p50_ms: all.p50_ms,
    p95_ms: all.p95_ms,
    max_ms: all.max_ms,
    after_open_p50_ms: after.p50_ms,
  };
}
