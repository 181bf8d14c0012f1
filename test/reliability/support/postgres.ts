import { Pool } from 'pg';
import { EmbeddedPostgresServer } from '../../../src/database/embedded-postgres';
import { freePort, tempDir } from './harness';

/**
 * A PostgreSQL of the scenario's own, in a temp folder, that the scenario can stop and start again (its data
 * stays: `persistent`). Stopping is PostgreSQL's fast shutdown (SIGINT): connections are closed.
 */
export class ScenarioPostgres {
  private pg: EmbeddedPostgresServer | null = null;
  private running = false;
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
    });
    await this.start();
    await this.pg.ensureDatabase(this.database);
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

  /** A small pool for the scenario's own checks. */
  pool(): Pool {
    const pool = new Pool({ connectionString: this.url, max: 3 });
    // An idle connection dropped by a stopped server must not crash the test process.
    pool.on('error', () => undefined);
    return pool;
  }
}
