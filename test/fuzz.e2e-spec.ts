import { request as httpRequest, Agent } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { testHmac } from './support/hmac';
import {
  createTestApp,
  resetDatabase,
  TEST_OPERATOR_KEY,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';

const CASES_PER_OPERATION = 200;
const SEED = 0x0fa1;

/** mulberry32: small, seeded, so a failure is reproducible by its case number. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  $ref?: string;
  allOf?: Schema[];
}
interface Operation {
  method: string;
  path: string;
  parameters: { name: string; in: string }[];
  bodySchema: Schema | null;
}
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const CONTROL = '\u0000\u0001\u0007\b\t\n\r\u001b\u007f\u2028\ud800';
const ODD_STRINGS = [
  '',
  ' ',
  'x'.repeat(70_000),
  'y'.repeat(300),
  CONTROL,
  '../../etc/passwd',
  "' OR 1=1 --",
  '%00',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  '😀'.repeat(50),
  '-1',
  '1e309',
  'NaN',
  '2026-13-45T99:99:99Z',
  // Times ISO-8601 allows and PostgreSQL refuses (or JavaScript cannot read).
  '2026-01-01T00:00:00+23:59',
  '2026-01-01T00:00:00-16:00',
  '9999-12-31T23:59:59-15:00',
  '0001-01-01T00:00:00+01:00',
  '2026-W01-1',
  '20260101T000000Z',
  '2026-01-01T00:00:00,5Z',
  'a\u0000b',
  'lone \udc00 surrogate',
  '9'.repeat(400),
  '1e400',
  '00000000-0000-0000-0000-000000000000',
  'null',
  '[]',
];
const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER,
  2 ** 64,
  -1e308,
  [],
  [1, 'a', null],
  {},
  { nested: { deeper: { deepest: [1, 2, 3] } } },
  ...ODD_STRINGS,
];
const ODD_PATH_SEGMENTS = [
  '%ZZ',
  '%',
  '%00',
  '%2F..%2F..',
  '..',
  '.',
  'a'.repeat(4000),
  '%F0%9F%98%80',
  '%C0%AF',
  '00000000-0000-4000-8000-000000000000',
  'not-a-uuid',
  '-1',
  '1e9',
  '%20',
  ';',
  '%0d%0aX-Injected:%201',
  `${'a.'.repeat(6000)}a`,
];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/merge-patch+json',
  '',
  'garbage',
];

/** The body as that encoding would carry it (the service must refuse it unread, whatever it holds). */
function compress(encoding: string, body: Buffer): Buffer {
  if (encoding === 'gzip') return gzipSync(body);
  if (encoding === 'br') return brotliCompressSync(body);
  if (encoding === 'deflate') return deflateSync(body);
  return body;
}

/** The contract's error body, or null. */
function errorBodyOf(text: string): Record<string, unknown> | null {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  const shaped =
    parsed.success === false &&
    typeof parsed.error === 'string' &&
    typeof parsed.code === 'string' &&
    /^[A-Z_]+$/.test(parsed.code) &&
    typeof parsed.message === 'string' &&
    typeof parsed.correlation_id === 'string' &&
    (parsed.details === undefined || Array.isArray(parsed.details));
  return shaped ? parsed : null;
}

/** Percent-encodes, writing a lone surrogate as the bytes of an invalid UTF-8 sequence. */
function encodeQueryValue(value: string): string {
  return value
    .split(/([\ud800-\udfff])/)
    .map((part, i) => (i % 2 === 1 ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');
}

function resolve(
  doc: { components?: { schemas?: Record<string, Schema> } },
  schema: Schema | undefined,
): Schema {
  if (!schema) return {};
  if (schema.$ref) return resolve(doc, doc.components?.schemas?.[schema.$ref.split('/').pop() ?? '']);
  if (schema.allOf?.length === 1) return resolve(doc, schema.allOf[0]);
  return schema;
}

function operationsOf(doc: {
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>
  >;
  components?: { schemas?: Record<string, Schema> };
}): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const body = op.requestBody as { content?: Record<string, { schema?: Schema }> } | undefined;
      const schema = body?.content?.['application/json']?.schema;
      out.push({
        method: method.toUpperCase(),
        path,
        parameters: op.parameters ?? [],
        bodySchema: schema ? resolve(doc, schema) : null,
      });
    }
  }
  return out;
}

describe('fuzz driven by the served OpenAPI document (e2e)', () => {
  let t: TestApp;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    agent.destroy();
    await resetDatabase(t.dataSource);
    await t.close();
  });

  function send(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer,
  ): Promise<Answer> {
    // Node sends a GET body neither chunked nor with a length unless told: say the length.
    if (body) headers = { ...headers, 'Content-Length': String(body.length) };
    return new Promise((resolveAnswer, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: t.port, method, path, headers, agent }, (res) => {
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          // A stream (server-sent events) never ends by itself: its status and headers are the answer.
          res.destroy();
          resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, text: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolveAnswer({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async function loadOperations(): Promise<Operation[]> {
    return operationsOf(
      JSON.parse((await send('GET', '/docs-json', {})).text) as Parameters<typeof operationsOf>[0],
    );
  }

  /** A concrete path for an operation (path parameters filled with a UUID that names nothing). */
  const concrete = (op: Operation) => op.path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');

  it('answers every malformed request without a 5xx, every error in the contract body, and stays healthy', async () => {
    const operations = await loadOperations();
    expect(operations.length).toBeGreaterThanOrEqual(15);
    const random = prng(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
    const failures: string[] = [];
    let total = 0;

    const malformedBody = (schema: Schema | null): string => {
      const roll = random();
      if (roll < 0.12) return pick(['{', '{"a":', '[1,2', '{"a":1}}', 'nul', '\u0000', '{"a":"\ud800"}', '']);
      if (roll < 0.18) return JSON.stringify(pick(ODD_VALUES));
      if (roll < 0.22) return `${'['.repeat(5000)}${']'.repeat(5000)}`;
      if (roll < 0.25) return JSON.stringify({ data: 'z'.repeat(80_000) });
      if (roll < 0.28) return '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}';
      if (roll < 0.31) {
        // Numbers JSON can spell and JavaScript cannot hold exactly (or at all).
        const name = pick([...Object.keys(schema?.properties ?? {}), 'x']);
        return `{"${name}":${pick(['1e400', '-1e400', '123456789012345678901234567890', '1e-400'])}}`;
      }
      const body: Record<string, unknown> = {};
      for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
        const r = random();
        if (r < 0.3) continue;
        if (r < 0.45 && prop.enum) body[name] = pick(prop.enum);
        else body[name] = pick(ODD_VALUES);
      }
      if (random() < 0.4) body[pick(['unknown_field', 'extra', '$where', 'password'])] = pick(ODD_VALUES);
      return JSON.stringify(body);
    };

    const query = (op: Operation): string => {
      const parts: string[] = [];
      for (const p of op.parameters.filter((x) => x.in === 'query')) {
        if (random() < 0.5) continue;
        const value = String(pick(ODD_VALUES.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))));
        parts.push(`${encodeURIComponent(p.name)}=${encodeQueryValue(value)}`);
        if (random() < 0.15) parts.push(`${encodeURIComponent(p.name)}=2`);
      }
      if (random() < 0.2)
        parts.push(pick(['unknown=1', 'a[b][c]=1', 'limit[]=1', '%ZZ=1', 'x=%ZZ', '=', '&&']));
      return parts.length > 0 ? `?${parts.join('&')}` : '';
    };

    for (const op of operations) {
      for (let i = 0; i < CASES_PER_OPERATION; i++) {
        let path = op.path.replace(/\{[^}]+\}/g, () => pick(ODD_PATH_SEGMENTS));
        path += query(op);
        const headers: Record<string, string> = {};
        if (random() < 0.9) headers.Authorization = `Bearer ${TEST_OPERATOR_KEY}`;
        if (random() < 0.1) headers['X-Correlation-ID'] = pick(['', 'a'.repeat(500), 'bad id\t', 'ok-1']);
        if (random() < 0.1) headers['Idempotency-Key'] = pick(['', 'k'.repeat(500), 'ok-key', '\u00e9']);
        let body: Buffer | undefined;
        if (op.method !== 'GET' || random() < 0.1) {
          const text = malformedBody(op.bodySchema);
          body = Buffer.from(text, 'utf8');
          const type = random() < 0.7 ? 'application/json' : pick(CONTENT_TYPES);
          if (type) headers['Content-Type'] = type;
          if (random() < 0.05) {
            const encoding = pick(['gzip', 'br', 'deflate', 'bogus']);
            headers['Content-Encoding'] = encoding;
            body = compress(encoding, body);
          }
          if (op.path === '/api/webhooks/opal-workflow' && random() < 0.6) {
            headers['X-OSA-Signature'] =
              random() < 0.8
                ? testHmac(TEST_WEBHOOK_SECRET).sign(text, Date.now())
                : pick(['', 't=abc,v1=zz', `t=${Date.now()}`, 'v1=' + '0'.repeat(64), 'x'.repeat(5000)]);
          }
        }
        total++;
        const label = `#${i} ${op.method} ${path.slice(0, 120)} [${headers['Content-Type'] ?? '-'}] body=${(
          body?.toString('utf8') ?? ''
        ).slice(0, 120)}`;
        let res: Answer;
        try {
          res = await send(op.method, path, headers, body);
        } catch (error) {
          failures.push(`no answer (${(error as Error).message}) ${label}`);
          continue;
        }
        if (headers['Content-Encoding'] && res.status !== 415) {
          failures.push(`compressed body answered ${res.status} ${label}`);
          continue;
        }
        if (res.status >= 500 && !(op.path.startsWith('/api/health') && res.status === 503)) {
          failures.push(`${res.status} ${label} → ${res.text.slice(0, 200)}`);
          continue;
        }
        if (res.status >= 400 && !op.path.startsWith('/api/health')) {
          if (!errorBodyOf(res.text))
            failures.push(`shape ${res.status} ${label} → ${res.text.slice(0, 200)}`);
          if (res.status === 429 && !res.headers['retry-after'])
            failures.push(`429 without Retry-After ${label}`);
        }
      }
    }

    expect(total).toBe(operations.length * CASES_PER_OPERATION);
    // One line per kind of failure (status and operation), with its first request, keeps the report readable.
    const firstOfKind = new Map<string, string>();
    for (const f of failures) {
      const kind = f.split(' ').slice(0, 4).join(' ').replace(/#\d+ /, '');
      if (!firstOfKind.has(kind)) firstOfKind.set(kind, f);
    }
    expect({ count: failures.length, kinds: [...firstOfKind.values()] }).toEqual({ count: 0, kinds: [] });
    const health = await send('GET', '/api/health', {});
    expect(health.status).toBe(200);
  }, 120_000);
  it('refuses a compressed body on every operation with 415 UNSUPPORTED_CONTENT_ENCODING, before reading it', async () => {
    const operations = await loadOperations();
    const failures: string[] = [];
    const plain = Buffer.from(JSON.stringify({ a: 'x'.repeat(1000) }));
    for (const op of operations) {
      for (const encoding of [
        'gzip',
        'br',
        'deflate',
        'x-gzip',
        'compress',
        'GZIP',
        'gzip, identity',
        'bogus',
      ]) {
        const headers: Record<string, string> = {
          Authorization: `Bearer ${TEST_OPERATOR_KEY}`,
          'Content-Type': 'application/json',
          'Content-Encoding': encoding,
        };
        if (op.path === '/api/webhooks/opal-workflow') {
          headers['X-OSA-Signature'] = testHmac(TEST_WEBHOOK_SECRET).sign(plain, Date.now());
        }
        const res = await send(op.method, concrete(op), headers, compress(encoding.toLowerCase(), plain));
        const body = errorBodyOf(res.text);
        if (res.status !== 415 || body?.code !== 'UNSUPPORTED_CONTENT_ENCODING') {
          failures.push(`${op.method} ${op.path} [${encoding}] → ${res.status} ${res.text.slice(0, 120)}`);
        }
      }
      // identity is no encoding at all.
      const res = await send(op.method, concrete(op), { 'Content-Encoding': 'identity' });
      if (res.status === 415) failures.push(`${op.method} ${op.path} [identity] → 415`);
    }
    expect(failures).toEqual([]);
  });

  it('answers long paths and case or trailing-slash variants of every route 404 in the error body', async () => {
    const operations = await loadOperations();
    const failures: string[] = [];
    for (const op of operations) {
      const path = concrete(op);
      const variants = [`${path}/${'a.'.repeat(6000)}a`, `${path}/`, path.toUpperCase(), `${path}/.`];
      for (const variant of variants.filter((v) => v !== path && v !== '//')) {
        const res = await send(op.method, variant, { Authorization: `Bearer ${TEST_OPERATOR_KEY}` });
        // NOT_FOUND, or WORKFLOW_NOT_FOUND where the variant names a workflow (`/api/opal/sync/a.a.…`).
        if (res.status !== 404 || !/NOT_FOUND$/.test(String(errorBodyOf(res.text)?.code))) {
          failures.push(`${op.method} ${variant.slice(0, 80)} → ${res.status} ${res.text.slice(0, 120)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('refuses every time PostgreSQL would not store with 400 naming the field, never a 5xx', async () => {
    const odd = [
      '2026-01-01T00:00:00+23:59',
      '2026-01-01T00:00:00-16:00',
      '2026-01-01T00:00:00+2359',
      '2026-01-01T00:00:00+23',
      '9999-12-31T23:59:59-15:00',
      '0001-01-01T00:00:00+01:00',
      '2026-W01-1',
      '20260101T000000Z',
      '2026-01-01T00:00:00,5Z',
      '2026-01-01T00Z',
    ];
    const accepted = [
      '2026-01-01T00:00:00+15:59',
      '0100-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      '2026-001',
    ];
    const operations = await loadOperations();
    const dateParams = operations.flatMap((op) =>
      op.parameters
        .filter((p) => p.in === 'query' && /_date$/.test(p.name))
        .map((p) => ({ op, name: p.name })),
    );
    expect(dateParams.length).toBeGreaterThanOrEqual(2);
    const failures: string[] = [];
    for (const { op, name } of dateParams) {
      for (const value of [...odd, ...accepted]) {
        const res = await send(op.method, `${concrete(op)}?${name}=${encodeURIComponent(value)}`, {
          Authorization: `Bearer ${TEST_OPERATOR_KEY}`,
        });
        const body = errorBodyOf(res.text);
        const named = JSON.stringify(body?.details ?? []).includes(`"field":"${name}"`);
        const ok = odd.includes(value) ? res.status === 400 && named : res.status === 200;
        if (!ok)
          failures.push(`${op.method} ${op.path} ${name}=${value} → ${res.status} ${res.text.slice(0, 160)}`);
      }
    }
    // The receiver's `timestamp`, signed, so that it reaches validation.
    for (const value of [...odd, ...accepted]) {
      const text = JSON.stringify({
        event_type: 'workflow_started',
        workflow_id: `fuzz-time-${value}`,
        timestamp: value,
      });
      const res = await send(
        'POST',
        '/api/webhooks/opal-workflow',
        {
          'Content-Type': 'application/json',
          'X-OSA-Signature': testHmac(TEST_WEBHOOK_SECRET).sign(text, Date.now()),
        },
        Buffer.from(text),
      );
      const body = errorBodyOf(res.text);
      const named = JSON.stringify(body?.details ?? []).includes('"field":"timestamp"');
      const ok = odd.includes(value) ? res.status === 400 && named : res.status === 202;
      if (!ok) failures.push(`POST webhook timestamp=${value} → ${res.status} ${res.text.slice(0, 160)}`);
    }
    expect(failures).toEqual([]);
  });
});
