import { DataSource, type DataSourceOptions } from 'typeorm';
import { redactString } from '../common/redact';
import { StartupError } from '../common/startup-error';
import type { Settings } from '../config/settings';
import { buildDataSourceOptions, runMigrationsLocked } from './data-source-options';
import { EmbeddedDatabase } from './embedded-database';

export interface CliDatabase {
  dataSource: DataSource;
  /** The migrations this open applied. */
  applied: string[];
  close(): Promise<void>;
}

/**
 * For the command-line tools (`migration:run`, `migration:generate`): DATABASE_URL, or else the embedded database
 * of DATA_DIR (started for the command and stopped after it, or the one a running service already serves),
 * migrated to the latest state.
 */
export async function openMigratedDatabase(
  settings: Settings,
  log: (message: string) => void,
  /** The schema's entities, for a command that compares them with the database (`SCHEMA_ENTITIES`). */
  entities: NonNullable<DataSourceOptions['entities']> = [],
): Promise<CliDatabase> {
  if (!settings.databaseUrl && settings.isProduction) {
    throw new StartupError('DATABASE_URL is not set in production', 'set DATABASE_URL');
  }
  const embedded = settings.databaseUrl
    ? null
    : new EmbeddedDatabase({
        dataDir: settings.dataDir,
        databaseName: 'opal_force_sync',
        log,
        shareRunning: true,
      });
  const url = settings.databaseUrl ?? (await embedded!.start());
  let dataSource: DataSource | null = null;
  try {
    dataSource = await new DataSource(buildDataSourceOptions({ url, poolSize: 2, entities })).initialize();
    const applied = await runMigrationsLocked(dataSource, () =>
      log('another process is applying migrations: waiting for it'),
    );
    const opened = dataSource;
    return {
      dataSource: opened,
      applied,
      close: async () => {
        await opened.destroy();
        await embedded?.stop();
      },
    };
  } catch (error) {
    if (dataSource?.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }
}

/** The one line a command prints when it fails (a StartupError's names the cause and the fix), no stack. */
export function describeFailure(error: unknown): string {
  return redactString(error instanceof Error ? error.message : String(error));
}
