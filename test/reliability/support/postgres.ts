import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import { waitFor } from '../../support/wait';
import { EmbeddedPostgresServer } from '../../../src/database/embedded-postgres';
import { freePort, tempDir } from './harness';

/** Fields of /proc/<pid>/stat after the command name: state, then the parent's pid. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => statFields(pid)?.[1] === String(parent));
}

/** Running, sleeping or stopped; a zombie (exited, not yet reaped) is not alive. */
function alive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== null && fields[0] !== 'Z' && fields[0] !== 'X';
}
/**
 * A PostgreSQL of the scenario's own, in a temp folder, that the scenario can stop and start again (its data
 * stays: `persistent`). `stop()` is PostgreSQL's fast shutdown (SIGINT): connections are closed, a checkpoint
 * is written. `crash()` SIGKILLs the postmaster and every one of its processes at once, as a machine or
 * container kill would: the next start has to run crash recovery from the write-ahead log.
 */
export class ScenarioPostgres {
  private pg: EmbeddedPostgresServer | null = null;
  private running = false;
  /** The server's log (bounded): tells whether a start ran crash recovery. */
  private readonly logLines: string[] = [];
  port = 0;
  readonly database = 'opal_reliability_test';

  get url(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${this.database}`;
  }

  async init(): Promise<void> {
    this.port = await freePort();
    this.pg = new EmbeddedPostgresServer({
      clusterDir: tempDir('pg'),
      password: 'postgres',
      port: this.port,
      // Enough connections for two services, the checks and a burst of reconnects after a restart.
      postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=on'],
      onOutput: (line) => {
        this.logLines.push(line);
        if (this.logLines.length > 2000) this.logLines.splice(0, this.logLines.length - 2000);
      },
    });
    await this.start();
    await this.pg.ensureDatabase(this.database);
    await this.recordVersion();
  }

  /** The server's version, once per run, for the results file. */
  private async recordVersion(): Promise<void> {
    const dir = process.env.RELIABILITY_FIGURES_DIR;
    if (!dir || existsSync(join(dir, 'postgres.json'))) return;
    const pool = this.pool();
    try {
      const { rows } = await pool.query<{ server_version: string }>('SHOW server_version');
      writeFileSync(
        join(dir, 'postgres.json'),
        JSON.stringify({ version: `${rows[0].server_version} (embedded-postgres)` }),
      );
    } finally {
      await pool.end();
    }
  }

  async start(): Promise<void> {
    await this.pg!.start();
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.pg!.stop();
  }

  /**
   * SIGKILL to the postmaster and all its children in the same instant; resolves once none of them is left (an
   * exited child that nobody reaps counts as gone: it holds no memory or files). Returns how many were killed.
   */
  async crash(): Promise<number> {
    if (!this.running) throw new Error('PostgreSQL is not running');
    const postmaster = Number(
      readFileSync(join(this.pg!.clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    const victims = [postmaster, ...childrenOf(postmaster)];
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.running = false;
    await waitFor(() => victims.every((pid) => !alive(pid)), 'every PostgreSQL process gone', {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    return victims.length;
  }

  /** Lines of the server's log matching `pattern` since it was initialised. */
  logMatching(pattern: RegExp): string[] {
    return this.logLines.filter((line) => pattern.test(line));
  }

  /** A small pool for the scenario's own checks. */
  pool(): Pool {
    const pool = new Pool({ connectionString: this.url, max: 3 });
    // An idle connection dropped by a stopped server must not crash the test process.
    pool.on('error', () => undefined);
    return pool;
  }
}
