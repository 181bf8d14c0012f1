import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, resetDatabase, TEST_OPERATOR_KEY, type TestApp } from './support/app';
import { ROOT } from './support/project-copy';

// The client as front-end teams get it: `npm pack` of clients/typescript, installed from the tarball into a
// small consumer project (test/fixtures/client-consumer) that compiles with both module resolutions and runs.
// Offline: openapi-fetch (the peer dependency) and typescript come from the project's own node_modules.
const clientDir = join(ROOT, 'clients', 'typescript');
const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs a command without blocking this process (the service under test answers from it). */
function run(
  command: string,
  args: string[],
  cwd: string,
): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out, err }));
  });
}

interface PackResult {
  name: string;
  version: string;
  filename: string;
  files: { path: string }[];
}

describe('the client package (e2e)', () => {
  let t: TestApp;
  let work: string;
  let consumer: string;
  let packed: PackResult;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
    work = mkdtempSync(join(tmpdir(), 'opal-force-sync-client-package-'));
    // `prepack` builds the package (dist/ is not committed).
    const pack = spawnSync('npm', ['pack', '--pack-destination', work, '--json', '--silent'], {
      cwd: clientDir,
      encoding: 'utf8',
      timeout: 120000,
    });
    if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
    [packed] = JSON.parse(pack.stdout) as PackResult[];

    consumer = join(work, 'consumer');
    cpSync(join(ROOT, 'test', 'fixtures', 'client-consumer'), consumer, { recursive: true });
    const install = spawnSync(
      'npm',
      [
        'install',
        join(work, packed.filename),
        '--offline',
        // The peer dependency is linked below instead of fetched.
        '--legacy-peer-deps',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
      ],
      { cwd: consumer, encoding: 'utf8', timeout: 120000 },
    );
    if (install.status !== 0) throw new Error(`npm install of the tarball failed: ${install.stderr}`);
    symlinkSync(join(ROOT, 'node_modules', 'openapi-fetch'), join(consumer, 'node_modules', 'openapi-fetch'));
  }, 240000);

  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await t.close();
  });

  it('is named and versioned after the API, ships ES modules and declarations, and wants openapi-fetch as a peer', () => {
    const info = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')) as {
      info: { version: string };
    };
    expect(packed.name).toBe('@opal-force-sync/client');
    expect(packed.version).toBe(info.info.version);
    expect(packed.filename).toBe(`opal-force-sync-client-${info.info.version}.tgz`);
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'README.md',
        'dist/index.d.ts',
        'dist/index.js',
        'dist/schema.d.ts',
        'package.json',
      ]),
    );
    expect(files.filter((f) => f.startsWith('src/'))).toEqual([]);
    const manifest = JSON.parse(
      readFileSync(join(consumer, 'node_modules', '@opal-force-sync', 'client', 'package.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      type: 'module',
      types: './dist/index.d.ts',
      exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
      peerDependencies: { 'openapi-fetch': expect.any(String) },
    });
    expect(manifest.dependencies).toBeUndefined();
  });

  it.each(['bundler', 'nodenext'])(
    'compiles a consumer with moduleResolution %s, with real types (misuse is a type error)',
    async (resolution) => {
      const result = await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], consumer);
      expect({ status: result.status, out: result.out }).toEqual({ status: 0, out: '' });
    },
  );

  it('runs the consumer built for Node (nodenext): force sync, then get sync, against the service', async () => {
    const build = await run(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json'], consumer);
    expect(build.status).toBe(0);
    const result = await run(
      process.execPath,
      ['run.mjs', 'forceSyncThenGet', t.url, TEST_OPERATOR_KEY],
      consumer,
    );
    expect(result.err).toBe('');
    const summary = JSON.parse(result.out) as {
      syncId: string;
      externalStatus: string;
      status: string;
      agents: number;
    };
    expect(summary).toMatchObject({ externalStatus: 'accepted', agents: 9 });
    expect(summary.syncId).toMatch(/^[0-9a-f-]{36}$/);
    expect(['pending', 'triggered', 'running', 'completed']).toContain(summary.status);
  });

  it('runs the consumer built for Node (nodenext): force sync, then its live progress to the end', async () => {
    const build = await run(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json'], consumer);
    expect(build.status).toBe(0);
    const result = await run(
      process.execPath,
      ['run.mjs', 'forceSyncThenWatch', t.url, TEST_OPERATOR_KEY],
      consumer,
    );
    expect(result.err).toBe('');
    const summary = JSON.parse(result.out) as {
      events: string[];
      finalStatus: string;
      agentsCompleted: number;
    };
    expect(summary.events[0]).toBe('snapshot');
    expect(summary.events[summary.events.length - 1]).toBe('end');
    expect(summary).toMatchObject({ finalStatus: 'completed', agentsCompleted: 9 });
  });
});
