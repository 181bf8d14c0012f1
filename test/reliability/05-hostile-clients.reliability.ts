import { connect, type Socket } from 'node:net';
import { scrape } from './support/checks';
import { n, operatorHeaders, report, sleep, tunable } from './support/harness';
import { http, type HttpAnswer } from './support/http';
import { singleServiceScenario } from './support/scenario';
import { signedHeaders, WEBHOOK_PATH } from './support/sender';

const WEBHOOK_LIMIT_PER_MIN = 300;
/** Node checks request and header timeouts on a 30 s interval, so a cut can come that much after the timeout. */
const CHECK_INTERVAL_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

type SlowKind = 'idle' | 'slow_headers' | 'slow_body';

interface SlowClient {
  kind: SlowKind;
  openedAt: number;
  closedAt: number | null;
  answer: string;
}

/**
 * Scenario 5: slow uploads (slowloris), oversized bodies and floods of wrongly signed callbacks. The service keeps
 * answering, cuts slow clients off within its server timeouts, refuses oversized bodies without buffering them,
 * and a flood gets 429 beyond the webhook rate limit while what it leaves in the database stays small.
 */
describe('reliability 5: slow and hostile clients', () => {
  const scenario = singleServiceScenario('s5', { RATE_LIMIT_WEBHOOK_PER_MIN: String(WEBHOOK_LIMIT_PER_MIN) });

  it('survives slow clients, oversized bodies and a signature flood', async () => {
    const slowCount = tunable('RELIABILITY_SLOW_CLIENTS', { full: 300, quick: 150 });
    const floodCount = tunable('RELIABILITY_FLOOD', { full: 3000, quick: 1500 });
    const rssStart = (await scrape(scenario.service.url, ['process_resident_memory_bytes']))
      .process_resident_memory_bytes;

    // Slow clients: connect and say nothing, dribble headers, or dribble a body.
    const kinds: SlowKind[] = ['idle', 'slow_headers', 'slow_body'];
    const slow: SlowClient[] = [];
    const sockets: Socket[] = [];
    for (let i = 0; i < slowCount; i++) {
      const client: SlowClient = { kind: kinds[i % 3], openedAt: Date.now(), closedAt: null, answer: '' };
      slow.push(client);
      sockets.push(openSlowClient(scenario.service.port, client));
    }
    await sleep(1000);

    // Meanwhile, ordinary clients are served: every probe and event below is answered while every slow client
    // still holds its connection (how long they took is a figure of the results, not a pass mark).
    const liveLatencies: number[] = [];
    const legitAnswers: number[] = [];
    for (let i = 0; i < 20; i++) {
      const began = Date.now();
      const live = await http(`${scenario.service.url}/api/health/live`, { timeoutMs: 5000 });
      liveLatencies.push(Date.now() - began);
      expect(live.status).toBe(200);
      const body = JSON.stringify({
        event_id: `s5-legit-${i}`,
        workflow_id: `s5-unknown-workflow`,
        event_type: 'workflow_started',
      });
      legitAnswers.push(
        (
          await http(`${scenario.service.url}${WEBHOOK_PATH}`, {
            method: 'POST',
            headers: signedHeaders(body),
            body,
          })
        ).status,
      );
      await sleep(100);
    }
    const slowStillOpenAfterOrdinary = slow.filter((c) => c.closedAt === null).length;

    // Oversized bodies: with a length, and chunked without one; on the webhook path (1 MiB) and elsewhere (64 KiB).
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    const oversized = await Promise.all([
      ...Array.from({ length: 10 }, () => postRaw(scenario.service.url, WEBHOOK_PATH, big, true)),
      ...Array.from({ length: 10 }, () => postRaw(scenario.service.url, WEBHOOK_PATH, big, false)),
      ...Array.from({ length: 10 }, () =>
        postRaw(scenario.service.url, '/api/opal/sync', Buffer.alloc(200 * 1024, 'a'), true),
      ),
    ]);
    const rssAfterOversized = (await scrape(scenario.service.url, ['process_resident_memory_bytes']))
      .process_resident_memory_bytes;

    // Wait for the server to cut every slow client off (bounded: timeouts plus one check interval plus slack).
    const cutDeadline = Date.now() + REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + 15_000;
    while (slow.some((c) => c.closedAt === null) && Date.now() < cutDeadline) await sleep(250);
    sockets.forEach((s) => s.destroy());
    const cutAfter = (kind: SlowKind): number =>
      Math.max(...slow.filter((c) => c.kind === kind).map((c) => (c.closedAt ?? Infinity) - c.openedAt));
    const stillOpen = slow.filter((c) => c.closedAt === null).length;

    // Signature flood with a wrong secret.
    const eventsBefore: number = (await scenario.pool.query(`SELECT count(*)::int AS n FROM webhook_events`))
      .rows[0].n;
    const floodAnswers: Record<string, number> = {};
    let retryAfterOn429 = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < floodCount) {
          const i = next++;
          const body = JSON.stringify({
            event_id: `s5-flood-${i}`,
            workflow_id: 'x',
            event_type: 'workflow_started',
          });
          const answer = await http(`${scenario.service.url}${WEBHOOK_PATH}`, {
            method: 'POST',
            headers: signedHeaders(body, `wrong-secret-${i % 7}-${'w'.repeat(20)}`),
            body,
            maxSockets: 32,
          }).catch((): HttpAnswer => ({ status: 0, text: '', headers: {} }));
          floodAnswers[answer.status] = (floodAnswers[answer.status] ?? 0) + 1;
          if (answer.status === 429 && answer.headers['retry-after']) retryAfterOn429 += 1;
        }
      }),
    );
    const eventsAfter: number = (await scenario.pool.query(`SELECT count(*)::int AS n FROM webhook_events`))
      .rows[0].n;
    const rejected: { rows: number; total: number } = (
      await scenario.pool.query(
        `SELECT count(*)::int AS rows, coalesce(sum(count), 0)::int AS total FROM rejected_deliveries`,
      )
    ).rows[0];
    const live = await http(`${scenario.service.url}/api/health/ready`);
    const rssEnd = (await scrape(scenario.service.url, ['process_resident_memory_bytes']))
      .process_resident_memory_bytes;

    const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);
    const flood401 = floodAnswers['401'] ?? 0;
    const flood429 = floodAnswers['429'] ?? 0;
    report(
      '5. Slow and hostile clients',
      {
        slow_clients: slowCount,
        slow_clients_cut_off: slowCount - stillOpen,
        max_s_to_cut_idle: (cutAfter('idle') / 1000).toFixed(1),
        max_s_to_cut_slow_headers: (cutAfter('slow_headers') / 1000).toFixed(1),
        max_s_to_cut_slow_body: (cutAfter('slow_body') / 1000).toFixed(1),
        answers_to_slow_clients: countBy(slow.map((c) => c.answer || 'closed without answer')),
        live_probe_ms_max_during_attack: Math.max(...liveLatencies),
        slow_clients_open_while_ordinary_clients_served: slowStillOpenAfterOrdinary,
        legit_events_during_attack: countBy(legitAnswers.map(String)),
        oversized_answers: countBy(oversized),
        rss_mb_start_after_oversized_end: [mb(rssStart), mb(rssAfterOversized), mb(rssEnd)],
        flood_requests: floodCount,
        flood_answers: floodAnswers,
        flood_429_with_retry_after: retryAfterOn429,
        webhook_limit_per_min: WEBHOOK_LIMIT_PER_MIN,
        events_stored_by_flood: eventsAfter - eventsBefore,
        rejected_delivery_rows: rejected.rows,
        rejected_deliveries_counted: rejected.total,
        ready_after: live.status,
      },
      `${slowCount} slow clients (idle, slow headers, slow body): ${slowCount - stillOpen} cut off by the server timeouts (the last after ${(Math.max(cutAfter('idle'), cutAfter('slow_headers'), cutAfter('slow_body')) / 1000).toFixed(0)} s); meanwhile ${liveLatencies.length} liveness probes answered (slowest ${Math.max(...liveLatencies)} ms) and ${legitAnswers.filter((a) => a === 202).length}/${legitAnswers.length} real events accepted; oversized bodies ${Object.entries(
        countBy(oversized),
      )
        .map(([a, c]) => `${c} × ${a}`)
        .join(
          ', ',
        )}; ${n(floodCount)} wrongly signed posts at ${WEBHOOK_LIMIT_PER_MIN}/min: ${n(flood401)} × 401, ${n(flood429)} × 429 (${n(retryAfterOn429)} with Retry-After), ${rejected.rows} rejected-delivery rows, ${eventsAfter - eventsBefore} events stored`,
    );

    expect(stillOpen).toBe(0);
    expect(cutAfter('idle')).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + 5000);
    expect(cutAfter('slow_headers')).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_INTERVAL_MS + 5000);
    expect(cutAfter('slow_body')).toBeLessThan(REQUEST_TIMEOUT_MS + CHECK_INTERVAL_MS + 5000);
    expect(slowStillOpenAfterOrdinary).toBe(slowCount);
    expect(legitAnswers).toEqual(legitAnswers.map(() => 202));
    expect(oversized.every((a) => a === '413' || a === 'closed by server')).toBe(true);
    expect(oversized.filter((a) => a === '413').length).toBeGreaterThan(0);
    expect(rssAfterOversized - rssStart).toBeLessThan(150 * 1024 * 1024);
    expect(Object.keys(floodAnswers).sort()).toEqual(['401', '429']);
    // The limit is per client and window; the legitimate events above may fall in an earlier window.
    expect(floodAnswers['401']).toBeLessThanOrEqual(WEBHOOK_LIMIT_PER_MIN);
    expect(floodAnswers['429']).toBeGreaterThanOrEqual(floodCount - WEBHOOK_LIMIT_PER_MIN);
    expect(retryAfterOn429).toBe(floodAnswers['429']);
    expect(eventsAfter).toBe(eventsBefore);
    expect(rejected.rows).toBeLessThanOrEqual(10);
    expect(live.status).toBe(200);
  });
});

function openSlowClient(port: number, client: SlowClient): Socket {
  const socket = connect(port, '127.0.0.1');
  let timer: NodeJS.Timeout | null = null;
  socket.on('connect', () => {
    if (client.kind === 'idle') return;
    if (client.kind === 'slow_headers') {
      socket.write(`POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
      timer = setInterval(() => socket.write(`X-Slow-${Date.now()}: 1\r\n`), 1000);
    } else {
      socket.write(
        `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `X-OSA-Signature: t=1,v1=00\r\nContent-Length: 100000\r\n\r\n{"a":"`,
      );
      timer = setInterval(() => socket.write('aaaaaaaaaa'), 1000);
    }
  });
  socket.on('data', (chunk: Buffer) => {
    if (!client.answer) client.answer = chunk.toString().split('\r\n')[0];
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    if (timer) clearInterval(timer);
    client.closedAt ??= Date.now();
  });
  return socket;
}

/** Posts a large body; "closed by server" when the server answered early and closed while we were writing. */
function postRaw(baseUrl: string, path: string, body: Buffer, withLength: boolean): Promise<string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...operatorHeaders() };
  if (!withLength) headers['Transfer-Encoding'] = 'chunked';
  return new Promise((resolve) => {
    const url = new URL(path, baseUrl);
    const socket = connect(Number(url.port), '127.0.0.1');
    let answer = '';
    socket.on('connect', () => {
      const head = [
        `POST ${path} HTTP/1.1`,
        'Host: 127.0.0.1',
        'Connection: close',
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        ...(withLength ? [`Content-Length: ${body.length}`] : []),
      ].join('\r\n');
      socket.write(`${head}\r\n\r\n`);
      if (withLength) socket.write(body);
      else {
        for (let offset = 0; offset < body.length; offset += 64 * 1024) {
          const part = body.subarray(offset, offset + 64 * 1024);
          socket.write(`${part.length.toString(16)}\r\n`);
          socket.write(part);
          socket.write('\r\n');
        }
        socket.write('0\r\n\r\n');
      }
    });
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      resolve(status ?? 'closed by server');
    });
    setTimeout(() => socket.destroy(), 30_000).unref();
  });
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
