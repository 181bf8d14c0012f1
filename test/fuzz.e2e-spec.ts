import { request as httpRequest, Agent } from 'node:http';
import { buildSignatureHeader } from '../src/common/signature';
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

  it('answers every malformed request without a 5xx, every error in the contract body, and stays healthy', async () => {
    const doc = JSON.parse((await send('GET', '/docs-json', {})).text) as Parameters<typeof operationsOf>[0];
    const operations = operationsOf(doc);
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
          if (random() < 0.05) headers['Content-Encoding'] = pick(['gzip', 'br', 'bogus']);
          if (op.path === '/api/webhooks/opal-workflow' && random() < 0.6) {
            headers['X-OSA-Signature'] =
              random() < 0.8
                ? buildSignatureHeader(TEST_WEBHOOK_SECRET, text, Date.now())
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
        if (res.status >= 500 && !(op.path.startsWith('/api/health') && res.status === 503)) {
          failures.push(`${res.status} ${label} → ${res.text.slice(0, 200)}`);
          continue;
        }
        if (res.status >= 400 && !op.path.startsWith('/api/health')) {
          let parsed: Record<string, unknown> | null;
          try {
            parsed = JSON.parse(res.text) as Record<string, unknown>;
          } catch {
            parsed = null;
          }
          const shaped =
            parsed !== null &&
            parsed.success === false &&
            typeof parsed.error === 'string' &&
            typeof parsed.code === 'string' &&
            /^[A-Z_]+$/.test(parsed.code) &&
            typeof parsed.message === 'string' &&
            typeof parsed.correlation_id === 'string' &&
            (parsed.details === undefined || Array.isArray(parsed.details));
          if (!shaped) failures.push(`shape ${res.status} ${label} → ${res.text.slice(0, 200)}`);
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
});
