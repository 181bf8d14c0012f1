import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { testHmac } from './support/hmac';
import {
  createTestApp,
  resetDatabase,
  TEST_OPAL_KEY,
  TEST_OPERATOR_KEY,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';
import { waitFor } from './support/wait';
import { postSigned } from './support/webhooks';

// Test-only values: a second key and secret (rotation) and a wrong key an attacker might present.
const SECOND_OPERATOR_KEY = `operator-e2e-second-${'q'.repeat(24)}`;
const SECOND_WEBHOOK_SECRET = `whsec-e2e-second-${'r'.repeat(24)}`;
const WRONG_OPERATOR_KEY = `wrong-operator-key-${'w'.repeat(24)}`;
const WRONG_WEBHOOK_SECRET = `whsec-e2e-wrong-${'z'.repeat(24)}`;
const SECRETS = [
  TEST_OPAL_KEY,
  TEST_OPERATOR_KEY,
  TEST_WEBHOOK_SECRET,
  SECOND_OPERATOR_KEY,
  SECOND_WEBHOOK_SECRET,
  WRONG_OPERATOR_KEY,
  WRONG_WEBHOOK_SECRET,
];

/** Every 12-character window of a secret: a log line must not carry even part of one. */
function fragments(secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 12 <= secret.length; i += 3) out.push(secret.slice(i, i + 12));
  return out;
}

describe('log hygiene with OPAL_DEBUG_MODE=true (e2e)', () => {
  let t: TestApp;
  const signatures: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({
      OPAL_DEBUG_MODE: 'true',
      OPERATOR_API_KEYS: `${TEST_OPERATOR_KEY},${SECOND_OPERATOR_KEY}`,
      OSA_WEBHOOK_SHARED_SECRET: `${TEST_WEBHOOK_SECRET},${SECOND_WEBHOOK_SECRET}`,
      RATE_LIMIT_READ_PER_MIN: '100',
    });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  const as = (key: string) => ({ Authorization: `Bearer ${key}` });
  const signed = (secret: string, body: string) => {
    const header = testHmac(secret).sign(body, Date.now());
    signatures.push(header, header.replace(/^.*v1=/, ''));
    return postSigned(t.url, body, { signature: header });
  };
  const event = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      event_id: `evt-${randomUUID()}`,
      event_type: 'workflow_started',
      workflow_id: `opal-wf-${randomUUID()}`,
      workflow_name: 'strategy_workflow',
      ...extra,
    });

  it('runs the whole flow', async () => {
    const sync = await request(t.url)
      .post('/api/opal/sync')
      .set(as(TEST_OPERATOR_KEY))
      .set('Idempotency-Key', `log-hygiene-${randomUUID()}`)
      .send({
        sync_scope: 'all_platforms',
        client_context: { client_name: 'log hygiene' },
        triggered_by: 'e2e',
      })
      .expect(200);
    const syncId = sync.body.sync_id as string;
    await waitFor(
      async () =>
        (await request(t.url).get(`/api/opal/sync/${syncId}`).set(as(SECOND_OPERATOR_KEY))).body.status ===
        'completed',
      'the simulated workflow to complete',
    );
    await request(t.url)
      .post('/api/orchestrations/trigger')
      .set(as(SECOND_OPERATOR_KEY))
      .send({
        workflow_name: 'strategy_workflow',
        session_id: 'log-hygiene-session',
        client_name: 'log hygiene 2',
      })
      .expect((res) => expect(res.status).toBeLessThan(300));

    await signed(TEST_WEBHOOK_SECRET, event()).expect(202);
    await signed(
      SECOND_WEBHOOK_SECRET,
      event({ correlation_id: `force-sync-1-${syncId.slice(0, 6)}` }),
    ).expect(202);
    await signed(WRONG_WEBHOOK_SECRET, event()).expect(401);
    await postSigned(t.url, event(), { signature: `t=${Date.now()},v1=${'ab'.repeat(32)}` }).expect(401);
    signatures.push('ab'.repeat(32));
    await signed(TEST_WEBHOOK_SECRET, '{not json').expect(400);

    await request(t.url).get('/api/opal/syncs').set(as(WRONG_OPERATOR_KEY)).expect(401);
    await request(t.url).get('/api/opal/syncs').set('Authorization', WRONG_OPERATOR_KEY).expect(401);
    await request(t.url).get('/api/opal/syncs').set(as(TEST_OPERATOR_KEY)).expect(200);
    await request(t.url).get('/api/opal/sync').set(as(TEST_OPERATOR_KEY)).expect(200);
    await request(t.url).get('/api/orchestrations/trigger').set(as(TEST_OPERATOR_KEY)).expect(200);
    await request(t.url).get('/api/diagnostics/last-webhook?limit=50').set(as(TEST_OPERATOR_KEY)).expect(200);
    await request(t.url)
      .post('/api/diagnostics/last-webhook')
      .set(as(TEST_OPERATOR_KEY))
      .send({ action: 'test_configuration' })
      .expect(200);
    await request(t.url)
      .post('/api/diagnostics/last-webhook')
      .set(as(TEST_OPERATOR_KEY))
      .send({ action: 'cleanup_old_events', retention_days: 30, dry_run: true })
      .expect(200);
    await request(t.url)
      .post('/api/orchestrations/replay')
      .set(as(TEST_OPERATOR_KEY))
      .send({ workflow_id: syncId, dry_run: true })
      .expect(200);
    await request(t.url)
      .post('/api/orchestrations/replay')
      .set(as(TEST_OPERATOR_KEY))
      .send({ workflow_id: syncId, replay_options: { force_reprocess: true } })
      .expect(200);
    await request(t.url)
      .get('/api/health')
      .expect((res) => expect([200, 503]).toContain(res.status));
    await request(t.url).get('/metrics').expect(200);
  });

  it('wrote debug lines, as JSON with level, time and correlation ids', () => {
    expect(t.logs.length).toBeGreaterThan(50);
    const lines = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.level === 'debug')).toBe(true);
    for (const line of lines) expect(typeof line.time).toBe('string');
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.length).toBeGreaterThan(10);
    for (const line of requests) {
      expect(line).toMatchObject({
        correlation_id: expect.any(String),
        route: expect.any(String),
        status: expect.any(Number),
        duration_ms: expect.any(Number),
      });
    }
  });

  it('never logs a secret, an operator key, a bearer token or a signature, whole or in part', () => {
    const output = t.logs.join('\n');
    const leaks: string[] = [];
    for (const secret of SECRETS) {
      for (const fragment of fragments(secret)) if (output.includes(fragment)) leaks.push(fragment);
    }
    for (const signature of signatures) if (output.includes(signature)) leaks.push(signature);
    leaks.push(...(output.match(/\bBearer\s+(?!\[REDACTED\])\S+/gi) ?? []));
    leaks.push(...(output.match(/v1=(?!\[REDACTED\])[0-9a-fA-F]{8,}/g) ?? []));
    expect(leaks).toEqual([]);
  });
});
