import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The migration files and their registry, `src/database/migrations.ts`: an explicit list (builds, the migration
 * CLI and the tests load the same classes), written from the files in `migrations/` so that a new migration is
 * registered without a hand edit.
 */

export const MIGRATIONS_DIR = 'migrations';
export const REGISTRY_FILE = join('src', 'database', 'migrations.ts');

export interface MigrationFile {
  /** File name without `.ts`, e.g. `1795890079861-InitialSchema`. */
  module: string;
  /** The exported class, e.g. `InitialSchema1795890079861`. */
  className: string;
}

export function isMigrationName(name: string): boolean {
  return /^[A-Z][A-Za-z0-9]*$/.test(name);
}

/** The migrations of a project folder, oldest first (by the timestamp that starts each file name). */
export function listMigrations(root: string): MigrationFile[] {
  const dir = join(root, MIGRATIONS_DIR);
  return readdirSync(dir)
    .filter((file) => /^\d+-[A-Za-z0-9]+\.ts$/.test(file))
    .sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]))
    .map((file) => {
      const source = readFileSync(join(dir, file), 'utf8');
      const className = /export class (\w+) implements MigrationInterface/.exec(source)?.[1];
      if (!className) throw new Error(`${MIGRATIONS_DIR}/${file} exports no MigrationInterface class`);
      return { module: file.replace(/\.ts$/, ''), className };
    });
}

export function renderRegistry(migrations: MigrationFile[]): string {
  const imports = migrations.map((m) => `import { ${m.className} } from '../../migrations/${m.module}';`);
  return [
    '// Written by `npm run migration:generate`, `migration:create` and `migration:register` from the files in',
    '// migrations/: do not edit by hand.',
    ...imports,
    '',
    '/** Every migration, in order. Listed explicitly so that builds and tests load the same classes. */',
    `export const MIGRATIONS = [${migrations.map((m) => m.className).join(', ')}];`,
    '',
  ].join('\n');
}

function queryCall(query: string, parameters?: unknown[]): string {
  const literal = query.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${');
  const params = parameters && parameters.length > 0 ? `, ${JSON.stringify(parameters)}` : '';
  return `    await queryRunner.query(\`${literal}\`${params});`;
}

export interface SchemaChange {
  query: string;
  parameters?: unknown[];
}

/** A migration class in the project's shape; `up` and `down` empty for `migration:create`. */
export function renderMigration(
  className: string,
  up: SchemaChange[] = [],
  down: SchemaChange[] = [],
): string {
  return [
    "import type { MigrationInterface, QueryRunner } from 'typeorm';",
    '',
    `export class ${className} implements MigrationInterface {`,
    `  name = '${className}';`,
    '',
    '  public async up(queryRunner: QueryRunner): Promise<void> {',
    ...up.map((q) => queryCall(q.query, q.parameters)),
    '  }',
    '',
    '  public async down(queryRunner: QueryRunner): Promise<void> {',
    ...down.map((q) => queryCall(q.query, q.parameters)),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Index builds that lock a big table for writes: the house rule wants them CONCURRENTLY, without a transaction. */
export function blockingIndexBuilds(up: SchemaChange[]): string[] {
  return up
    .map((q) => q.query)
    .filter((q) =>
      /CREATE (UNIQUE )?INDEX (?!CONCURRENTLY).*ON "(webhook_events|workflows|agent_runs)"/i.test(q),
    );
}
