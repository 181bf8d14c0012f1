import 'reflect-metadata';
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadSettingsOrExit } from '../src/config/environment';
import { describeFailure, openMigratedDatabase } from '../src/database/database-cli';
import { SCHEMA_ENTITIES } from '../src/schema';
import {
  blockingIndexBuilds,
  isMigrationName,
  listMigrations,
  MIGRATIONS_DIR,
  REGISTRY_FILE,
  renderMigration,
  renderRegistry,
  type SchemaChange,
} from './migration-files';

/**
 * `npm run migration:generate -- Name`: the changes between the entities and a database migrated to the latest
 * state (DATABASE_URL, or the embedded database of DATA_DIR: started for the command, or shared with a running
 * service), written as `migrations/<timestamp>-Name.ts`. `npm run migration:create -- Name`: an empty one.
 * Both register the new file in src/database/migrations.ts (`npm run migration:register` only rewrites that).
 * Files are written in the folder the command runs in (npm runs it at the project root).
 */
const USAGE = 'usage: migration.js generate|create Name | register';
const root = process.cwd();

function say(message: string): void {
  process.stdout.write(`${message}\n`);
}

/** Prettier, when installed (a development dependency), formats what is written as the lint wants it. */
async function formatted(file: string, source: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(source, { ...options, filepath: file });
  } catch {
    return source;
  }
}

async function write(file: string, source: string): Promise<void> {
  writeFileSync(file, await formatted(file, source));
}

async function register(): Promise<void> {
  const migrations = listMigrations(root);
  await write(join(root, REGISTRY_FILE), renderRegistry(migrations));
  say(`${REGISTRY_FILE} lists ${migrations.length} migrations`);
}

async function addMigration(name: string, up: SchemaChange[], down: SchemaChange[]): Promise<void> {
  const timestamp = Date.now();
  const file = join(root, MIGRATIONS_DIR, `${timestamp}-${name}.ts`);
  if (existsSync(file)) throw new Error(`${relative(root, file)} exists already`);
  await write(file, renderMigration(`${name}${timestamp}`, up, down));
  say(`wrote ${relative(root, file)}`);
  await register();
}

async function generate(name: string): Promise<number> {
  const settings = loadSettingsOrExit();
  const database = await openMigratedDatabase(settings, say, SCHEMA_ENTITIES);
  let up: SchemaChange[];
  let down: SchemaChange[];
  try {
    if (database.applied.length > 0) say(`applied first: ${database.applied.join(', ')}`);
    const sql = await database.dataSource.driver.createSchemaBuilder().log();
    up = sql.upQueries;
    down = [...sql.downQueries].reverse();
  } finally {
    await database.close();
  }
  if (up.length === 0) {
    say('No changes between the entities and the migrated database: nothing to generate.');
    say('An empty migration (data changes, CONCURRENTLY indexes): npm run migration:create -- Name');
    return 1;
  }
  await addMigration(name, up, down);
  for (const query of blockingIndexBuilds(up)) {
    say(
      `note: ${query.slice(0, 120)} locks a big table; build it CONCURRENTLY in a migration with transaction = false`,
    );
  }
  say('Review it, then `npm start` or `npm run migration:run` applies it.');
  return 0;
}

async function main(): Promise<number> {
  const [command, name] = process.argv.slice(2);
  if (command === 'register') {
    await register();
    return 0;
  }
  if ((command !== 'generate' && command !== 'create') || !name || !isMigrationName(name)) {
    process.stderr.write(
      `${USAGE}\n(Name: letters and digits, starting with a capital, e.g. AddAuditIndex)\n`,
    );
    return 2;
  }
  if (command === 'create') {
    await addMigration(name, [], []);
    return 0;
  }
  return generate(name);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`migration ${process.argv[2] ?? ''} failed: ${describeFailure(error)}\n`);
    process.exit(1);
  },
);
