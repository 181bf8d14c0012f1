import { createServer, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { PeriodicJobs } from '../src/jobs/periodic-jobs';
import { freePort, operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { createSeededTestApp, seedEvent, seedRejected } from './support/seed';

const PATH = '/api/diagnostics/last-webhook';

async function seedOldAndNew(t: TestApp): Promise<void> {
  const ds = t.dataSource;
  // 40 days old: 12,000 processed events (more than two delete batches), one failed, one still pending.
  await ds.query(
    `INSERT INTO webhook_events (id, idempotency_key, event_type, workflow_ref, status, occurred_at, received_at,
                                 processing_status, processed_at, processing_time_ms, payload)
     SELECT gen_random_uuid(), 'old-' || g, 'agent_completed', 'opal-old-' || (g % 50), 'success',
            now() - interval '40 days', now() - interval '40 days', 'processed', now() - interval '40 days', 4, '{}'::jsonb
       FROM generate_series(1, 12000) g`,
  );
  await seedEvent(ds, {
    eventType: 'workflow_failed',
    workflowRef: 'opal-old-f',
    processingStatus: 'failed',
    receivedMinutesAgo: 40 * 1440,
  });
  await seedEvent(ds, {
    eventType: 'workflow_started',
    workflowRef: 'opal-old-p',
    processingStatus: 'pending',
    receivedMinutesAgo: 40 * 1440,
  });
  // Recent: kept.
  await seedEvent(ds, {
    eventType: 'workflow_started',
    workflowRef: 'opal-new',
    receivedMinutesAgo: 29 * 1440,
  });
  await seedEvent(ds, { eventType: 'workflow_completed', workflowRef: 'opal-new', receivedMinutesAgo: 1 });
  await seedRejected(ds, 'signature_invalid', 7, 40 * 1440);
  await seedRejected(ds, 'signature_invalid', 2, 5);
  await ds.query(
    `INSERT INTO idempotency_keys (caller, scope, key, request_hash, created_at, expires_at) VALUES
       ('open', 'force_sync', 'expired', 'h1', now() - interval '2 days', now() - interval '1 day'),
       ('open', 'force_sync', 'live', 'h2', now(), now() + interval '1 day')`,
  );
  await ds.query(
    `INSERT INTO auth_failures (bucket, route, client_ip, count, last_reason) VALUES
       (date_trunc('minute', now() - interval '40 days'), '/api/opal/sync', '10.0.0.9', 40, 'invalid_key'),
       (date_trunc('minute', now() - interval '5 minutes'), '/api/opal/sync', '10.0.0.9', 3, 'missing_key')`,
  );
}

async function counts(t: TestApp) {
  const [row]: { events: number; old: number; rejected: number; keys: number; auth: number }[] =
    await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM webhook_events) AS events,
              (SELECT count(*)::int FROM webhook_events WHERE received_at < now() - interval '30 days') AS old,
              (SELECT count(*)::int FROM rejected_deliveries) AS rejected,
              (SELECT count(*)::int FROM idempotency_keys) AS keys,
              (SELECT count(*)::int FROM auth_failures) AS auth`,
    );
  return row;
}

describe('diagnostics: POST /api/diagnostics/last-webhook (e2e)', () => {
  let t: TestApp;
  // The runbook's curl -d sends the body without a JSON content type (curl's default form type).
  const post = (body: string) => request(t.url).post(PATH).set(operatorHeaders()).type('form').send(body);

  beforeAll(async () => {
    t = await createSeededTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  describe('cleanup_old_events', () => {
    beforeAll(async () => {
      await resetDatabase(t.dataSource);
      await seedOldAndNew(t);
    });

    it('dry run counts old rows only and deletes nothing', async () => {
      const before = await counts(t);
      const res = await post(
        '{"action": "cleanup_old_events", "retention_days": 30, "dry_run": true}',
      ).expect(200);
      expect(res.body).toEqual({
        success: true,
        action: 'cleanup_old_events',
        deleted: 12001,
        older_than: expect.any(String),
        retention_days: 30,
        dry_run: true,
        pruned: { rejected_deliveries: 1, idempotency_keys: 1, auth_failures: 1 },
      });
      const olderThan = Date.parse(res.body.older_than);
      expect(Math.abs(olderThan - (Date.now() - 30 * 86_400_000))).toBeLessThan(60_000);
      expect(await counts(t)).toEqual(before);
    });

    it('deletes old events in batches, keeps recent ones and unprocessed ones, and is audited', async () => {
      // The runbook's weekly command, verbatim body.
      const res = await post('{"action": "cleanup_old_events", "retention_days": 30}').expect(200);
      expect(res.body).toMatchObject({
        success: true,
        deleted: 12001,
        dry_run: false,
        pruned: { rejected_deliveries: 1, idempotency_keys: 1, auth_failures: 1 },
      });
      const after = await counts(t);
      expect(after).toEqual({ events: 3, old: 1, rejected: 1, keys: 1, auth: 1 });
      const kept: { workflow_ref: string }[] = await t.dataSource.query(
        `SELECT workflow_ref FROM webhook_events ORDER BY sequence`,
      );
      expect(kept.map((r) => r.workflow_ref)).toEqual(['opal-old-p', 'opal-new', 'opal-new']);
      const audit: { details: Record<string, unknown>; actor: string }[] = await t.dataSource.query(
        `SELECT details, actor FROM audit_log WHERE action = 'cleanup' ORDER BY id`,
      );
      expect(audit.map((a) => a.details)).toEqual([
        expect.objectContaining({ trigger: 'request', dry_run: true, deleted: 12001, retention_days: 30 }),
        expect.objectContaining({ trigger: 'request', dry_run: false, deleted: 12001 }),
      ]);
      expect(audit[0].actor).toMatch(/^key:[0-9a-f]{8}$/);

      const again = await post('{"action":"cleanup_old_events","retention_days":30}').expect(200);
      expect(again.body.deleted).toBe(0);
    });

    it('accepts a JSON content type too', async () => {
      await request(t.url)
        .post(PATH)
        .set(operatorHeaders())
        .send({ action: 'cleanup_old_events', retention_days: 3650, dry_run: true })
        .expect(200);
    });
  });

  it('rejects invalid bodies with 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['{"action": "drop_everything"}', 'action'],
      ['{}', 'action'],
      ['{"action": "cleanup_old_events"}', 'retention_days'],
      ['{"action": "cleanup_old_events", "retention_days": 0}', 'retention_days'],
      ['{"action": "cleanup_old_events", "retention_days": 3651}', 'retention_days'],
      ['{"action": "cleanup_old_events", "retention_days": "30"}', 'retention_days'],
      ['{"action": "cleanup_old_events", "retention_days": 30, "dry_run": "yes"}', 'dry_run'],
      ['{"action": "test_configuration", "extra": 1}', 'extra'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const broken = await post('{"action": ').expect(400);
    expect(broken.body.code).toBe('INVALID_JSON');
  });

  it('requires the operator key', async () => {
    await request(t.url).post(PATH).type('form').send('{"action": "test_configuration"}').expect(401);
  });

  it('test_configuration checks configuration, database, migrations and the simulator host', async () => {
    await resetDatabase(t.dataSource);
    const res = await post('{"action": "test_configuration"}').expect(200);
    expect(res.body).toEqual({
      success: true,
      action: 'test_configuration',
      mode: 'simulator',
      checks: [
        { name: 'configuration', ok: true, message: expect.any(String), duration_ms: expect.any(Number) },
        { name: 'database', ok: true, message: 'reachable', duration_ms: expect.any(Number) },
        { name: 'migrations', ok: true, message: 'all migrations applied', duration_ms: expect.any(Number) },
        {
          name: 'opal_host',
          ok: true,
          message: 'built-in OPAL simulator accepts connections',
          duration_ms: expect.any(Number),
        },
      ],
    });
    const audit: { details: Record<string, unknown> }[] = await t.dataSource.query(
      `SELECT details FROM audit_log WHERE action = 'config_test'`,
    );
    expect(audit).toEqual([{ details: { success: true, failed: [] } }]);
  });
});

describe('diagnostics: test_configuration against an OPAL host (e2e)', () => {
  let server: Server;
  let port: number;
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => received.push(chunk));
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('connects to the OPAL host without sending a request', async () => {
    const t = await createSeededTestApp({ OPAL_WEBHOOK_URL: `http://127.0.0.1:${port}/webhooks/acct/hook` });
    try {
      const res = await request(t.url)
        .post(PATH)
        .set(operatorHeaders())
        .send({ action: 'test_configuration' })
        .expect(200);
      const opal = res.body.checks.find((c: { name: string }) => c.name === 'opal_host');
      expect(opal).toMatchObject({ ok: true, message: `OPAL host 127.0.0.1:${port} accepts connections` });
      expect(res.body.mode).toBe('opal');
      expect(Buffer.concat(received).length).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('reports an unreachable OPAL host as a failed check', async () => {
    const closedPort = await freePort();
    const t = await createSeededTestApp({
      OPAL_WEBHOOK_URL: `http://127.0.0.1:${closedPort}/webhooks/acct/hook`,
    });
    try {
      const res = await request(t.url)
        .post(PATH)
        .set(operatorHeaders())
        .send({ action: 'test_configuration' })
        .expect(200);
      expect(res.body.success).toBe(false);
      const opal = res.body.checks.find((c: { name: string }) => c.name === 'opal_host');
      expect(opal).toMatchObject({ ok: false, message: expect.stringContaining('unreachable') });
    } finally {
      await t.close();
    }
  });
});

describe('diagnostics: daily retention job (e2e)', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await createSeededTestApp({ EVENT_RETENTION_DAYS: '30' });
    b = await createSeededTestApp({ EVENT_RETENTION_DAYS: '30' });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('runs on exactly one of two instances per day', async () => {
    await resetDatabase(a.dataSource);
    await seedOldAndNew(a);
    const results = await Promise.all([
      a.app.get(PeriodicJobs).retention(),
      b.app.get(PeriodicJobs).retention(),
      a.app.get(PeriodicJobs).retention(),
      b.app.get(PeriodicJobs).retention(),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await counts(a)).old).toBe(1);
    const runs: { details: Record<string, unknown>; actor: string }[] = await a.dataSource.query(
      `SELECT details, actor FROM audit_log WHERE action = 'cleanup'`,
    );
    expect(runs).toEqual([
      {
        actor: 'retention-job',
        details: expect.objectContaining({ trigger: 'schedule', deleted: 12001, retention_days: 30 }),
      },
    ]);
    const [lease]: { last_result: Record<string, unknown> }[] = await a.dataSource.query(
      `SELECT last_result FROM job_leases WHERE name = 'event_retention'`,
    );
    expect(lease.last_result).toMatchObject({ deleted: 12001 });
    // Later the same day: neither instance runs it again.
    expect(await b.app.get(PeriodicJobs).retention()).toBe(false);
    // A day later the next instance to check runs it.
    await a.dataSource.query(
      `UPDATE job_leases SET last_run_at = now() - interval '25 hours' WHERE name = 'event_retention'`,
    );
    expect(await b.app.get(PeriodicJobs).retention()).toBe(true);
  });
});
