import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { Env } from '../src/config/settings';
import { freePort, TEST_OPERATOR_KEY, TEST_OPAL_KEY, TEST_WEBHOOK_SECRET } from './support/app';
import { testDatabaseUrl } from './support/database';
import { seedBrokenWorkflows } from './support/recovery-seed';
import { ServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';

const REPLAY = '/api/orchestrations/replay';
const MB = 1024 * 1024;
const auth = { Authorization: `Bearer ${TEST_OPERATOR_KEY}`, 'Content-Type': 'application/json' };

interface Progress {
  status: string;
  workflows_total: number;
  workflows_done: number;
  workflows_failed: number;
  changes: unknown[];
}

/** The built service as a child process on `databaseUrl`, with the given settings. */
async function service(databaseUrl: string, extra: Env = {}): Promise<ServiceProcess> {
  const port = await freePort();
  return new ServiceProcess({
    NODE_ENV: 'test',
    PORT: String(port),
    BASE_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'opal-force-sync-recovery-')),
    OSA_WEBHOOK_SHARED_SECRET: TEST_WEBHOOK_SECRET,
    OPAL_STRATEGY_WORKFLOW_AUTH_KEY: TEST_OPAL_KEY,
    OPERATOR_API_KEYS: TEST_OPERATOR_KEY,
    RATE_LIMIT_ADMIN_PER_MIN: '0',
    RATE_LIMIT_READ_PER_MIN: '0',
    ...extra,
  });
}

async function startBulkReplay(base: string, selection: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${base}${REPLAY}`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ selection }),
  });
  expect(res.status).toBe(202);
  const body = (await res.json()) as { status_url: string };
  return body.status_url;
}

async function progressOf(base: string, statusUrl: string): Promise<Progress> {
  const res = await fetch(`${base}${statusUrl}`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as Progress;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

async function truncateAll(db: Client): Promise<void> {
  await db.query(
    `TRUNCATE workflows, agent_runs, trigger_attempts, webhook_events, rejected_deliveries, idempotency_keys,
              audit_log, auth_failures, job_leases, replay_jobs, replay_job_workflows RESTART IDENTITY CASCADE`,
  );
}

/** Each workflow of the job: replayed how many times, and its status now. */
async function replayCounts(db: Client): Promise<{ replays: number; status: string; version: number }[]> {
  const { rows } = await db.query(
    `SELECT j.replays, w.status, w.version FROM replay_job_workflows j JOIN workflows w ON w.id = j.workflow_id`,
  );
  return rows as { replays: number; status: string; version: number }[];
}

function vm(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

describe('recovery durability: bulk replay across crashes and instances, export memory (e2e)', () => {
  let databaseUrl: string;
  let db: Client;
  const running: ServiceProcess[] = [];
  const track = (s: ServiceProcess) => (running.push(s), s);

  beforeAll(async () => {
    databaseUrl = await testDatabaseUrl('_recovery');
    // The first start applies the migrations.
    const first = track(await service(databaseUrl));
    await first.start();
    await first.stop();
    db = await connect(databaseUrl);
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop('SIGKILL')));
    await db?.end();
  });
  beforeEach(async () => {
    await truncateAll(db);
  });

  it('a bulk replay over 200 workflows interrupted by SIGKILL finishes after a restart, every workflow replayed once', async () => {
    const ids = await seedBrokenWorkflows(db, 200);
    // A pause between workflows makes the replay last long enough to be killed in the middle.
    const settings = { BULK_REPLAY_PAUSE_MS: '30' };
    const first = track(await service(databaseUrl, settings));
    await first.start();
    const statusUrl = await startBulkReplay(first.url, { status: ['running'] });
    await waitFor(
      async () => (await progressOf(first.url, statusUrl)).workflows_done >= 20,
      '20 workflows done',
      {
        timeoutMs: 60000,
      },
    );
    expect(await first.stop('SIGKILL')).toBe(137);
    const { rows } = await db.query(`SELECT workflows_done, status FROM replay_jobs`);
    const doneAtKill = rows[0].workflows_done as number;
    expect(rows[0].status).toBe('running');
    expect(doneAtKill).toBeLessThan(200);

    const second = track(await service(databaseUrl, settings));
    await second.start();
    // The killed holder's lease expires (10 s), then the restarted instance takes the job over.
    const done = await waitFor(
      async () => {
        const p = await progressOf(second.url, statusUrl);
        return p.status !== 'running' ? p : null;
      },
      'the bulk replay finishes after the restart',
      { timeoutMs: 120000, intervalMs: 250 },
    );
    await second.stop();
    expect(done).toMatchObject({
      status: 'completed',
      workflows_total: 200,
      workflows_done: 200,
      workflows_failed: 0,
    });
    expect(done.changes).toHaveLength(200);
    const counts = await replayCounts(db);
    expect(counts).toHaveLength(ids.length);
    expect(counts.filter((c) => c.replays !== 1 || c.status !== 'completed' || c.version !== 2)).toEqual([]);
    process.stdout.write(
      `bulk replay: ${doneAtKill}/200 workflows done when killed, 200/200 after the restart\n`,
    );
  }, 240000);

  it('two instances never run the same bulk replay twice', async () => {
    await seedBrokenWorkflows(db, 100);
    const settings = { BULK_REPLAY_PAUSE_MS: '20' };
    const a = track(await service(databaseUrl, settings));
    const b = track(await service(databaseUrl, settings));
    await Promise.all([a.start(), b.start()]);
    const statusUrl = await startBulkReplay(a.url, {});
    const done = await waitFor(
      async () => {
        const p = await progressOf(b.url, statusUrl);
        return p.status !== 'running' ? p : null;
      },
      'the bulk replay finishes',
      { timeoutMs: 120000, intervalMs: 250 },
    );
    await Promise.all([a.stop(), b.stop()]);
    expect(done).toMatchObject({ status: 'completed', workflows_total: 100, workflows_done: 100 });
    const counts = await replayCounts(db);
    expect(counts).toHaveLength(100);
    expect(counts.filter((c) => c.replays !== 1 || c.version !== 2)).toEqual([]);
    const finished = [...a.output, ...b.output].filter((line) => line.includes('Bulk replay finished'));
    expect(finished).toHaveLength(1);
  }, 240000);

  it('exports 200,000 events with the service growing by less than 50 MB', async () => {
    await db.query(
      `INSERT INTO webhook_events (id, idempotency_key, event_type, raw_event_type, workflow_ref, workflow_name,
                                   agent_id, execution_status, status, correlation_id, occurred_at, received_at,
                                   processing_status, payload)
       SELECT gen_random_uuid(), 'export-' || g, 'agent_completed', 'agent_completed', 'opal-wf-export-' || (g / 20),
              'strategy_workflow', 'content_review', 'success', 'success', 'force-sync-export-' || (g / 20),
              now() - interval '1 hour' + g * interval '1 millisecond', now() - interval '1 hour' + g * interval '1 millisecond',
              'unmatched', jsonb_build_object('n', g)
         FROM generate_series(1, 200000) g`,
    );
    const s = track(await service(databaseUrl));
    await s.start();
    const pid = s.pid!;
    // A first, smaller export (the oldest 20,000 events) brings the heap to its working size (V8's young
    // generation and old-space limit grow once under allocation); the 200,000-event export is then measured
    // from there. Both figures are reported: memory that grew with the size would show in the second one.
    const cold = vm(pid, 'VmRSS');
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const cutoff = (
      await db.query(`SELECT received_at FROM webhook_events ORDER BY sequence OFFSET 19999 LIMIT 1`)
    ).rows[0].received_at as Date;
    const warm = await fetch(
      `${s.url}/api/diagnostics/events/export?end_date=${encodeURIComponent(cutoff.toISOString())}`,
      { headers: auth },
    );
    expect(warm.status).toBe(200);
    // received_at has microseconds, the cutoff milliseconds: the last of the 20,000 may fall just outside.
    expect((await warm.text()).trim().split('\n').length).toBeGreaterThanOrEqual(19999);
    const warmPeak = vm(pid, 'VmHWM');
    const before = vm(pid, 'VmRSS');
    // Resets the peak (VmHWM) to the current RSS (Linux: "5" clears the peak RSS), so the peak is the export's.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');

    const res = await fetch(`${s.url}/api/diagnostics/events/export?format=ndjson`, { headers: auth });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let lines = 0;
    let first = '';
    let lastSequence = 0;
    let ordered = true;
    let carry = '';
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = carry + decoder.decode(value, { stream: true });
      const parts = text.split('\n');
      carry = parts.pop()!;
      for (const line of parts) {
        lines++;
        if (!first) first = line;
        const sequence = Number(/"sequence":(\d+)/.exec(line)?.[1]);
        if (!(sequence > lastSequence)) ordered = false;
        lastSequence = sequence;
      }
    }
    const peak = vm(pid, 'VmHWM');
    await s.stop();
    const growth = peak - before;
    process.stdout.write(
      `export of 20,000 events from a fresh start: RSS ${(cold / MB).toFixed(1)} MB, peak ${(warmPeak / MB).toFixed(1)} MB; ` +
        `export of 200,000 events: RSS before ${(before / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, ` +
        `growth ${(growth / MB).toFixed(1)} MB\n`,
    );
    expect(carry).toBe('');
    expect(lines).toBe(200000);
    expect(ordered).toBe(true);
    expect(JSON.parse(first)).toMatchObject({
      event_type: 'agent_completed',
      processing_status: 'unmatched',
    });
    expect(growth).toBeLessThan(50 * MB);
  }, 240000);
});
