import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';

/** What `postmaster.pid` of a cluster says, checked against the running processes. */
export type PostmasterState =
  /** No lock file, or the process it names has gone. */
  | { kind: 'none' }
  /** The PID is alive but is not this cluster's PostgreSQL (the PID was reused): never signalled. */
  | { kind: 'other'; pid: number }
  /** This cluster's PostgreSQL, whose starter has gone (a service killed with SIGKILL). */
  | { kind: 'orphan'; pid: number; port: number }
  /** This cluster's PostgreSQL, started by a Node process that is still running (a service, a script). */
  | { kind: 'running'; pid: number; port: number; ownerPid: number };

interface ProcessInfo {
  ppid: number;
  argv: string[];
}

/** Command line and parent of a process, or null when it does not exist or cannot be read. */
export function readProcess(pid: number): ProcessInfo | null {
  if (process.platform === 'linux') {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[argv.length - 1] === '') argv.pop();
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return { ppid, argv };
    } catch {
      return null;
    }
  }
  if (process.platform === 'win32') return null;
  try {
    // macOS and the BSDs have no /proc; `ps` gives the command line with spaces between arguments.
    const out = execFileSync('ps', ['-o', 'ppid=', '-o', 'command=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const match = /^(\d+)\s+(.*)$/.exec(out);
    return match ? { ppid: Number(match[1]), argv: match[2].split(' ') } : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the process runs a `postgres` binary on exactly this data directory (`postgres -D <dir> …`). */
export function isPostmasterOf(info: ProcessInfo, clusterDir: string): boolean {
  const program = basename(info.argv[0] ?? '').replace(/\.exe$/i, '');
  if (program !== 'postgres') return false;
  const at = info.argv.indexOf('-D');
  return at >= 0 && at + 1 < info.argv.length && resolve(info.argv[at + 1]) === resolve(clusterDir);
}

function isNodeProcess(pid: number): boolean {
  const info = readProcess(pid);
  return info !== null && /^node(\d+)?(\.exe)?$/i.test(basename(info.argv[0] ?? ''));
}

/** Reads `<clusterDir>/postmaster.pid` and tells whose process it names, without signalling anything. */
export function inspectPostmaster(clusterDir: string): PostmasterState {
  const pidFile = `${clusterDir}/postmaster.pid`;
  if (!existsSync(pidFile)) return { kind: 'none' };
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return { kind: 'none' };
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return { kind: 'none' };
  const info = readProcess(pid);
  if (!info || !isPostmasterOf(info, clusterDir)) return { kind: 'other', pid };
  const port = Number(lines[3]);
  // A crashed starter's children are adopted by init (or a subreaper), which is not a Node process.
  if (info.ppid > 1 && isNodeProcess(info.ppid)) return { kind: 'running', pid, port, ownerPid: info.ppid };
  return { kind: 'orphan', pid, port };
}

/**
 * A crashed service (SIGKILL) leaves its PostgreSQL running with the cluster locked: ask it to shut down fast
 * and wait until it has gone, so that this start can take the cluster over. Only a process that is this
 * cluster's PostgreSQL and has lost its starter is signalled; the state found is returned either way.
 */
export async function stopOrphan(clusterDir: string, timeoutMs = 30000): Promise<PostmasterState> {
  const state = inspectPostmaster(clusterDir);
  if (state.kind !== 'orphan') return state;
  process.kill(state.pid, 'SIGINT');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return state;
}
