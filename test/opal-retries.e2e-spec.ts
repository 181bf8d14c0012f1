import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { OpalTargetService } from '../src/modules/opal/opal-target.service';
import { OpalSimulator } from '../src/modules/opal/simulator/opal-simulator';
import {
  createTestApp,
  freePort,
  operatorHeaders,
  resetDatabase,
  TEST_OPAL_KEY,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';
import { testHmac } from './support/hmac';
import { waitFor } from './support/wait';

interface WorkflowRow {
  status: string;
  trigger_attempts: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  opal_workflow_id: string | null;
}

async function workflowRow(t: TestApp, syncId: string): Promise<WorkflowRow> {
  const rows: WorkflowRow[] = await t.dataSource.query(
    `SELECT status, trigger_attempts, next_attempt_at, last_status_code, last_error, opal_workflow_id
       FROM workflows WHERE id = $1`,
    [syncId],
  );
  return rows[0];
}

async function attemptRows(t: TestApp, syncId: string) {
  return t.dataSource.query(
    `SELECT attempt, status_code, outcome, error FROM trigger_attempts WHERE workflow_id = $1 ORDER BY attempt`,
    [syncId],
  );
}

const FAST_RETRIES = { OPAL_RETRY_BASE_DELAY_MS: '20', OPAL_RETRY_MAX_DELAY_MS: '100' };

describe('OPAL retries with the built-in simulator (e2e)', () => {
  let t: TestApp;
  let sim: OpalSimulator;

  beforeAll(async () => {
    t = await createTestApp({ ...FAST_RETRIES, OPAL_SIMULATOR_AGENT_DELAY_MS: '2000' });
    await resetDatabase(t.dataSource);
    sim = t.app.get(OpalTargetService).simulator!;
  });
  afterAll(async () => {
    // Leave no pending trigger behind for the next suite's app to pick up.
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('answers 202 on a 503, then retries in the background until OPAL accepts once, after 4 attempts', async () => {
    sim.setTriggerFailures(3);
    const res = await request(t.url)
      .post('/api/opal/sync')
      .set(operatorHeaders())
      .send({ client_context: { client_name: `Retry Co ${process.pid}` } })
      .expect(202);
    expect(res.body.success).toBe(true);
    expect(res.body.sync_details.internal_workflow.status).toBe('pending');
    expect(res.body.sync_details.external_opal).toMatchObject({
      triggered: false,
      status: 'retry_scheduled',
      workflow_id: null,
      attempts: 1,
      next_attempt_at: expect.any(String),
      last_error: 'OPAL answered HTTP 503',
    });
    const syncId: string = res.body.sync_id;

    const row = await waitFor(async () => {
      const r = await workflowRow(t, syncId);
      return r.status === 'pending' ? null : r;
    }, 'the trigger to be accepted');
    expect(row).toMatchObject({ trigger_attempts: 4, last_status_code: 200, last_error: null });
    expect(row.next_attempt_at).toBeNull();
    expect(await attemptRows(t, syncId)).toEqual([
      { attempt: 1, status_code: 503, outcome: 'retryable', error: 'OPAL answered HTTP 503' },
      { attempt: 2, status_code: 503, outcome: 'retryable', error: 'OPAL answered HTTP 503' },
      { attempt: 3, status_code: 503, outcome: 'retryable', error: 'OPAL answered HTTP 503' },
      { attempt: 4, status_code: 200, outcome: 'accepted', error: null },
    ]);
    expect(sim.acceptedCount(syncId)).toBe(1);
    const sent = sim.triggers.filter((tr) => tr.idempotencyKey === syncId);
    expect(sent.map((tr) => tr.status)).toEqual([503, 503, 503, 200]);
    // Every attempt sends the very same request.
    expect(new Set(sent.map((tr) => JSON.stringify(tr.body))).size).toBe(1);
    expect(new Set(sent.map((tr) => tr.headers['x-correlation-id'])).size).toBe(1);

    const got = await request(t.url).get(`/api/opal/sync/${syncId}`).set(operatorHeaders()).expect(200);
    expect(got.body.trigger).toMatchObject({ attempts: 4, last_status_code: 200, next_attempt_at: null });
    expect(got.body.trigger.history).toHaveLength(4);
    expect(got.body.opal_workflow_id).toBe(sent[3].workflowId);

    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/opal_trigger_attempts_total\{outcome="retryable",status_code="503"\} 3/);
    expect(metrics.text).toMatch(
      /force_sync_requests_total\{endpoint="force_sync",outcome="retry_scheduled"\} 1/,
    );
  });
});

describe('OPAL refusing the key (e2e)', () => {
  let wrongKeyOpal: OpalSimulator;
  let t: TestApp;

  beforeAll(async () => {
    wrongKeyOpal = new OpalSimulator({
      authKey: `another-key-${'z'.repeat(32)}`,
      hmac: testHmac(TEST_WEBHOOK_SECRET),
      agentDelayMs: 0,
      failAgents: [],
      triggerFailures: 0,
    });
    t = await createTestApp({ ...FAST_RETRIES, OPAL_WEBHOOK_URL: await wrongKeyOpal.start() });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    // Leave no pending trigger behind for the next suite's app to pick up.
    await resetDatabase(t.dataSource);
    await t.close();
    await wrongKeyOpal.stop();
  });

  it('answers 502 OPAL_TRIGGER_REJECTED, marks trigger_failed, never retries, and replays the refusal', async () => {
    const key = `rejected-${process.pid}`;
    const res = await request(t.url)
      .post('/api/opal/sync')
      .set(operatorHeaders())
      .set('Idempotency-Key', key)
      .send({})
      .expect(502);
    expect(res.body).toEqual({
      success: false,
      error: 'Bad Gateway',
      code: 'OPAL_TRIGGER_REJECTED',
      message: expect.any(String),
      details: [{ sync_id: expect.any(String), opal_status: 401 }],
      correlation_id: res.headers['x-correlation-id'],
    });
    expect(JSON.stringify(res.body)).not.toContain(TEST_OPAL_KEY);
    const syncId: string = res.body.details[0].sync_id;
    expect(await workflowRow(t, syncId)).toMatchObject({
      status: 'trigger_failed',
      trigger_attempts: 1,
      next_attempt_at: null,
      last_status_code: 401,
    });
    expect(await attemptRows(t, syncId)).toEqual([
      { attempt: 1, status_code: 401, outcome: 'rejected', error: 'OPAL answered HTTP 401' },
    ]);
    // The refusal is the answer to this key: replayed, not retried.
    const again = await request(t.url)
      .post('/api/opal/sync')
      .set(operatorHeaders())
      .set('Idempotency-Key', key)
      .send({})
      .expect(502);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(res.body);
    expect(wrongKeyOpal.triggers.filter((tr) => tr.idempotencyKey === syncId)).toHaveLength(1);
    // A trigger_failed workflow is not active: the next force sync may run.
    await request(t.url).post('/api/opal/sync').set(operatorHeaders()).send({}).expect(502);
  });
});

describe('OPAL unreachable (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    const closedPort = await freePort();
    t = await createTestApp({
      ...FAST_RETRIES,
      OPAL_MAX_ATTEMPTS: '3',
      OPAL_WEBHOOK_URL: `http://127.0.0.1:${closedPort}/webhooks/strategy_workflow`,
    });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    // Leave no pending trigger behind for the next suite's app to pick up.
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('answers 202 retry_scheduled, then gives up after OPAL_MAX_ATTEMPTS', async () => {
    const res = await request(t.url).post('/api/opal/sync').set(operatorHeaders()).send({}).expect(202);
    expect(res.body.sync_details.external_opal).toMatchObject({
      triggered: false,
      status: 'retry_scheduled',
      attempts: 1,
      next_attempt_at: expect.any(String),
      last_error: 'network error (ECONNREFUSED)',
      simulated: false,
    });
    const syncId: string = res.body.sync_id;
    const row = await waitFor(async () => {
      const r = await workflowRow(t, syncId);
      return r.status === 'trigger_failed' ? r : null;
    }, 'the trigger to fail for good');
    expect(row).toMatchObject({ trigger_attempts: 3, last_status_code: null, next_attempt_at: null });
    const attempts = await attemptRows(t, syncId);
    expect(attempts.map((a: { outcome: string }) => a.outcome)).toEqual([
      'retryable',
      'retryable',
      'retryable',
    ]);
  }, 30000);
});

describe('OPAL slower than the response budget (e2e)', () => {
  let slowServer: Server;
  let t: TestApp;

  /** Calls to OPAL, and those the caller gave up on (closed) before any answer: OPAL here never answers. */
  let received = 0;
  let abandoned = 0;

  beforeAll(async () => {
    slowServer = createServer((_req, res) => {
      received += 1;
      res.on('close', () => (abandoned += 1));
    });
    await new Promise<void>((resolve) => slowServer.listen(0, '127.0.0.1', resolve));
    t = await createTestApp({
      FORCE_SYNC_RESPONSE_BUDGET_MS: '300',
      OPAL_RETRY_BASE_DELAY_MS: '60000',
      OPAL_WEBHOOK_URL: `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}/webhooks/x`,
    });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    // Leave no pending trigger behind for the next suite's app to pick up.
    await resetDatabase(t.dataSource);
    await t.close();
    slowServer.closeAllConnections();
    await new Promise((resolve) => slowServer.close(resolve));
  });

  it('answers 202 within the budget and keeps the trigger for a retry', async () => {
    const res = await request(t.url).post('/api/opal/sync').set(operatorHeaders()).send({}).expect(202);
    expect(res.body.sync_details.external_opal).toMatchObject({
      status: 'retry_scheduled',
      last_error: expect.stringMatching(/^timeout after \d+ ms$/),
    });
    // The call to OPAL was given up after what was left of the 300 ms budget, not after OPAL_TIMEOUT_MS (10 s):
    // OPAL never answered, so nothing else could have ended the wait.
    const timeoutMs = Number(/(\d+)/.exec(res.body.sync_details.external_opal.last_error as string)![1]);
    expect(timeoutMs).toBeGreaterThan(0);
    expect(timeoutMs).toBeLessThanOrEqual(300);
    await waitFor(() => abandoned === 1, 'the service to close its call to OPAL');
    expect(received).toBe(1);
    expect(await workflowRow(t, res.body.sync_id)).toMatchObject({ status: 'pending', trigger_attempts: 1 });
  });
});
