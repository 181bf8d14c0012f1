import { Client } from 'pg';

const created = new Map<string, Promise<string>>();

/**
 * The database of this Jest worker (created on first use) on the server chosen by the global setup. Refuses any
 * database whose name does not say it is for tests.
 */
export function testDatabaseUrl(suffix = ''): Promise<string> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set: run the e2e tests through jest (global setup)');
  const url = new URL(base);
  const name = `${url.pathname.replace(/^\//, '')}_w${process.env.JEST_WORKER_ID ?? '1'}${suffix}`;
  if (!/test/i.test(name)) throw new Error(`Refusing to use database "${name}": not a test database`);
  const existing = created.get(name);
  if (existing) return existing;
  const promise = (async () => {
    const admin = new URL(base);
    admin.pathname = '/postgres';
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } catch (error) {
      if ((error as { code?: string }).code !== '42P04') throw error;
    } finally {
      await client.end();
    }
    url.pathname = `/${name}`;
    return url.toString();
  })();
  created.set(name, promise);
  return promise;
}
