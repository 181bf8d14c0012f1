import { Agent, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { testHmac } from './support/hmac';
import {
  createTestApp,
  freePort,
  resetDatabase,
  TEST_OPERATOR_KEY,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';
import { testDatabaseUrl } from './support/database';
import { seedEvent } from './support/seed';
import { ServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';
import { WEBHOOK_PATH } from './support/webhooks';

/**
 * What an unauthenticated caller (or a web page) can make the service do with the request itself: compressed
 * bodies, bodies declared but not sent, many or slow connections, long paths, path variants, cross-site form
 * posts, slow headers. Where a finding was about cost, the attack is measured against a plain request in the
 * same test.
 */

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  ms: number;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<Answer> {
  const all = body ? { ...headers, 'Content-Length': String(body.length) } : headers;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers: all, agent: keepAlive },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            ms: Number(process.hrtime.bigint() - started) / 1e6,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Sends the request line and headers only (the body they announce never comes) and resolves with the answer,
 * or rejects when none arrives within `timeoutMs`: a server that reads the body first never answers.
 */
function headersOnly(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  timeoutMs = 5000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms while the announced body was not sent`));
    }, timeoutMs);
    req.on('error', () => undefined);
    req.flushHeaders();
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Alternates a plain request and the attack `rounds` times; medians of their answer times. */
async function compareCost(
  rounds: number,
  plain: () => Promise<Answer>,
  attack: () => Promise<Answer>,
): Promise<{ plain: number; attack: number; plainAnswers: Answer[]; attackAnswers: Answer[] }> {
  const plainAnswers: Answer[] = [];
  const attackAnswers: Answer[] = [];
  // Warm both paths first (JIT, connections).
  await plain();
  await attack();
  for (let i = 0; i < rounds; i++) {
    plainAnswers.push(await plain());
    attackAnswers.push(await attack());
  }
  return {
    plain: median(plainAnswers.map((a) => a.ms)),
    attack: median(attackAnswers.map((a) => a.ms)),
    plainAnswers,
    attackAnswers,
  };
}

function codeOf(answer: Answer): unknown {
  return (JSON.parse(answer.text) as { code?: unknown }).code;
}

function expectErrorBody(answer: Answer, status: number, code: string): void {
  expect([answer.status, JSON.parse(answer.text)]).toEqual([
    status,
    {
      success: false,
      error: expect.any(String),
      code,
      message: expect.any(String),
      correlation_id: expect.any(String),
    },
  ]);
}

const WRONG_SIGNATURE = { 'X-OSA-Signature': `t=${Date.now()},v1=${'0'.repeat(64)}` };
const JSON_TYPE = { 'Content-Type': 'application/json' };
const OPERATOR = { Authorization: `Bearer ${TEST_OPERATOR_KEY}` };

describe('request hardening (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    keepAlive.destroy();
    await t.close();
  });

  describe('compressed bodies are refused before a byte is read', () => {
    // 1 MiB of JSON in a few dozen bytes: the most the receiver would have inflated and parsed per request.
    const inflated = Buffer.from(JSON.stringify({ a: 'a'.repeat(1024 * 1024 - 16) }));
    const brotli = brotliCompressSync(inflated);
    const gzip = gzipSync(inflated, { level: 9 });

    it('answers a compression bomb 415 at no more than twice the cost of a plain 401', async () => {
      expect(brotli.length).toBeLessThan(64);
      const plainBody = Buffer.from('{"event_type":"workflow_started","workflow_id":"x"}');
      const stored = async () =>
        (await t.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM webhook_events`))[0].n;
      const before = await stored();
      const cost = await compareCost(
        40,
        () => send(t.port, 'POST', WEBHOOK_PATH, { ...JSON_TYPE, ...WRONG_SIGNATURE }, plainBody),
        () =>
          send(
            t.port,
            'POST',
            WEBHOOK_PATH,
            { ...JSON_TYPE, ...WRONG_SIGNATURE, 'Content-Encoding': 'br' },
            brotli,
          ),
      );
      expect(new Set(cost.plainAnswers.map((a) => a.status))).toEqual(new Set([401]));
      for (const answer of cost.attackAnswers) expectErrorBody(answer, 415, 'UNSUPPORTED_CONTENT_ENCODING');
      expect(cost.attack).toBeLessThanOrEqual(2 * cost.plain);
      // The signature is over the bytes received: a body signed before compression is no better.
      const signed = await send(
        t.port,
        'POST',
        WEBHOOK_PATH,
        {
          ...JSON_TYPE,
          'Content-Encoding': 'gzip',
          'X-OSA-Signature': testHmac(TEST_WEBHOOK_SECRET).sign(inflated, Date.now()),
        },
        gzip,
      );
      expectErrorBody(signed, 415, 'UNSUPPORTED_CONTENT_ENCODING');
      expect(await stored()).toBe(before);
    });

    it('answers without waiting for the body at all, on the receiver and on an operator route', async () => {
      for (const path of [WEBHOOK_PATH, '/api/opal/sync']) {
        const answer = await headersOnly(t.port, 'POST', path, {
          ...JSON_TYPE,
          ...OPERATOR,
          'Content-Encoding': 'gzip',
          'Content-Length': '1000000',
        });
        expectErrorBody(answer, 415, 'UNSUPPORTED_CONTENT_ENCODING');
      }
    });

    it('lets 200 slow compressed uploads hold no decompressor: each is answered 415 after its first bytes', async () => {
      const big = brotliCompressSync(Buffer.alloc(16 * 1024 * 1024, 97));
      const rssBefore = process.memoryUsage().rss;
      const sockets: Socket[] = [];
      const answers: string[] = [];
      for (let i = 0; i < 200; i++) {
        const socket = connect(t.port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => {
          answers[i] ??= chunk.toString('latin1').split('\r\n')[0];
        });
        socket.write(
          `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
            `Content-Encoding: br\r\nContent-Length: ${big.length}\r\n\r\n`,
        );
        socket.write(big.subarray(0, 20));
        sockets.push(socket);
      }
      try {
        await waitFor(() => answers.filter(Boolean).length === 200, 'an answer on every slow upload', {
          timeoutMs: 15000,
        });
        expect(new Set(answers)).toEqual(new Set(['HTTP/1.1 415 Unsupported Media Type']));
        // Inflating each would have held a decoder and its output (hundreds of MB for 200 of them).
        expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });
  });

  describe('long paths', () => {
    it('cost no more than three times a plain request, and are cut in the access line', async () => {
      const longPath = `/${'a.'.repeat(7000)}a`;
      const cost = await compareCost(
        20,
        () => send(t.port, 'GET', '/no-such-route'),
        () => send(t.port, 'GET', longPath),
      );
      for (const answer of [...cost.plainAnswers, ...cost.attackAnswers])
        expectErrorBody(answer, 404, 'NOT_FOUND');
      expect(cost.attack).toBeLessThanOrEqual(3 * cost.plain);
      const lines = t.logs.filter((line) => line.includes('a.a.a.a.a.a'));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        const path = String((JSON.parse(line) as { path?: unknown }).path);
        expect(path.length).toBeLessThan(300);
        expect(path).toMatch(/…\[truncated, 14002 chars\]$/);
      }
    });
  });

  describe('routes match exactly, so every path gets the body rules of its own route', () => {
    const signedForm = (text: string) => ({
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-OSA-Signature': testHmac(TEST_WEBHOOK_SECRET).sign(text, Date.now()),
    });

    it('answers variants of the receiver 404 and stores nothing', async () => {
      for (const path of [`${WEBHOOK_PATH}/`, '/API/Webhooks/Opal-Workflow', '/api/webhooks/OPAL-workflow']) {
        const text = JSON.stringify({ event_type: 'workflow_started', workflow_id: `variant ${path}` });
        expectErrorBody(
          await send(t.port, 'POST', path, signedForm(text), Buffer.from(text)),
          404,
          'NOT_FOUND',
        );
      }
      const rows = await t.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM webhook_events WHERE workflow_ref LIKE 'variant %'`,
      );
      expect(rows[0].n).toBe(0);
      expectErrorBody(await send(t.port, 'GET', '/api/health/'), 404, 'NOT_FOUND');
      expectErrorBody(await send(t.port, 'GET', '/API/HEALTH'), 404, 'NOT_FOUND');
    });

    it("applies the receiver's rules on the receiver (JSON only, 1 MiB) and 64 KiB elsewhere", async () => {
      const text = JSON.stringify({ event_type: 'workflow_started', workflow_id: 'form-typed' });
      expectErrorBody(
        await send(t.port, 'POST', WEBHOOK_PATH, signedForm(text), Buffer.from(text)),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      const large = JSON.stringify({
        event_type: 'workflow_started',
        workflow_id: 'large-but-allowed',
        agent_data: { padding: 'p'.repeat(100 * 1024) },
      });
      const accepted = await send(
        t.port,
        'POST',
        WEBHOOK_PATH,
        { ...JSON_TYPE, 'X-OSA-Signature': testHmac(TEST_WEBHOOK_SECRET).sign(large, Date.now()) },
        Buffer.from(large),
      );
      expect(accepted.status).toBe(202);
      const elsewhere = JSON.stringify({ metadata: { padding: 'p'.repeat(100 * 1024) } });
      expectErrorBody(
        await send(t.port, 'POST', '/api/opal/sync', { ...JSON_TYPE, ...OPERATOR }, Buffer.from(elsewhere)),
        413,
        'PAYLOAD_TOO_LARGE',
      );
    });
  });
});

describe('rate limits and authentication come before the body (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_WEBHOOK_PER_MIN: '1' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 429 to a flood without reading the bodies it announces', async () => {
    const first = await send(
      t.port,
      'POST',
      WEBHOOK_PATH,
      { ...JSON_TYPE, ...WRONG_SIGNATURE },
      Buffer.from('{}'),
    );
    expect(first.status).toBe(401);
    const limited = await headersOnly(t.port, 'POST', WEBHOOK_PATH, {
      ...JSON_TYPE,
      ...WRONG_SIGNATURE,
      'Content-Length': String(1024 * 1024),
    });
    expectErrorBody(limited, 429, 'RATE_LIMITED');
  });

  it('answers 401 to a wrong operator key without reading the body it announces', async () => {
    const answer = await headersOnly(t.port, 'POST', '/api/opal/sync', {
      ...JSON_TYPE,
      Authorization: `Bearer ${'x'.repeat(40)}`,
      'Content-Length': '60000',
    });
    expectErrorBody(answer, 401, 'AUTHENTICATION_FAILED');
  });

  it('answers 413 to a body announced over the limit without reading it', async () => {
    const answer = await headersOnly(t.port, 'POST', '/api/opal/sync', {
      ...JSON_TYPE,
      ...OPERATOR,
      'Content-Length': String(10 * 1024 * 1024),
    });
    expectErrorBody(answer, 413, 'PAYLOAD_TOO_LARGE');
  });
});

describe('connections are bounded (MAX_CONNECTIONS) (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ MAX_CONNECTIONS: '5' });
  });
  afterAll(async () => {
    await t.close();
  });

  const connections = () =>
    new Promise<number>((resolve, reject) =>
      (t.app.getHttpServer() as Server).getConnections((error, count) =>
        error ? reject(error) : resolve(count),
      ),
    );
  const liveOnNewConnection = () =>
    new Promise<number | string>((resolve) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: t.port, path: '/api/health/live', agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      req.end();
    });

  it('closes connections beyond the limit at once and accepts again when some close', async () => {
    expect((t.app.getHttpServer() as Server).maxConnections).toBe(5);
    const idle: Socket[] = [];
    for (let i = 0; i < 5; i++) {
      const socket = connect(t.port, '127.0.0.1');
      socket.on('error', () => undefined);
      idle.push(socket);
    }
    try {
      await waitFor(async () => (await connections()) === 5, 'five open connections');
      expect(await liveOnNewConnection()).toBe('ECONNRESET');
    } finally {
      for (const socket of idle) socket.destroy();
    }
    await waitFor(async () => (await connections()) === 0, 'the idle connections to close');
    expect(await liveOnNewConnection()).toBe(200);
  });
});

describe('slow requests are answered 408 (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // The production values are 10 s and 30 s, checked every 30 s; the same mechanism, shortened.
    t = await createTestApp({}, undefined, (app) => {
      // Node reads the checking interval when the server starts listening.
      const server = app.getHttpServer() as Server & { connectionsCheckingInterval: number };
      server.headersTimeout = 400;
      server.requestTimeout = 800;
      server.connectionsCheckingInterval = 100;
    });
  });
  afterAll(async () => {
    await t.close();
  });

  function slowRequest(head: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(t.port, '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(answer));
      socket.write(head);
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
  }

  function expectTimeoutAnswer(raw: string): void {
    const [head, body] = raw.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(JSON.parse(body)).toEqual({
      success: false,
      error: 'Request Timeout',
      code: 'REQUEST_TIMEOUT',
      message: expect.any(String),
      correlation_id: expect.any(String),
    });
  }

  it('answers headers that never end 408 in the error body', async () => {
    expectTimeoutAnswer(await slowRequest('GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
  });

  it('answers a body that never ends 408 in the error body', async () => {
    expectTimeoutAnswer(
      await slowRequest(
        `POST /api/opal/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_OPERATOR_KEY}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sync_',
      ),
    );
  });
});

describe('open operator routes (no OPERATOR_API_KEYS, outside production) (e2e)', () => {
  let t: TestApp;
  const DIAGNOSTICS = '/api/diagnostics/last-webhook';

  beforeAll(async () => {
    t = await createTestApp({ OPERATOR_API_KEYS: undefined });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

  it('refuses a cross-site form post with 415 and does nothing: no cleanup, no force sync', async () => {
    await seedEvent(t.dataSource, {
      eventType: 'workflow_started',
      workflowRef: 'old-event',
      receivedMinutesAgo: 40 * 1440,
    });
    const cleanup = Buffer.from('{"action":"cleanup_old_events","retention_days":1}');
    expectErrorBody(
      await send(t.port, 'POST', DIAGNOSTICS, { ...form, Origin: 'https://evil.example' }, cleanup),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expectErrorBody(
      await send(t.port, 'POST', DIAGNOSTICS, { ...form, 'Sec-Fetch-Site': 'cross-site' }, cleanup),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const sync = Buffer.from('{"sync_scope":"odp_only"}');
    expectErrorBody(
      await send(t.port, 'POST', '/api/opal/sync', { ...form, Origin: 'https://evil.example' }, sync),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    const counts = await t.dataSource.query<{ events: number; syncs: number }[]>(
      `SELECT (SELECT count(*)::int FROM webhook_events) AS events, (SELECT count(*)::int FROM workflows) AS syncs`,
    );
    expect(counts[0]).toEqual({ events: 1, syncs: 0 });
  });

  it("keeps the runbook's curl -d commands working (form type, no Origin)", async () => {
    // curl -X POST …/api/diagnostics/last-webhook -d '{"action": "test_configuration"}'
    const answer = await send(
      t.port,
      'POST',
      DIAGNOSTICS,
      form,
      Buffer.from('{"action": "test_configuration"}'),
    );
    expect(answer.status).toBe(200);
    expect(codeOf(answer)).toBeUndefined();
  });
});

describe('listening address with open operator routes (e2e)', () => {
  const outward = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

  function reach(host: string, port: number): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, host, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  }

  async function start(extra: Record<string, string>): Promise<ServiceProcess> {
    const port = await freePort();
    const service = new ServiceProcess({
      NODE_ENV: 'test',
      PORT: String(port),
      DATABASE_URL: await testDatabaseUrl('_listen'),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'opal-force-sync-listen-')),
      ...extra,
    });
    await service.start();
    return service;
  }

  it('listens on 127.0.0.1 only, unless HOST says otherwise', async () => {
    const local = await start({});
    try {
      const port = Number(new URL(local.url).port);
      expect(local.output.join('\n')).toContain('listening on 127.0.0.1');
      expect(await reach('127.0.0.1', port)).toBe('connected');
      if (outward) expect(await reach(outward, port)).toBe('ECONNREFUSED');
      else process.stdout.write('no non-loopback IPv4 address here: only the log line is checked\n');
    } finally {
      await local.stop();
    }
    const everywhere = await start({ HOST: '0.0.0.0' });
    try {
      const port = Number(new URL(everywhere.url).port);
      expect(everywhere.output.join('\n')).toContain('listening on 0.0.0.0');
      if (outward) expect(await reach(outward, port)).toBe('connected');
    } finally {
      await everywhere.stop();
    }
  }, 120_000);
});
