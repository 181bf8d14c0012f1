import request from 'supertest';
import { testHmac } from './support/hmac';
import { createTestApp, resetDatabase, TEST_WEBHOOK_SECRET, type TestApp } from './support/app';
import { seedEvent } from './support/seed';
import { WEBHOOK_PATH } from './support/webhooks';

/**
 * What callers can make the service store or build: payload pages, failed authentications, idempotency keys
 * across callers, and values PostgreSQL refuses. Each test sends the attack and checks what is stored or answered.
 */

const KEY_A = `operator-a-${'a'.repeat(32)}-${process.pid}`;
const KEY_B = `operator-b-${'b'.repeat(32)}-${process.pid}`;
const DIAGNOSTICS = '/api/diagnostics/last-webhook';
const MiB = 1024 * 1024;

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

async function metricSum(t: TestApp, name: string): Promise<number> {
  const text = (await request(t.url).get('/metrics').expect(200)).text;
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe('data hardening (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ OPERATOR_API_KEYS: `${KEY_A},${KEY_B}` });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  describe('payload pages are bounded: 100 events, 8 MiB of payloads', () => {
    it('ends a page early with next_before, and every event is still listed once', async () => {
      await resetDatabase(t.dataSource);
      for (let i = 0; i < 150; i++) {
        await seedEvent(t.dataSource, { eventType: 'workflow_started', workflowRef: `small-${i}` });
      }
      // The newest events carry 1 MiB each: twelve of them are 12 MiB, more than one page may hold.
      for (let i = 0; i < 12; i++) {
        await seedEvent(t.dataSource, {
          eventType: 'workflow_started',
          workflowRef: `big-${i}`,
          payload: { workflow_id: `big-${i}`, blob: 'x'.repeat(MiB) },
        });
      }
      const seen: number[] = [];
      const pageSizes: number[] = [];
      let before: string | null = null;
      for (let page = 0; page < 20; page++) {
        const res = await request(t.url)
          .get(`${DIAGNOSTICS}?limit=500&include_payload=true${before ? `&before=${before}` : ''}`)
          .set(bearer(KEY_A))
          .expect(200);
        const events = res.body.events as { sequence: number; payload: Record<string, unknown> }[];
        const payloadBytes = events.reduce((sum, e) => sum + JSON.stringify(e.payload).length, 0);
        expect(events.length).toBeGreaterThan(0);
        expect(events.length).toBeLessThanOrEqual(100);
        expect(payloadBytes).toBeLessThanOrEqual(8 * MiB);
        // The whole answer stays within the payload bound plus the events' own fields.
        expect(res.text.length).toBeLessThan(8 * MiB + 100 * 2048);
        pageSizes.push(events.length);
        seen.push(...events.map((e) => e.sequence));
        before = res.body.pagination.next_before as string | null;
        if (before === null) break;
      }
      expect(before).toBeNull();
      // Newest first, each event once: 162 events over a page of 7 large ones, one of 5 large and 95 small, …
      expect(seen).toEqual([...seen].sort((a, b) => b - a));
      expect(new Set(seen).size).toBe(162);
      expect(pageSizes[0]).toBeLessThan(12);
      expect(pageSizes.length).toBeGreaterThanOrEqual(3);
      // Without payloads the same request is one page of up to 500.
      const plain = await request(t.url).get(`${DIAGNOSTICS}?limit=500`).set(bearer(KEY_A)).expect(200);
      expect(plain.body.events).toHaveLength(162);
    });
  });

  describe('failed authentication is counted, not logged row by row', () => {
    it('keeps a flood of bad keys to a few counter rows, with the alert and the metric intact', async () => {
      await resetDatabase(t.dataSource);
      const metricBefore = await metricSum(t, 'auth_failures_total');
      const flood = 200;
      for (let i = 0; i < flood; i++) {
        const wrong = `wrong-key-${i}-${'w'.repeat(40)}`;
        if (i % 2 === 0) await request(t.url).get('/api/opal/syncs').set(bearer(wrong)).expect(401);
        else await request(t.url).post('/api/opal/sync').send({}).expect(401);
      }
      const rows = await t.dataSource.query<{ route: string; count: number }[]>(
        `SELECT route, count FROM auth_failures`,
      );
      // Two routes, one address: one row per route and minute (two if the flood crossed a minute).
      expect(rows.length).toBeLessThanOrEqual(4);
      expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(flood);
      expect(new Set(rows.map((r) => r.route))).toEqual(new Set(['/api/opal/syncs', '/api/opal/sync']));
      const audit = await t.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM audit_log`);
      expect(audit[0].n).toBe(0);
      const stored = JSON.stringify(await t.dataSource.query(`SELECT * FROM auth_failures`));
      expect(stored).not.toContain('wrong-key-');
      expect((await metricSum(t, 'auth_failures_total')) - metricBefore).toBe(flood);
      const diagnostics = await request(t.url).get(`${DIAGNOSTICS}?limit=1`).set(bearer(KEY_A)).expect(200);
      expect(diagnostics.body.alerts).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            severity: 'critical',
            rule: 'auth_failures',
            value: flood,
            threshold: 5,
          }),
        ]),
      );
    });
  });

  describe('idempotency keys belong to their caller', () => {
    const body = (client: string) => ({
      sync_scope: 'odp_only',
      client_context: { client_name: client },
      allow_concurrent: true,
    });
    const forceSync = (key: string, idempotencyKey: string, payload: object) =>
      request(t.url)
        .post('/api/opal/sync')
        .set(bearer(key))
        .set('Idempotency-Key', idempotencyKey)
        .send(payload);

    it("never answers one operator with another's sync, nor reveals that another used the key", async () => {
      await resetDatabase(t.dataSource);
      // The same key and body from two operators: before, A's sync was replayed to B.
      const a = await forceSync(KEY_A, 'shared-key-1', body('client-a')).expect(200);
      const b = await forceSync(KEY_B, 'shared-key-1', body('client-a')).expect(200);
      expect(b.headers['idempotent-replayed']).toBeUndefined();
      expect(b.body.sync_id).not.toBe(a.body.sync_id);
      // The same key with another body: before, a 409 that told B the key was taken.
      await forceSync(KEY_A, 'shared-key-2', body('client-c')).expect(200);
      const other = await forceSync(KEY_B, 'shared-key-2', body('client-d')).expect(200);
      expect(other.headers['idempotent-replayed']).toBeUndefined();
      // Each caller still gets its own answer again, and its own 409 for its own key with another body.
      const againA = await forceSync(KEY_A, 'shared-key-1', body('client-a')).expect(200);
      expect([againA.headers['idempotent-replayed'], againA.body.sync_id]).toEqual(['true', a.body.sync_id]);
      const againB = await forceSync(KEY_B, 'shared-key-1', body('client-a')).expect(200);
      expect([againB.headers['idempotent-replayed'], againB.body.sync_id]).toEqual(['true', b.body.sync_id]);
      const reused = await forceSync(KEY_B, 'shared-key-1', body('client-e'));
      expect([reused.status, reused.body.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);
      const records = await t.dataSource.query<{ caller: string }[]>(
        `SELECT caller FROM idempotency_keys WHERE key = 'shared-key-1' ORDER BY caller`,
      );
      expect(records).toHaveLength(2);
      for (const r of records) expect(r.caller).toMatch(/^key:[0-9a-f]{16}$/);
      expect(JSON.stringify(records)).not.toContain(KEY_A);
    });
  });

  describe('values PostgreSQL refuses are 400 naming the field, never 500', () => {
    it('refuses a start_date offset beyond ±15:59', async () => {
      const res = await request(t.url)
        .get(`${DIAGNOSTICS}?start_date=${encodeURIComponent('2026-01-01T00:00:00+23:59')}`)
        .set(bearer(KEY_A));
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'start_date' })]);
      const edge = await request(t.url)
        .get(`${DIAGNOSTICS}?start_date=${encodeURIComponent('2026-01-01T00:00:00+15:59')}`)
        .set(bearer(KEY_A));
      expect(edge.status).toBe(200);
    });

    it("refuses a callback's odd timestamp, NUL or lone surrogate, and stores nothing", async () => {
      await resetDatabase(t.dataSource);
      const post = (text: string) =>
        request(t.url)
          .post(WEBHOOK_PATH)
          .set('Content-Type', 'application/json')
          .set('X-OSA-Signature', testHmac(TEST_WEBHOOK_SECRET).sign(text, Date.now()))
          .send(text);
      const odd = await post(
        '{"event_type":"workflow_started","workflow_id":"w-time","timestamp":"9999-12-31T23:59:59-15:00"}',
      );
      expect([odd.status, odd.body.details]).toEqual([
        400,
        [expect.objectContaining({ field: 'timestamp' })],
      ]);
      for (const text of [
        '{"event_type":"workflow_started","workflow_id":"w-surrogate","agent_data":{"a":"\\ud800"}}',
        '{"event_type":"workflow_started","workflow_id":"w-key","metadata":{"\\udc00":1}}',
        '{"event_type":"workflow_started","workflow_id":"w-nul","error":{"message":"a\\u0000b"}}',
      ]) {
        const res = await post(text);
        expect([text, res.status, res.body.code]).toEqual([text, 400, 'VALIDATION_FAILED']);
      }
      // (The simulator's callbacks for the force syncs above may still arrive: only these count.)
      const events = await t.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM webhook_events WHERE workflow_ref LIKE 'w-%'`,
      );
      expect(events[0].n).toBe(0);
    });

    it('refuses a lone surrogate in a force sync and creates nothing', async () => {
      await resetDatabase(t.dataSource);
      for (const text of [
        '{"triggered_by":"\\ud800","allow_concurrent":true}',
        '{"client_context":{"client_name":"a\\udfffb"},"allow_concurrent":true}',
        '{"metadata":{"note":"\\ud800"},"allow_concurrent":true}',
      ]) {
        const res = await request(t.url)
          .post('/api/opal/sync')
          .set(bearer(KEY_A))
          .set('Content-Type', 'application/json')
          .send(text);
        expect([text, res.status, res.body.code]).toEqual([text, 400, 'VALIDATION_FAILED']);
      }
      const workflows = await t.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM workflows`);
      expect(workflows[0].n).toBe(0);
    });
  });
});

describe('idempotency keys while operator routes are open (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ OPERATOR_API_KEYS: undefined });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('share one scope: whatever Authorization says, a repeat is a repeat', async () => {
    const payload = { sync_scope: 'odp_only', allow_concurrent: true };
    const first = await request(t.url)
      .post('/api/opal/sync')
      .set(bearer('anything-at-all'))
      .set('Idempotency-Key', 'open-key')
      .send(payload)
      .expect(200);
    const second = await request(t.url)
      .post('/api/opal/sync')
      .set('Idempotency-Key', 'open-key')
      .send(payload)
      .expect(200);
    expect([second.headers['idempotent-replayed'], second.body.sync_id]).toEqual([
      'true',
      first.body.sync_id,
    ]);
  });
});
