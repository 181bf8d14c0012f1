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
const MIGRATION_LOCK_KEY = 727_001;

/** Runs pending migrations while holding an advisory lock, so concurrent starts migrate once. */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await runner.release();
  }
}
