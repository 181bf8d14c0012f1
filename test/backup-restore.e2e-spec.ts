import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, TEST_OPERATOR_KEY, TEST_OPAL_KEY, TEST_WEBHOOK_SECRET } from './support/app';
import { seedBrokenWorkflows } from './support/recovery-seed';
import { ServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';

/**
 * The README's backup-and-restore drill, run for real: pg_dump of a live database, pg_restore into a fresh one,
 * the service started on the copy, and a bulk replay that rebuilds every workflow from the restored events to the
 * state the original had. It needs the system PostgreSQL (127.0.0.1:5432, user postgres, trust) and the client
 * tools; CI provides both, so under CI it always runs (and fails if they are missing).
 */
const HOST = '127.0.0.1';
const SERVER = `postgres://postgres@${HOST}:5432`;
const tools = ['pg_dump', 'pg_restore', 'pg_isready'].every(
  (tool) => spawnSync(tool, ['--version']).status === 0,
);
const serverUp = tools && spawnSync('pg_isready', ['-h', HOST, '-p', '5432', '-t', '3']).status === 0;
const describeDrill = serverUp || process.env.CI === 'true' ? describe : describe.skip;

const auth = { Authorization: `Bearer ${TEST_OPERATOR_KEY}`, 'Content-Type': 'application/json' };

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
}

async function withClient<T>(database: string, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: `${SERVER}/${database}` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function startService(database: string): Promise<ServiceProcess> {
  const port = await freePort();
  const s = new ServiceProcess({
    NODE_ENV: 'test',
    PORT: String(port),
    BASE_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: `${SERVER}/${database}`,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'opal-force-sync-drill-')),
    OSA_WEBHOOK_SHARED_SECRET: TEST_WEBHOOK_SECRET,
    OPAL_STRATEGY_WORKFLOW_AUTH_KEY: TEST_OPAL_KEY,
    OPERATOR_API_KEYS: TEST_OPERATOR_KEY,
    RATE_LIMIT_ADMIN_PER_MIN: '0',
    RATE_LIMIT_READ_PER_MIN: '0',
  });
  await s.start();
  return s;
}

/** Starts a bulk replay of every workflow and waits for it; answers its progress. */
async function replayAll(
  base: string,
): Promise<{ status: string; workflows_done: number; changes: unknown[] }> {
  const res = await fetch(`${base}/api/orchestrations/replay`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ selection: {}, replay_options: { force_reprocess: true } }),
  });
  expect(res.status).toBe(202);
  const { status_url: statusUrl } = (await res.json()) as { status_url: string };
  return waitFor(
    async () => {
      const p = (await (await fetch(`${base}${statusUrl}`, { headers: auth })).json()) as {
        status: string;
        workflows_done: number;
        changes: unknown[];
      };
      return p.status !== 'running' ? p : null;
    },
    'the bulk replay finishes',
    { timeoutMs: 60000, intervalMs: 200 },
  );
}

/** Every workflow's status and its agents' statuses. */
function stateOf(c: Client): Promise<unknown[]> {
  return c
    .query(
      `SELECT w.id, w.status, array_agg(a.agent_id || '=' || a.status ORDER BY a.agent_id) AS agents
         FROM workflows w JOIN agent_runs a ON a.workflow_id = w.id GROUP BY w.id, w.status ORDER BY w.id`,
    )
    .then((r) => r.rows);
}

describeDrill('backup and restore drill against the system PostgreSQL (e2e)', () => {
  const source = `opal_force_sync_drill_test_src_${process.pid}`;
  const restored = `opal_force_sync_drill_test_dst_${process.pid}`;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    await withClient('postgres', async (c) => {
      for (const db of [source, restored]) await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      await c.query(`CREATE DATABASE "${source}"`);
      await c.query(`CREATE DATABASE "${restored}"`);
    });
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await withClient('postgres', async (c) => {
      for (const db of [source, restored]) await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    });
  });

  it('pg_dump, restore into a fresh database, the service starts on it, replay brings every workflow to the same state', async () => {
    const live = await startService(source);
    services.push(live);
    await withClient(source, (c) => seedBrokenWorkflows(c, 30));
    expect(await replayAll(live.url)).toMatchObject({ status: 'completed', workflows_done: 30 });
    const truth = await withClient(source, stateOf);
    expect(truth).toHaveLength(30);

    const dump = join(mkdtempSync(join(tmpdir(), 'opal-force-sync-dump-')), 'backup.dump');
    run('pg_dump', ['--format=custom', '--no-owner', `--file=${dump}`, `${SERVER}/${source}`]);
    await live.stop();
    run('pg_restore', ['--no-owner', `--dbname=${SERVER}/${restored}`, dump]);

    // The incident being recovered from: the restored workflows' state is damaged; the events are intact.
    await withClient(restored, async (c) => {
      await c.query(`UPDATE workflows SET status = 'running', completed_at = NULL`);
      await c.query(`UPDATE agent_runs SET status = 'pending', started_at = NULL, completed_at = NULL`);
    });
    const copy = await startService(restored);
    services.push(copy);
    const replay = await replayAll(copy.url);
    await copy.stop();
    expect(replay).toMatchObject({ status: 'completed', workflows_done: 30 });
    expect(replay.changes).toHaveLength(30);
    expect(await withClient(restored, stateOf)).toEqual(truth);
    const counts = await Promise.all(
      [source, restored].map((db) =>
        withClient(
          db,
          async (c) => (await c.query(`SELECT count(*)::int AS n FROM webhook_events`)).rows[0].n as number,
        ),
      ),
    );
    expect(counts[1]).toBe(counts[0]);
  }, 180000);
});
