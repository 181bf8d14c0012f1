import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../src/database/migrations';
import {
  blockingIndexBuilds,
  isMigrationName,
  listMigrations,
  renderMigration,
  renderRegistry,
} from './migration-files';

describe('migration files and their registry', () => {
  it('registers every file in migrations/, oldest first (a file added by hand must be registered too)', () => {
    const files = listMigrations(process.cwd());
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(MIGRATIONS.map((m) => m.name)).toEqual(files.map((f) => f.className));
  });

  it('orders by the timestamp of the file name and renders one import per class', () => {
    const root = mkdtempSync(join(tmpdir(), 'opal-migrations-'));
    try {
      mkdirSync(join(root, 'migrations'));
      const file = (stamp: number, name: string) =>
        writeFileSync(join(root, 'migrations', `${stamp}-${name}.ts`), renderMigration(`${name}${stamp}`));
      file(20, 'Later');
      file(3, 'Earlier');
      writeFileSync(join(root, 'migrations', 'README.md'), 'not a migration');
      const listed = listMigrations(root);
      expect(listed).toEqual([
        { module: '3-Earlier', className: 'Earlier3' },
        { module: '20-Later', className: 'Later20' },
      ]);
      const registry = renderRegistry(listed);
      expect(registry).toContain("import { Earlier3 } from '../../migrations/3-Earlier';");
      expect(registry).toContain('export const MIGRATIONS = [Earlier3, Later20];');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('writes queries as template literals that keep backticks, ${ and parameters intact', () => {
    const source = renderMigration(
      'Odd1',
      [{ query: 'COMMENT ON TABLE "t" IS \'a `tick` and ${x} and \\n\'', parameters: [1, 'two'] }],
      [{ query: 'SELECT 1' }],
    );
    expect(source).toContain("name = 'Odd1';");
    expect(source).toContain(
      'await queryRunner.query(`COMMENT ON TABLE "t" IS \'a \\`tick\\` and \\${x} and \\\\n\'`, [1,"two"]);',
    );
    expect(source).toContain('await queryRunner.query(`SELECT 1`);');
  });

  it('flags index builds that would lock a big table', () => {
    expect(
      blockingIndexBuilds([
        { query: 'CREATE INDEX "idx_a" ON "webhook_events" ("x")' },
        { query: 'CREATE UNIQUE INDEX "idx_b" ON "agent_runs" ("y")' },
        { query: 'CREATE INDEX CONCURRENTLY "idx_c" ON "workflows" ("z")' },
        { query: 'CREATE INDEX "idx_d" ON "audit_log" ("z")' },
      ]),
    ).toEqual([
      'CREATE INDEX "idx_a" ON "webhook_events" ("x")',
      'CREATE UNIQUE INDEX "idx_b" ON "agent_runs" ("y")',
    ]);
  });

  it('accepts class-like names only', () => {
    expect(isMigrationName('AddAuditIndex')).toBe(true);
    for (const bad of ['addIndex', 'Add-Index', '', '../Evil', 'Add Index'])
      expect(isMigrationName(bad)).toBe(false);
  });
});
