import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, runMigrationsLocked } from '../src/database/data-source-options';
import { EmbeddedPostgresServer } from '../src/database/embedded-postgres';
import { createTestApp, operatorHeaders, type TestApp } from './support/app';
import { postSigned } from './support/webhooks';
import { waitFor } from './support/wait';

const DATABASE = 'opal_replica_test';
const PUBLICATION = 'opal_analytics';
const MAX_LAG_SECONDS = 4;

interface ReplicaStatus {
  configured: boolean;
  serving: 'replica' | 'primary';
  state: string;
  lag_seconds: number | null;
  max_lag_seconds: number | null;
}

interface DiagnosticsAnswer {
  events: { event_id: string; workflow_id: string | null }[];
  system_health: { replica: ReplicaStatus };
}

async function migrate(url: string): Promise<void> {
  const ds = await new DataSource(buildDataSourceOptions({ url, poolSize: 2 })).initialize();
  try {
    await runMigrationsLocked(ds);
  } finally {
    await ds.destroy();
  }
}

async function sql<T = unknown>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Two PostgreSQL servers started by the test, the second subscribed to the first by logical replication
 * (CREATE PUBLICATION / CREATE SUBSCRIPTION: nothing but the servers themselves), the service's analytics reads
 * on the second.
 */
describe('read replica for analytics reads (e2e, logical replication)', () => {
  let primary: EmbeddedPostgresServer;
  let replica: EmbeddedPostgresServer;
  let t: TestApp;
  const replicaOnlyEvent = randomUUID();

  const diagnostics = async (): Promise<DiagnosticsAnswer> =>
    (await request(t.url).get('/api/diagnostics/last-webhook?limit=500').set(operatorHeaders()).expect(200))
      .body as DiagnosticsAnswer;
  const servedBy = (answer: DiagnosticsAnswer) => answer.system_health.replica.serving;
  const hasReplicaOnlyRow = (answer: DiagnosticsAnswer) =>
    answer.events.some((e) => e.event_id === replicaOnlyEvent);

  beforeAll(async () => {
    const password = `pw-${randomUUID()}`;
    primary = new EmbeddedPostgresServer({
      clusterDir: mkdtempSync(join(tmpdir(), 'opal-primary-')),
      password,
      postgresFlags: ['-c', 'wal_level=logical', '-c', 'max_wal_senders=4', '-c', 'max_replication_slots=4'],
    });
    replica = new EmbeddedPostgresServer({
      clusterDir: mkdtempSync(join(tmpdir(), 'opal-replica-')),
      password,
    });
    await Promise.all([primary.start(), replica.start()]);
    await Promise.all([primary.ensureDatabase(DATABASE), replica.ensureDatabase(DATABASE)]);
    // Logical replication copies rows, not the schema: both get the migrations.
    await Promise.all([migrate(primary.url(DATABASE)), migrate(replica.url(DATABASE))]);
    const tables = await sql<{ tablename: string }>(
      primary.url(DATABASE),
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`,
    );
    await sql(
      primary.url(DATABASE),
      `CREATE PUBLICATION ${PUBLICATION} FOR TABLE ${tables.map((r) => `"${r.tablename}"`).join(', ')}`,
    );
    await sql(
      replica.url(DATABASE),
      `CREATE SUBSCRIPTION ${PUBLICATION}
         CONNECTION 'host=127.0.0.1 port=${primary.port} user=postgres password=${password} dbname=${DATABASE}'
         PUBLICATION ${PUBLICATION}`,
    );
    // A row that exists on the replica only: whoever shows it read the replica.
    await sql(
      replica.url(DATABASE),
      `INSERT INTO webhook_events (id, sequence, idempotency_key, event_type, raw_event_type, workflow_ref,
                                   workflow_name, status, occurred_at, received_at, processing_status, payload)
       VALUES ($1, 900000000, $2, 'workflow_started', 'workflow_started', 'replica-only', 'strategy_workflow',
               'success', now(), now(), 'unmatched', '{}')`,
      [replicaOnlyEvent, `replica-only-${replicaOnlyEvent}`],
    );
    t = await createTestApp({
      DATABASE_URL: primary.url(DATABASE),
      DATABASE_READ_URL: replica.url(DATABASE),
      READ_REPLICA_MAX_LAG_SECONDS: String(MAX_LAG_SECONDS),
    });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await replica?.destroy();
    await primary?.destroy();
  }, 60_000);

  it('serves diagnostics from the replica once it has caught up, and reports its lag', async () => {
    const answer = await waitFor(
      async () => {
        // The page is read before system_health: both must say so (the switch may fall between them).
        const a = await diagnostics();
        return servedBy(a) === 'replica' && hasReplicaOnlyRow(a) ? a : null;
      },
      'analytics reads on the replica',
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const { replica: status } = answer.system_health;
    expect(status).toMatchObject({ configured: true, state: 'up', max_lag_seconds: MAX_LAG_SECONDS });
    expect(status.lag_seconds).not.toBeNull();
    expect(status.lag_seconds!).toBeGreaterThanOrEqual(0);
    expect(status.lag_seconds!).toBeLessThanOrEqual(MAX_LAG_SECONDS);

    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^database_replica_serving_reads 1$/m);
    expect(metrics.text).toMatch(/^database_replica_lag_seconds \d+(\.\d+)?$/m);
    const health = await request(t.url).get('/api/health').expect(200);
    expect(health.body.details.read_replica).toMatchObject({ status: 'up', serving: 'replica' });
  });

  it('shows what was written through the primary once it has replicated; writes never touch the replica', async () => {
    const workflowRef = `replicated-${randomUUID()}`;
    const body = JSON.stringify({
      event_type: 'workflow_started',
      workflow_id: workflowRef,
      event_id: randomUUID(),
    });
    const stored = await postSigned(t.url, body).expect(202);
    const eventId = stored.body.event_id as string;
    const onPrimary = await sql(primary.url(DATABASE), 'SELECT 1 FROM webhook_events WHERE id = $1', [
      eventId,
    ]);
    expect(onPrimary).toHaveLength(1);
    const seen = await waitFor(
      async () => {
        const a = await diagnostics();
        return servedBy(a) === 'replica' && a.events.some((e) => e.event_id === eventId) ? a : null;
      },
      'the event replicated and listed from the replica',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(hasReplicaOnlyRow(seen)).toBe(true);
  });

  it('goes back to the primary while the replica lags more than READ_REPLICA_MAX_LAG_SECONDS, with a warning', async () => {
    await sql(replica.url(DATABASE), `ALTER SUBSCRIPTION ${PUBLICATION} DISABLE`);
    const lagging = await waitFor(
      async () => {
        const a = await diagnostics();
        return a.system_health.replica.state === 'lagging' ? a : null;
      },
      'the replica reported lagging',
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(servedBy(lagging)).toBe('primary');
    expect(hasReplicaOnlyRow(lagging)).toBe(false);
    expect(lagging.system_health.replica.lag_seconds!).toBeGreaterThan(MAX_LAG_SECONDS);
    expect(t.logs.some((line) => line.includes('more than 4 s behind'))).toBe(true);
    const health = await request(t.url).get('/api/health').expect(200);
    expect(health.body.details.read_replica.status).toBe('degraded');

    await sql(replica.url(DATABASE), `ALTER SUBSCRIPTION ${PUBLICATION} ENABLE`);
    await waitFor(async () => servedBy(await diagnostics()) === 'replica', 'back on the replica', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  });

  it('falls back to the primary when the replica is stopped, never answering an error, and returns to it', async () => {
    await replica.stop();
    const fallback = await waitFor(
      async () => {
        const a = await diagnostics();
        return a.system_health.replica.state === 'down' ? a : null;
      },
      'the replica reported down',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(servedBy(fallback)).toBe('primary');
    expect(hasReplicaOnlyRow(fallback)).toBe(false);
    expect(t.logs.some((line) => line.includes('Read replica unreachable'))).toBe(true);
    // Every analytics read keeps answering from the primary.
    for (let i = 0; i < 5; i++) await diagnostics();
    const metrics = await request(t.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^database_replica_serving_reads 0$/m);
    await request(t.url).get('/api/webhooks/opal-workflow').expect(200);

    await replica.start();
    const back = await waitFor(
      async () => {
        const a = await diagnostics();
        return servedBy(a) === 'replica' && hasReplicaOnlyRow(a) ? a : null;
      },
      'analytics reads on the replica again',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(back.system_health.replica.state).toBe('up');
  });
});
