import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgresServer } from '../src/database/embedded-postgres';
import { freePort } from './processes';

export interface BenchDatabase {
  url: string;
  /** The database's name (PostgreSQL backends serving it show it in their command line). */
  name: string;
  /** "embedded" or the host of DATABASE_URL. */
  source: string;
  stop(): Promise<void>;
}

/**
 * A throw-away database: a fresh embedded PostgreSQL cluster in its own temporary folder (removed at the end), or, when
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
  const clusterDir = mkdtempSync(join(tmpdir(), 'opal-force-sync-bench-pg-'));
  const pg = new EmbeddedPostgresServer({ clusterDir, password: 'bench', port: await freePort() });
  try {
    await pg.start();
    await pg.ensureDatabase(name);
  } catch (error) {
    await pg.destroy();
    rmSync(clusterDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: pg.url(name),
    name,
    source: 'embedded-postgres',
    stop: async () => {
      try {
        await pg.destroy();
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
