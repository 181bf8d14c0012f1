import 'reflect-metadata';
import { loadSettingsOrExit } from '../config/environment';
import { describeFailure, openMigratedDatabase } from './database-cli';

const line = (fields: Record<string, unknown>) =>
  `${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`;

/** `npm run migration:run`: applies pending migrations to DATABASE_URL (or the embedded database) and exits. */
async function main(): Promise<void> {
  const settings = loadSettingsOrExit();
  const database = await openMigratedDatabase(settings, (msg) =>
    process.stdout.write(line({ level: 'info', msg })),
  );
  await database.close();
  process.stdout.write(line({ level: 'info', msg: 'migrations applied', applied: database.applied }));
}

main().catch((error: unknown) => {
  process.stderr.write(line({ level: 'fatal', msg: 'migration failed', error: describeFailure(error) }));
  process.exit(1);
});
