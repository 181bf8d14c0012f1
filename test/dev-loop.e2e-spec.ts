import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './support/app';
import { copyProject } from './support/project-copy';
import { ServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';

// A developer's day on a copy of the project (its own src/, migrations/ and build, so the project's files are never
// touched), with no environment at all: the embedded database of the copy's .data.
describe('developer loop on a copy of the project, with no environment (e2e)', () => {
  const project = copyProject({
    files: ['src', 'migrations', 'scripts', 'bench', 'public', 'dist', 'package.json'].concat([
      'tsconfig.json',
      'tsconfig.build.json',
      'nest-cli.json',
      '.prettierrc',
    ]),
    // Other users may enter it, so that as root the cluster stays in the copy's .data (first-run covers 0700).
    mode: 0o755,
  });
  const env = { PATH: process.env.PATH };
  const file = (path: string) => join(project.dir, path);
  const edit = (path: string, from: string, to: string) => {
    const source = readFileSync(file(path), 'utf8');
    expect(source).toContain(from);
    writeFileSync(file(path), source.replace(from, to));
  };
  const npm = (...args: string[]) =>
    spawnSync('npm', ['run', '--silent', ...args], {
      cwd: project.dir,
      env,
      encoding: 'utf8',
      timeout: 240000,
    });
  const migrationFiles = () => readdirSync(file('migrations')).sort();

  afterAll(() => project.remove());

  it('start:dev rebuilds (with the Swagger plugin) and restarts the service when a file changes', async () => {
    const port = await freePort();
    const watcher: ChildProcess = spawn(process.execPath, ['scripts/watch.js'], {
      cwd: project.dir,
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    watcher.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    watcher.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise((resolve) => watcher.once('exit', resolve));
    const description = async () => {
      try {
        const doc = (await (await fetch(`http://127.0.0.1:${port}/docs-json`)).json()) as {
          components: { schemas: Record<string, { properties: Record<string, { description?: string }> }> };
        };
        return doc.components.schemas.ServiceIndexDto.properties.name.description ?? '';
      } catch {
        return '';
      }
    };
    try {
      // The description comes from a JSDoc comment, which only the Swagger plugin turns into metadata.
      await waitFor(async () => (await description()) === 'Service name.', 'the watched service', {
        timeoutMs: 120000,
        intervalMs: 250,
      });
      edit('src/service-index.dto.ts', '* Service name.', '* Name of this service.');
      await waitFor(async () => (await description()) === 'Name of this service.', 'the rebuilt service', {
        timeoutMs: 120000,
        intervalMs: 250,
      });
      expect(output.join('')).toContain('restarting the service');
    } finally {
      watcher.kill('SIGTERM');
      await exited;
    }
    // The watcher stopped the service, which stopped its embedded PostgreSQL.
    expect(output.join('')).toContain('Embedded PostgreSQL stopped');
  }, 300000);

  it('migration:generate registers a migration from a changed entity, sharing the database a running service uses', async () => {
    const service = new ServiceProcess({ PORT: String(await freePort()) }, project.dir);
    await service.start();
    try {
      edit(
        'src/audit/audit-log.entity.ts',
        '  details: Record<string, unknown>;\n',
        "  details: Record<string, unknown>;\n\n  @Column({ name: 'probe_note', type: 'text', nullable: true })\n  probeNote: string | null;\n",
      );
      const before = migrationFiles();
      const generated = npm('migration:generate', '--', 'AddProbeNote');
      expect({ status: generated.status, out: generated.stdout + generated.stderr }).toMatchObject({
        status: 0,
      });
      const added = migrationFiles().filter((f) => !before.includes(f));
      expect(added).toEqual([expect.stringMatching(/^\d+-AddProbeNote\.ts$/)]);
      const source = readFileSync(file(`migrations/${added[0]}`), 'utf8');
      expect(source).toContain('ALTER TABLE "audit_log" ADD "probe_note" text');
      expect(source).toContain('ALTER TABLE "audit_log" DROP COLUMN "probe_note"');
      const className = /export class (AddProbeNote\d+)/.exec(source)![1];
      expect(readFileSync(file('src/database/migrations.ts'), 'utf8')).toMatch(
        new RegExp(`MIGRATIONS = \\[[^\\]]*\\b${className},?\\s*\\]`),
      );
      // The service kept its database.
      expect((await fetch(`${service.url}/api/health/ready`)).status).toBe(200);
    } finally {
      await service.stop('SIGTERM');
    }

    // The build and the migration command see the new migration without a hand edit.
    const run = npm('migration:run');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/"applied":\["AddProbeNote\d+"\]/);
    const again = spawnSync(process.execPath, ['dist/scripts/migration.js', 'generate', 'Nothing'], {
      cwd: project.dir,
      env,
      encoding: 'utf8',
      timeout: 120000,
    });
    expect(again.status).toBe(1);
    expect(again.stdout).toContain('No changes between the entities and the migrated database');
  }, 300000);

  it('migration:create writes an empty migration and registers it', () => {
    const before = migrationFiles();
    const created = spawnSync(process.execPath, ['dist/scripts/migration.js', 'create', 'BackfillProbe'], {
      cwd: project.dir,
      env,
      encoding: 'utf8',
    });
    expect(created.status).toBe(0);
    const added = migrationFiles().filter((f) => !before.includes(f));
    expect(added).toEqual([expect.stringMatching(/^\d+-BackfillProbe\.ts$/)]);
    const source = readFileSync(file(`migrations/${added[0]}`), 'utf8');
    expect(source).toMatch(/public async up\(queryRunner: QueryRunner\): Promise<void> \{\}/);
    const registry = readFileSync(file('src/database/migrations.ts'), 'utf8');
    expect(registry).toMatch(/MIGRATIONS = \[[^\]]*\bBackfillProbe\d+,?\s*\]/);
    const refused = spawnSync(process.execPath, ['dist/scripts/migration.js', 'create', '../Evil'], {
      cwd: project.dir,
      env,
      encoding: 'utf8',
    });
    expect(refused.status).toBe(2);
  });
});
