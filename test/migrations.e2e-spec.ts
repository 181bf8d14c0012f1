import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { InitialSchema1795890079861 } from '../migrations/1795890079861-InitialSchema';
import { DiagnosticsIndexes1795901325122 } from '../migrations/1795901325122-DiagnosticsIndexes';
import {
  buildDataSourceOptions,
  MIGRATION_LOCK_KEY,
  runMigrationsLocked,
} from '../src/database/data-source-options';
import { testDatabaseUrl } from './support/database';
import { waitFor } from './support/wait';

/*
 * The index migrations on large tables: built concurrently outside a transaction, under the advisory lock, with the
 * same resulting schema as the transactional version had, and safe to run again whatever state an interruption
 * left. (test/reliability/07 measures ingest while it runs against 1,000,000 events.)
 */

/** What DiagnosticsIndexes ran before it built concurrently: the reference for the schema it must produce. */
const TRANSACTIONAL_DIAGNOSTICS_INDEXES = [
  `DROP INDEX "public"."idx_webhook_events_received"`,
  `DROP INDEX "public"."idx_webhook_events_status"`,
  `CREATE INDEX "idx_webhook_events_received" ON "webhook_events"  ("received_at", "sequence") `,
  `CREATE INDEX "idx_webhook_events_failed" ON "webhook_events"  ("sequence", "event_type") WHERE "status" = 'failed'`,
];

const DIAGNOSTICS = new DiagnosticsIndexes1795901325122().name;
/** The migrations up to DiagnosticsIndexes: later migrations change other tables and are not under test here. */
const UP_TO_DIAGNOSTICS = [InitialSchema1795890079861, DiagnosticsIndexes1795901325122];

interface IndexRow {
  index: string;
  definition: string;
  valid: boolean;
}

/** A database of this worker with an empty public schema (databases may outlive a run with DATABASE_URL). */
async function freshDatabase(suffix: string): Promise<string> {
  const url = await testDatabaseUrl(suffix);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  } finally {
    await client.end();
  }
  return url;
}

async function open(url: string, migrations?: DataSource['options']['migrations']): Promise<DataSource> {
  const options = buildDataSourceOptions({ url, poolSize: 3 });
  return new DataSource({ ...options, ...(migrations ? { migrations } : {}) }).initialize();
}

async function indexes(dataSource: DataSource): Promise<IndexRow[]> {
  return dataSource.query<IndexRow[]>(
    `SELECT i.relname AS index, pg_get_indexdef(x.indexrelid) AS definition, x.indisvalid AS valid
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public'
      ORDER BY i.relname`,
  );
}

/** Marks an index as a concurrent build that failed half way leaves it. */
async function invalidate(dataSource: DataSource, index: string): Promise<void> {
  await dataSource.query(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass`, [index]);
}

describe('migrations that build indexes on large tables (e2e)', () => {
  let reference: IndexRow[];
  const opened: DataSource[] = [];
  const track = (dataSource: DataSource): DataSource => {
    opened.push(dataSource);
    return dataSource;
  };
  /** A database with the initial schema only (where DiagnosticsIndexes starts from), and some events. */
  const beforeDiagnostics = async (suffix: string): Promise<DataSource> => {
    const url = await freshDatabase(suffix);
    const initial = await open(url, [InitialSchema1795890079861]);
    await initial.runMigrations({ transaction: 'each' });
    await initial.query(
      `INSERT INTO webhook_events (id, idempotency_key, event_type, workflow_ref, status, occurred_at, payload)
       SELECT gen_random_uuid(), 'migration-' || g, 'agent_completed', 'wf-' || (g % 50),
              CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'success' END, now(), '{}'::jsonb
         FROM generate_series(1, 2000) g`,
    );
    await initial.destroy();
    return track(await open(url, UP_TO_DIAGNOSTICS));
  };

  beforeAll(async () => {
    const url = await freshDatabase('_mig_reference');
    const dataSource = track(await open(url, [InitialSchema1795890079861]));
    await dataSource.runMigrations({ transaction: 'each' });
    await dataSource.transaction(async (manager) => {
      for (const sql of TRANSACTIONAL_DIAGNOSTICS_INDEXES) await manager.query(sql);
    });
    reference = await indexes(dataSource);
  });

  afterAll(async () => {
    for (const dataSource of opened) if (dataSource.isInitialized) await dataSource.destroy();
  });

  it('declares that it runs outside a transaction (CREATE INDEX CONCURRENTLY requires it)', () => {
    expect(new DiagnosticsIndexes1795901325122().transaction).toBe(false);
    expect(buildDataSourceOptions({ url: 'postgres://x/y', poolSize: 1 }).migrationsTransactionMode).toBe(
      'each',
    );
  });

  it('produces the indexes the transactional version produced, which the entities describe', async () => {
    expect(reference.map((r) => r.index)).toEqual(
      expect.arrayContaining(['idx_webhook_events_received', 'idx_webhook_events_failed']),
    );
    expect(reference.map((r) => r.index)).not.toContain('idx_webhook_events_status');

    const dataSource = await beforeDiagnostics('_mig_fresh');
    expect(await runMigrationsLocked(dataSource)).toEqual([DIAGNOSTICS]);
    expect(await indexes(dataSource)).toEqual(reference);
    // With every later migration applied too, TypeORM finds no index to change between the entities and the schema.
    const latest = track(await open((dataSource.options as { url: string }).url));
    await runMigrationsLocked(latest);
    const pending = await latest.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query).filter((q) => /\bINDEX\b/i.test(q))).toEqual([]);
    // Recorded once: a second run has nothing to do.
    expect(await runMigrationsLocked(dataSource)).toEqual([]);
  });

  it('runs again on a database that already has the indexes (its record lost after the build)', async () => {
    const dataSource = await beforeDiagnostics('_mig_again');
    await runMigrationsLocked(dataSource);
    await dataSource.query(`DELETE FROM schema_migrations WHERE name = $1`, [DIAGNOSTICS]);
    expect(await runMigrationsLocked(dataSource)).toEqual([DIAGNOSTICS]);
    expect(await indexes(dataSource)).toEqual(reference);
  });

  it('finishes a run interrupted half way: a failed build is rebuilt, a half-done swap completed', async () => {
    const dataSource = await beforeDiagnostics('_mig_interrupted');
    // Interrupted while building the second index, after the first one's build had failed.
    await dataSource.query(
      `CREATE INDEX "idx_webhook_events_failed" ON "webhook_events" ("sequence", "event_type") WHERE "status" = 'failed'`,
    );
    await invalidate(dataSource, 'idx_webhook_events_failed');
    await dataSource.query(
      `CREATE INDEX "idx_webhook_events_received_next" ON "webhook_events" ("received_at", "sequence")`,
    );
    await invalidate(dataSource, 'idx_webhook_events_received_next');
    expect(await runMigrationsLocked(dataSource)).toEqual([DIAGNOSTICS]);
    expect(await indexes(dataSource)).toEqual(reference);

    // Interrupted between dropping the old index and renaming the new one.
    await dataSource.query(`DELETE FROM schema_migrations WHERE name = $1`, [DIAGNOSTICS]);
    await dataSource.query(
      `ALTER INDEX "idx_webhook_events_received" RENAME TO "idx_webhook_events_received_next"`,
    );
    expect(await runMigrationsLocked(dataSource)).toEqual([DIAGNOSTICS]);
    expect(await indexes(dataSource)).toEqual(reference);
  });

  it('reverts inside a transaction as migration:revert does, back to the initial indexes, and applies again', async () => {
    const dataSource = await beforeDiagnostics('_mig_revert');
    const initial = await indexes(dataSource);
    await runMigrationsLocked(dataSource);
    await dataSource.undoLastMigration({ transaction: 'each' });
    // The same indexes as before, column for column (the swap renames the rebuilt index back).
    expect(await indexes(dataSource)).toEqual(initial);
    expect(await runMigrationsLocked(dataSource)).toEqual([DIAGNOSTICS]);
    expect(await indexes(dataSource)).toEqual(reference);
  });

  it('lets a concurrent index build finish while another instance waits for the migration lock', async () => {
    const url = await freshDatabase('_mig_lock');
    const waiting = track(await open(url, UP_TO_DIAGNOSTICS));
    await runMigrationsLocked(waiting);
    await waiting.query(`DELETE FROM schema_migrations WHERE name = $1`, [DIAGNOSTICS]);

    // This session stands for an instance that holds the lock and is migrating.
    const holder = new Client({ connectionString: url });
    const builder = new Client({ connectionString: url });
    await holder.connect();
    await builder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      let waited = false;
      let settled = false;
      const second = runMigrationsLocked(waiting, () => {
        waited = true;
      }).finally(() => {
        settled = true;
      });
      await waitFor(() => waited, 'the second instance to wait for the lock');

      // The holder's concurrent build waits for every older snapshot: a waiter blocked inside
      // pg_advisory_lock() would hold one until the lock is released, and the build would never end.
      await builder.query(`SET statement_timeout = '20s'`);
      await builder.query(`CREATE INDEX CONCURRENTLY "idx_lock_probe" ON "webhook_events" ("occurred_at")`);
      await builder.query(`DROP INDEX CONCURRENTLY "idx_lock_probe"`);
      expect(settled).toBe(false);

      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      expect(await second).toEqual([DIAGNOSTICS]);
    } finally {
      await holder.end();
      await builder.end();
    }
  });
});
