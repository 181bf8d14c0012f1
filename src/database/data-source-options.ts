import type { DataSource, DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from './migrations';

export interface DatabaseConnection {
  url: string;
  poolSize: number;
  applicationName?: string;
  /**
   * Entity classes or file globs. The app leaves this empty: each owning module registers its own entities
   * (`TypeOrmModule.forFeature`, loaded with `autoLoadEntities`). Migrations need none.
   */
  entities?: NonNullable<DataSourceOptions['entities']>;
}

/** The one options builder, used by the app and by the migration CLI. `synchronize` is off everywhere. */
export function buildDataSourceOptions(connection: DatabaseConnection): DataSourceOptions {
  return {
    type: 'postgres',
    url: connection.url,
    entities: connection.entities ?? [],
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    // Each migration in its own transaction, except those that declare `transaction = false` (concurrent index
    // builds, which PostgreSQL refuses inside a transaction). Mode 'all' would refuse such a migration.
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      max: connection.poolSize,
      application_name: connection.applicationName ?? 'opal-force-sync',
      connectionTimeoutMillis: 5000,
      // A stuck query must not hold a connection forever (the pool is small).
      statement_timeout: 30000,
      idle_in_transaction_session_timeout: 60000,
    },
  };
}

/** Arbitrary constant: the advisory lock that serialises migrations when several instances start at once. */
export const MIGRATION_LOCK_KEY = 727_001;

const LOCK_POLL_MS = 200;

/**
 * Runs pending migrations while holding an advisory lock, so concurrent starts migrate once; the others wait, then
 * find nothing pending. They wait by polling `pg_try_advisory_lock`, never in a blocking `pg_advisory_lock`: a
 * session blocked in a statement holds a snapshot, and `CREATE INDEX CONCURRENTLY` in the lock holder's migration
 * waits for every older snapshot to end — each instance would wait for the other, and PostgreSQL cannot see that
 * cycle (it passes through the holder's idle lock session).
 */
export async function runMigrationsLocked(
  dataSource: DataSource,
  onWait: () => void = () => undefined,
): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  let locked = false;
  try {
    for (let attempt = 0; !locked; attempt++) {
      const [row] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        MIGRATION_LOCK_KEY,
      ])) as { locked: boolean }[];
      locked = row.locked;
      if (!locked) {
        if (attempt === 0) onWait();
        await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
      }
    }
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    if (locked) {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
    await runner.release();
  }
}
