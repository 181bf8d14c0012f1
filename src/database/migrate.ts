import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadSettingsOrExit } from '../config/environment';
import { buildDataSourceOptions, runMigrationsLocked } from './data-source-options';
import { EmbeddedDatabase } from './embedded-postgres';

/** `npm run migration:run`: applies pending migrations to DATABASE_URL (or the embedded database) and exits. */
async function main(): Promise<void> {
  const settings = loadSettingsOrExit();
  const embedded = settings.databaseUrl
    ? null
    : new EmbeddedDatabase({ dataDir: settings.dataDir, databaseName: 'opal_force_sync' });
  const url = settings.databaseUrl ?? (await embedded!.start());
  const dataSource = await new DataSource(buildDataSourceOptions({ url, poolSize: 2 })).initialize();
  try {
    const applied = await runMigrationsLocked(dataSource, () =>
      process.stdout.write(
        `${JSON.stringify({ level: 'info', time: new Date().toISOString(), msg: 'another process is applying migrations: waiting for it' })}\n`,
      ),
    );
    process.stdout.write(
      `${JSON.stringify({ level: 'info', time: new Date().toISOString(), msg: 'migrations applied', applied })}\n`,
    );
  } finally {
    await dataSource.destroy();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', msg: 'migration failed', error: String(error) })}\n`,
  );
  process.exit(1);
});
