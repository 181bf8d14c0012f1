import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectPostmaster, isAlive, stopOrphan } from './postgres-processes';

// Real processes stand in for PostgreSQL: a Node process whose command line reads `…/bin/postgres -D <dir>`
// (argv0 set at spawn), so that the check of /proc (or ps) is exercised as it is on a real cluster.
const KEEP_ALIVE = 'setInterval(() => {}, 1000)';
const started: number[] = [];
let dir: string;

function fakePostmasterArgs(clusterDir: string): string[] {
  return ['-e', KEEP_ALIVE, '--', '-D', clusterDir, '-p', '5999'];
}

/** A fake PostgreSQL whose parent is this (live, Node) test process. */
function ownedFake(clusterDir: string): ChildProcess {
  const child = spawn(process.execPath, fakePostmasterArgs(clusterDir), {
    argv0: join(dir, 'bin', 'postgres'),
    stdio: 'ignore',
  });
  started.push(child.pid!);
  return child;
}

/** A fake PostgreSQL whose starter has exited, as after a SIGKILL of the service: it is adopted by init. */
function orphanedFake(clusterDir: string): number {
  const launcher = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ${JSON.stringify(fakePostmasterArgs(clusterDir))}, {
      argv0: ${JSON.stringify(join(dir, 'bin', 'postgres'))}, detached: true, stdio: 'ignore',
    });
    child.unref();
    process.stdout.write(String(child.pid));`;
  const pid = Number(spawnSync(process.execPath, ['-e', launcher], { encoding: 'utf8' }).stdout);
  started.push(pid);
  return pid;
}

function writePidFile(clusterDir: string, pid: number, port = 5999): void {
  writeFileSync(
    join(clusterDir, 'postmaster.pid'),
    [pid, clusterDir, '1700000000', port, '', '127.0.0.1', '0', 'ready'].join('\n'),
  );
}

async function gone(pid: number): Promise<boolean> {
  const deadline = Date.now() + 10000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return !isAlive(pid);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'opal-force-sync-postmaster-'));
});

afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('stopOrphan', () => {
  it('does nothing without postmaster.pid, or when the process it names has gone', async () => {
    expect(await stopOrphan(dir)).toEqual({ kind: 'none' });
    writePidFile(dir, 2 ** 22 + 12345);
    expect(await stopOrphan(dir)).toEqual({ kind: 'none' });
  });

  it('never signals a live process that is not PostgreSQL (a reused PID)', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    started.push(sleeper.pid!);
    writePidFile(dir, sleeper.pid!);
    expect(await stopOrphan(dir, 500)).toEqual({ kind: 'other', pid: sleeper.pid });
    expect(isAlive(sleeper.pid!)).toBe(true);
  });

  it("never signals another cluster's PostgreSQL", async () => {
    const other = mkdtempSync(join(tmpdir(), 'opal-force-sync-other-cluster-'));
    try {
      const pid = orphanedFake(other);
      writePidFile(dir, pid);
      expect(await stopOrphan(dir, 500)).toEqual({ kind: 'other', pid });
      expect(isAlive(pid)).toBe(true);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("leaves this cluster's PostgreSQL alone while the Node process that started it runs", async () => {
    const owned = ownedFake(dir);
    writePidFile(dir, owned.pid!, 6123);
    expect(await stopOrphan(dir, 500)).toEqual({
      kind: 'running',
      pid: owned.pid,
      port: 6123,
      ownerPid: process.pid,
    });
    expect(isAlive(owned.pid!)).toBe(true);
  });

  it("stops this cluster's PostgreSQL once its starter has gone, and reports its port", async () => {
    const pid = orphanedFake(dir);
    writePidFile(dir, pid, 6124);
    expect(inspectPostmaster(dir)).toEqual({ kind: 'orphan', pid, port: 6124 });
    expect(await stopOrphan(dir)).toEqual({ kind: 'orphan', pid, port: 6124 });
    expect(await gone(pid)).toBe(true);
  });
});
