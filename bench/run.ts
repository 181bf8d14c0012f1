/**
 * `npm run bench`: measures the built service against the ceiling of its own stack on this machine, and writes
 * bench/results/latest.json and latest.md. `BENCH_QUICK=1` runs every scenario briefly (CI keeps the harness
 * working). Everything listens on 127.0.0.1 only, every wait is bounded, and every process started here is
 * stopped on the way out, whatever happened.
 *
 * Env: BENCH_QUICK=1, DATABASE_URL (use that server: a fresh database is created on it and dropped afterwards;
 * default: an embedded PostgreSQL in a temporary folder), BENCH_PROFILE=1 (the service writes a CPU profile
 * into bench/results/profiles when it stops), BENCH_KEEP=1 (keep the temporary folder with every process's
 * log), BENCH_OUTPUT (results folder, default bench/results).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem, type as osType, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { SERVICE_NODE_FLAGS } from '../src/memory-policy';
import { OPAL_AGENTS } from '../src/domain/opal';
import { startDatabase, type BenchDatabase } from './database';
import type { LoadJob, LoadResult } from './load-generator';
import { BenchProcess, CpuMeter, MemorySampler, freePort, killAllNow, stopAll } from './processes';
import { renderMarkdown, type BenchResults, type Goal } from './report';
import { round, summarize } from './stats';
import { WEBHOOK_PATH } from '../src/domain/routes';

const QUICK = process.env.BENCH_QUICK === '1';
const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const OUTPUT = resolve(ROOT, process.env.BENCH_OUTPUT ?? 'bench/results');

const PLAN = QUICK
  ? {
      warmupMs: 1_000,
      ingestMs: 3_000,
      forceSyncRate: 10,
      forceSyncMs: 3_000,
      e2eWorkflows: 200,
      diagRows: 20_000,
      diagSamples: 15,
      watchdogMs: 5 * 60_000,
    }
  : {
      warmupMs: 3_000,
      ingestMs: 20_000,
      forceSyncRate: 10,
      forceSyncMs: 20_000,
      e2eWorkflows: 200,
      diagRows: 1_000_000,
      diagSamples: 60,
      watchdogMs: 20 * 60_000,
    };
const INGEST_CONNECTIONS = 32;
const INGEST_WORKFLOWS = 256;
const DRAIN_TIMEOUT_MS = 120_000;
const E2E_TIMEOUT_MS = 120_000;
const TERMINAL = ['completed', 'partially_completed', 'failed', 'timed_out', 'trigger_failed'];

/** Generated per run: test values that never leave this machine. */
const WEBHOOK_SECRET = `bench-whsec-${randomBytes(16).toString('hex')}`;
const OPAL_KEY = `bench-opal-key-${randomBytes(16).toString('hex')}`;
const OPERATOR_KEY = `bench-operator-${randomBytes(16).toString('hex')}`;

function log(message: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

class Bench {
  private readonly tmp = mkdtempSync(join(tmpdir(), 'opal-force-sync-bench-'));
  private db: BenchDatabase | null = null;
  private pool: Pool | null = null;
  private loadRuns = 0;

  get sql(): Pool {
    if (!this.pool) throw new Error('database not started');
    return this.pool;
  }

  async run(): Promise<BenchResults> {
    const startedAt = new Date();
    const loadBefore = loadavg()[0];
    log(`mode: ${QUICK ? 'quick' : 'full'}; temporary folder ${this.tmp}`);
    this.db = await startDatabase(process.env.DATABASE_URL);
    this.pool = new Pool({ connectionString: this.db.url, max: 4 });
    const version = (await this.sql.query<{ server_version: string }>('SHOW server_version')).rows[0]
      .server_version;
    log(`PostgreSQL ${version} (${this.db.source})`);
    await this.migrate();

    const ingestRefs = await this.seedIngestWorkflows();
    const baseline = await this.ingestBaseline(ingestRefs);

    const simPort = await freePort();
    const servicePort = await freePort();
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    const simulator = new BenchProcess(
      'opal-simulator',
      join(DIST, 'src/modules/opal/simulator/main.js'),
      {
        ...this.serviceEnv(servicePort, simPort),
        OPAL_SIMULATOR_PORT: String(simPort),
        OPAL_SIMULATOR_CALLBACK_URL: `${serviceUrl}${WEBHOOK_PATH}`,
        OPAL_SIMULATOR_AGENT_DELAY_MS: '0',
      },
      join(this.tmp, 'simulator.log'),
    );
    await simulator.waitReady(`http://127.0.0.1:${simPort}/__sim/state`);

    const profileDir = join(OUTPUT, 'profiles');
    const profileArgs =
      process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const nodeArgs = [...SERVICE_NODE_FLAGS, ...profileArgs];
    const service = new BenchProcess(
      'service',
      join(DIST, 'src/main.js'),
      this.serviceEnv(servicePort, simPort),
      join(this.tmp, 'service.log'),
      nodeArgs,
    );
    const memory = new MemorySampler(service.pid);
    memory.start();
    await service.waitReady(`${serviceUrl}/api/health/ready`);
    log(`service ready on ${serviceUrl} (pid ${service.pid}), simulator on port ${simPort}`);
    memory.endPhase('start');

    const ingest = await this.ingestService(serviceUrl, ingestRefs, service.pid);
    memory.endPhase('webhook_ingest');
    const forceSync = await this.forceSync(serviceUrl);
    memory.endPhase('force_sync');
    const e2e = await this.workflowE2e(serviceUrl);
    memory.endPhase('workflow_e2e');
    const diagnostics = await this.diagnostics(serviceUrl);
    memory.endPhase('diagnostics_1m');
    const mem = memory.stop();
    const vmHwm = readHwm(service.pid);
    await service.stop();
    await simulator.stop();
    const peakMb = Math.max(mem.peak_rss_mb, mem.vm_hwm_mb, vmHwm ?? 0);
    log(`service peak RSS ${peakMb} MB`);
    if (profileArgs.length > 0) log(`CPU profile written to ${profileDir}`);

    const ratio = round(ingest.events_per_s / Math.max(1, baseline.events_per_s), 2) ?? 0;
    const goals: Goal[] = [
      goal('webhook_ingest ratio (service / baseline)', ratio, '≥ 0.8', ratio >= 0.8),
      goal('webhook_ingest lost', ingest.lost, '= 0', ingest.lost === 0),
      goal('webhook_ingest p99 (ms)', ingest.p99_ms, '≤ 50', le(ingest.p99_ms, 50)),
      goal('force_sync p99 (ms)', forceSync.p99_ms, '≤ 50', le(forceSync.p99_ms, 50)),
      goal('workflow_e2e p99 (ms)', e2e.completion.p99_ms, '≤ 2000', le(e2e.completion.p99_ms, 2000)),
      ...diagnostics.queries.map((q) =>
        goal(`diagnostics ${q.name} p95 (ms)`, q.p95_ms, '≤ 50', le(q.p95_ms, 50)),
      ),
      goal('peak RSS (MB)', peakMb, '≤ 250', peakMb <= 250),
    ];

    return {
      date: startedAt.toISOString(),
      quick: QUICK,
      duration_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
      machine: {
        cores: cpus().length,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        memory_gb: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
        postgres: version,
        os: `${osType()} ${release()}`,
        database: this.db.source,
        load_avg_1m_before: round(loadBefore, 2),
        load_avg_1m_after: round(loadavg()[0], 2),
      },
      setup: {
        service: `node ${SERVICE_NODE_FLAGS.join(' ')} dist/src/main.js as a child process (the production command), NODE_ENV=test with explicit secrets, OPAL_DEBUG_MODE=false, rate limits 0, DB_POOL_SIZE 10 (default)`,
        opal: 'standalone OpalSimulator process (dist/src/modules/opal/simulator/main.js), agent delay 0, as OPAL_WEBHOOK_URL',
        load: 'bench/load-generator.ts in its own process (node:http keep-alive pool)',
        baseline:
          'bench/baseline-server.ts: node:http + pg, same signature check, idempotency key and INSERT',
      },
      scenarios: {
        webhook_ingest: { connections: INGEST_CONNECTIONS, service: ingest, baseline, ratio },
        force_sync: forceSync,
        workflow_e2e: e2e,
        diagnostics_1m: diagnostics,
        memory: {
          peak_rss_mb: peakMb,
          sampled_peak_rss_mb: mem.peak_rss_mb,
          vm_hwm_mb: vmHwm,
          sampled_peak_by_phase_mb: mem.by_phase_mb,
        },
      },
      goals,
    };
  }

  async cleanup(): Promise<void> {
    await stopAll();
    await this.pool?.end().catch(() => undefined);
    await this.db?.stop().catch((error: unknown) => log(`database stop failed: ${String(error)}`));
    if (process.env.BENCH_KEEP === '1') log(`logs kept in ${this.tmp}`);
    else rmSync(this.tmp, { recursive: true, force: true });
  }

  private serviceEnv(servicePort: number, simPort: number): Record<string, string> {
    return {
      NODE_ENV: 'test',
      PORT: String(servicePort),
      BASE_URL: `http://127.0.0.1:${servicePort}`,
      DATABASE_URL: this.db!.url,
      DATA_DIR: join(this.tmp, 'data'),
      OSA_WEBHOOK_SHARED_SECRET: WEBHOOK_SECRET,
      OPAL_STRATEGY_WORKFLOW_AUTH_KEY: OPAL_KEY,
      OPERATOR_API_KEYS: OPERATOR_KEY,
      OPAL_WEBHOOK_URL: `http://127.0.0.1:${simPort}/webhooks/bench`,
      OPAL_DEBUG_MODE: 'false',
      RATE_LIMIT_WEBHOOK_PER_MIN: '0',
      RATE_LIMIT_SYNC_PER_MIN: '0',
      RATE_LIMIT_ADMIN_PER_MIN: '0',
      RATE_LIMIT_READ_PER_MIN: '0',
    };
  }

  private async migrate(): Promise<void> {
    const migrate = new BenchProcess(
      'migrate',
      join(DIST, 'src/database/migrate.js'),
      { NODE_ENV: 'test', DATABASE_URL: this.db!.url, DATA_DIR: join(this.tmp, 'data') },
      join(this.tmp, 'migrate.log'),
    );
    const code = await migrate.waitExit();
    if (code !== 0) throw new Error(`migrations failed:\n${migrate.tail()}`);
  }

  /** Workflows the ingest events belong to, as OPAL's callbacks always do (no unmatched flood). */
  private async seedIngestWorkflows(): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                              triggered_by, outbound_payload, trigger_attempts, triggered_at, started_at)
       SELECT gen_random_uuid(), 'force-sync-bench-ingest-' || g, 'opal-wf-bench-ingest-' || g, 'force_sync',
              'running', 'priority_platforms', 'bench-ingest-' || g, 'benchmark', '{}'::jsonb, 1, now(), now()
         FROM generate_series(1, $1) g
       RETURNING id`,
      [INGEST_WORKFLOWS],
    );
    const ids = rows.map((r) => r.id);
    await this.sql.query(
      `INSERT INTO agent_runs (workflow_id, agent_id, status)
       SELECT w, a, 'running' FROM unnest($1::uuid[]) w, unnest($2::text[]) a`,
      [ids, [...OPAL_AGENTS]],
    );
    return ids;
  }

  private async load(name: string, job: LoadJob): Promise<LoadResult> {
    this.loadRuns += 1;
    const logFile = join(this.tmp, `load-${this.loadRuns}-${name}.log`);
    const child = new BenchProcess(
      `load generator (${name})`,
      join(DIST, 'bench/load-generator.js'),
      { BENCH_LOAD: JSON.stringify(job) },
      logFile,
    );
    const code = await child.waitExit();
    const line = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('{'));
    if (code !== 0 || !line) throw new Error(`${child.name} failed (exit ${code}):\n${child.tail()}`);
    return JSON.parse(line) as LoadResult;
  }

  private async countStored(tag: string): Promise<number> {
    const { rows } = await this.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM webhook_events WHERE correlation_id = $1`,
      [`bench-${tag}`],
    );
    return rows[0].n;
  }

  /** Warm-up, then the measured closed-loop run; `lost` = 2xx answers whose row is not in the table. */
  private async ingestRun(url: string, refs: string[], tag: string, serverPid: number) {
    const shape = { mode: 'closed' as const, connections: INGEST_CONNECTIONS };
    await this.load(`${tag}-warmup`, {
      kind: 'webhook',
      url,
      secret: WEBHOOK_SECRET,
      workflowRefs: refs,
      tag: `${tag}-warmup`,
      ...shape,
      durationMs: PLAN.warmupMs,
    });
    const cpu = new CpuMeter(serverPid, this.db!.name);
    cpu.start();
    const result = await this.load(tag, {
      kind: 'webhook',
      url,
      secret: WEBHOOK_SECRET,
      workflowRefs: refs,
      tag,
      ...shape,
      durationMs: PLAN.ingestMs,
    });
    const cpuMs = cpu.stop();
    const stored = await this.countStored(tag);
    const latency = summarize(result.latencies_ms);
    const perThousand = (ms: number) => round((1000 * ms) / Math.max(1, result.ok_2xx), 1);
    const figures = {
      duration_s: round(result.elapsed_ms / 1000, 1) ?? 0,
      sent: result.sent,
      accepted_2xx: result.ok_2xx,
      events_per_s: Math.round(result.ok_2xx / (result.elapsed_ms / 1000)),
      p50_ms: latency.p50_ms,
      p99_ms: latency.p99_ms,
      max_ms: latency.max_ms,
      errors: result.errors + (result.sent - result.errors - result.ok_2xx),
      statuses: result.statuses,
      stored,
      lost: result.ok_2xx - stored,
      cpu_ms_per_1k_events: {
        server: perThousand(cpuMs.server_ms),
        postgres: perThousand(cpuMs.postgres_ms),
      },
      error_samples: result.error_samples,
    };
    log(
      `${tag}: ${figures.events_per_s} events/s, p50 ${figures.p50_ms} ms, p99 ${figures.p99_ms} ms, errors ${figures.errors}, lost ${figures.lost}; CPU per 1,000 events: server ${figures.cpu_ms_per_1k_events.server} ms, PostgreSQL ${figures.cpu_ms_per_1k_events.postgres} ms`,
    );
    return figures;
  }

  /** The baseline runs while the service is not running, so neither steals the other's CPU. */
  private async ingestBaseline(refs: string[]) {
    const port = await freePort();
    const server = new BenchProcess(
      'baseline server',
      join(DIST, 'bench/baseline-server.js'),
      { PORT: String(port), DATABASE_URL: this.db!.url, OSA_WEBHOOK_SHARED_SECRET: WEBHOOK_SECRET },
      join(this.tmp, 'baseline.log'),
    );
    try {
      await server.waitReady(`http://127.0.0.1:${port}/health`);
      return await this.ingestRun(`http://127.0.0.1:${port}`, refs, 'baseline', server.pid);
    } finally {
      await server.stop();
      await this.sql.query('TRUNCATE webhook_events');
    }
  }

  private async ingestService(url: string, refs: string[], servicePid: number) {
    const figures = await this.ingestRun(url, refs, 'service', servicePid);
    const drainStarted = performance.now();
    await this.waitQuiet();
    const drainedAfterMs = Math.round(performance.now() - drainStarted);
    log(`service: processing backlog drained ${drainedAfterMs} ms after the load stopped`);
    await this.sql.query(
      `UPDATE workflows SET status = 'completed', completed_at = now() WHERE client_name LIKE 'bench-ingest-%'`,
    );
    await this.sql.query('TRUNCATE webhook_events');
    return { ...figures, backlog_drained_after_ms: drainedAfterMs };
  }

  /** No event waiting to be processed and no workflow still running (bounded). */
  private async waitQuiet(): Promise<void> {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const { rows } = await this.sql.query<{ pending: number; active: number }>(
        `SELECT (SELECT count(*)::int FROM webhook_events WHERE processing_status = 'pending') AS pending,
                (SELECT count(*)::int FROM workflows WHERE status IN ('pending', 'triggered', 'running')
                    AND client_name NOT LIKE 'bench-ingest-%') AS active`,
      );
      if (rows[0].pending === 0 && rows[0].active === 0) return;
      await sleep(50);
    }
    throw new Error(`the service did not finish processing within ${DRAIN_TIMEOUT_MS} ms`);
  }

  /** Constant arrival rate (open loop), latency from when each request was due. */
  private async forceSync(url: string) {
    const job = (tag: string, durationMs: number): LoadJob => ({
      kind: 'force-sync',
      url,
      operatorKey: OPERATOR_KEY,
      tag,
      mode: 'open',
      ratePerSec: PLAN.forceSyncRate,
      durationMs,
      connections: 64,
    });
    await this.load('force-sync-warmup', job('fs-warmup', PLAN.warmupMs));
    await this.waitQuiet();
    const result = await this.load('force-sync', job('fs', PLAN.forceSyncMs));
    const latency = summarize(result.latencies_ms);
    await this.waitQuiet();
    const figures = {
      rate_per_s: PLAN.forceSyncRate,
      duration_s: round(result.elapsed_ms / 1000, 1),
      requests: result.sent,
      ok_2xx: result.ok_2xx,
      statuses: result.statuses,
      errors: result.errors + (result.sent - result.errors - result.ok_2xx),
      p50_ms: latency.p50_ms,
      p99_ms: latency.p99_ms,
      max_ms: latency.max_ms,
      error_samples: result.error_samples,
    };
    log(
      `force_sync: p50 ${figures.p50_ms} ms, p99 ${figures.p99_ms} ms, ${figures.ok_2xx}/${figures.requests} 2xx`,
    );
    return figures;
  }

  /** All workflows started at once; each is done when the DB shows it terminal (polled every 20 ms). */
  private async workflowE2e(url: string) {
    const tag = 'e2e';
    const doneAt = new Map<string, { at: number; status: string }>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const { rows } = await this.sql.query<{ client_name: string; status: string }>(
          `SELECT client_name, status FROM workflows WHERE client_name LIKE $1 AND status = ANY($2::text[])`,
          [`bench-${tag}-%`, TERMINAL],
        );
        const now = Date.now();
        for (const row of rows)
          if (!doneAt.has(row.client_name)) doneAt.set(row.client_name, { at: now, status: row.status });
        if (doneAt.size >= PLAN.e2eWorkflows) return;
        await sleep(20);
      }
    })();
    const started = Date.now();
    let result: LoadResult;
    try {
      result = await this.load('workflow-e2e', {
        kind: 'force-sync',
        url,
        operatorKey: OPERATOR_KEY,
        tag,
        mode: 'burst',
        count: PLAN.e2eWorkflows,
        connections: PLAN.e2eWorkflows,
      });
      while (doneAt.size < PLAN.e2eWorkflows && Date.now() - started < E2E_TIMEOUT_MS) await sleep(50);
    } finally {
      polling = false;
      await poller;
    }
    const completion: number[] = [];
    const statuses: Record<string, number> = {};
    for (const answer of result.answers ?? []) {
      const done = doneAt.get(`bench-${tag}-${answer.index}`);
      if (!done) continue;
      statuses[done.status] = (statuses[done.status] ?? 0) + 1;
      completion.push(done.at - answer.due_epoch_ms);
    }
    const { rows } = await this.sql.query<{ p50: number | null; p99: number | null; events: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY e.processing_time_ms) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY e.processing_time_ms) AS p99,
              count(*)::int AS events
         FROM webhook_events e JOIN workflows w ON w.id = e.sync_id
        WHERE w.client_name LIKE $1`,
      [`bench-${tag}-%`],
    );
    // When each workflow's last callback was stored, from its force sync's due time: delivery, as opposed to
    // processing (the rest of the completion time).
    const lastCallbacks = await this.sql.query<{ client_name: string; last_ms: number }>(
      `SELECT w.client_name, (extract(epoch FROM max(e.received_at)) * 1000)::float8 AS last_ms
         FROM webhook_events e JOIN workflows w ON w.id = e.sync_id
        WHERE w.client_name LIKE $1
        GROUP BY w.client_name`,
      [`bench-${tag}-%`],
    );
    const lastByClient = new Map(lastCallbacks.rows.map((r) => [r.client_name, r.last_ms]));
    const delivered: number[] = [];
    for (const answer of result.answers ?? []) {
      const last = lastByClient.get(`bench-${tag}-${answer.index}`);
      if (last !== undefined) delivered.push(last - answer.due_epoch_ms);
    }
    const answerLatency = summarize(result.latencies_ms);
    const figures = {
      workflows: PLAN.e2eWorkflows,
      completed: statuses.completed ?? 0,
      final_statuses: statuses,
      not_finished: PLAN.e2eWorkflows - completion.length,
      events: rows[0].events,
      completion: summarize(completion),
      processing_lag: { p50_ms: round(rows[0].p50), p99_ms: round(rows[0].p99) },
      last_callback_stored: summarize(delivered),
      force_sync_answer: answerLatency,
    };
    log(
      `workflow_e2e: ${figures.completed}/${figures.workflows} completed, p50 ${figures.completion.p50_ms} ms, p99 ${figures.completion.p99_ms} ms; last callback stored p50 ${figures.last_callback_stored.p50_ms} ms p99 ${figures.last_callback_stored.p99_ms} ms; force sync answered p50 ${answerLatency.p50_ms} ms p99 ${answerLatency.p99_ms} ms; lag p50 ${figures.processing_lag.p50_ms} ms p99 ${figures.processing_lag.p99_ms} ms`,
    );
    await this.waitQuiet();
    return figures;
  }

  /**
   * N events of N/20 finished workflows (started, 9 × agent started/completed with 4 % failures, completed),
   * spread evenly over the 30 days of retention, then the runbook's queries one after another.
   */
  private async diagnostics(url: string) {
    const n = PLAN.diagRows;
    const workflows = Math.ceil(n / 20);
    const insertStarted = performance.now();
    await this.sql.query('TRUNCATE webhook_events');
    await this.sql.query(
      `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                              triggered_by, outbound_payload, trigger_attempts, created_at, triggered_at,
                              started_at, completed_at)
       SELECT md5('bench-diag-' || w)::uuid, 'force-sync-bench-diag-' || w, 'opal-wf-bench-diag-' || w, 'force_sync',
              'completed', 'priority_platforms', 'bench-diag-' || w, 'benchmark', '{}'::jsonb, 1, t, t, t,
              t + interval '5 minutes'
         FROM (SELECT w, now() - interval '30 days' * (1 - (w - 1)::float8 / $1) AS t
                 FROM generate_series(1, $1) w) s`,
      [workflows],
    );
    await this.sql.query(
      `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                                   workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                                   error_message, occurred_at, received_at, processing_status, processed_at,
                                   processing_time_ms, payload)
       SELECT gen_random_uuid(), 'id:bench-diag-' || g, 'bench-diag-' || g, et, et, 'opal-wf-bench-diag-' || w,
              'strategy_workflow', md5('bench-diag-' || w)::uuid, agent,
              CASE WHEN failed THEN 'failure' WHEN et = 'agent_completed' THEN 'success'
                   WHEN et = 'agent_started' THEN 'pending' END,
              CASE WHEN failed THEN 'failed' WHEN et = 'agent_started' THEN 'pending' ELSE 'success' END,
              'force-sync-bench-diag-' || w, CASE WHEN failed THEN agent || ' failed' END, t, t, 'processed',
              t + (5 + g % 40) * interval '1 millisecond', 5 + g % 40,
              jsonb_build_object('event_id', 'bench-diag-' || g, 'event_type', et, 'workflow_id',
                                 'opal-wf-bench-diag-' || w, 'agent_id', agent)
         FROM (SELECT g, w, k, agent,
                      CASE WHEN k = 0 THEN 'workflow_started' WHEN k = 19 THEN 'workflow_completed'
                           WHEN k % 2 = 1 THEN 'agent_started' ELSE 'agent_completed' END AS et,
                      (k BETWEEN 1 AND 18 AND k % 2 = 0 AND hashint4(g) % 25 = 0) AS failed,
                      now() - interval '30 days' * (1 - g::float8 / $1) AS t
                 FROM (SELECT g, (g - 1) / 20 + 1 AS w, (g - 1) % 20 AS k,
                              CASE WHEN (g - 1) % 20 BETWEEN 1 AND 18
                                   THEN ($2::text[])[((g - 1) % 20 - 1) / 2 + 1] END AS agent
                         FROM generate_series(1, $1) g) a) e
        ORDER BY g`,
      [n, [...OPAL_AGENTS]],
    );
    await this.sql.query('ANALYZE webhook_events');
    await this.sql.query('ANALYZE workflows');
    const insertS = round((performance.now() - insertStarted) / 1000, 1);
    log(`diagnostics: ${n} events stored and analysed in ${insertS} s`);

    const wf = (
      await this.sql.query<{ id: string }>(`SELECT md5('bench-diag-' || $1)::uuid AS id`, [
        Math.ceil(workflows / 2),
      ])
    ).rows[0].id;
    const day = 24 * 3600 * 1000;
    const windowStart = new Date(Date.now() - 10 * day).toISOString();
    const windowEnd = new Date(Date.now() - 9 * day).toISOString();
    const queries: { name: string; query: string }[] = [
      { name: 'default', query: '' },
      { name: 'status=failed', query: 'status=failed' },
      { name: 'event_type=agent_completed', query: 'event_type=agent_completed' },
      { name: 'status=failed&event_type=agent_completed', query: 'status=failed&event_type=agent_completed' },
      { name: 'workflow=<sync id>', query: `workflow=${wf}` },
      {
        name: 'date window (1 day)',
        query: `start_date=${encodeURIComponent(windowStart)}&end_date=${encodeURIComponent(windowEnd)}`,
      },
    ];
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const results = [];
    try {
      for (const q of queries) {
        const path = `/api/diagnostics/last-webhook${q.query ? `?${q.query}` : ''}`;
        const times: number[] = [];
        let returned = 0;
        let matched: unknown = null;
        for (let i = 0; i < PLAN.diagSamples + 5; i += 1) {
          const t0 = performance.now();
          const answer = await get(agent, url, path, OPERATOR_KEY);
          const elapsed = performance.now() - t0;
          if (answer.status !== 200)
            throw new Error(`GET ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
          if (i >= 5) times.push(elapsed);
          const body = JSON.parse(answer.text) as {
            summary: { returned_count: number; matched_count: unknown };
          };
          returned = body.summary.returned_count;
          matched = body.summary.matched_count;
        }
        const s = summarize(times);
        results.push({
          name: q.name,
          query: q.query,
          samples: s.count,
          p50_ms: s.p50_ms,
          p95_ms: s.p95_ms,
          returned,
          matched_count: matched,
        });
        log(
          `diagnostics ${q.name}: p50 ${s.p50_ms} ms, p95 ${s.p95_ms} ms (returned ${returned}, matched ${String(matched)})`,
        );
      }
    } finally {
      agent.destroy();
    }
    return { rows: n, insert_s: insertS, samples_per_query: PLAN.diagSamples, queries: results };
  }
}

function get(
  agent: Agent,
  base: string,
  path: string,
  key: string,
): Promise<{ status: number; text: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        headers: { authorization: `Bearer ${key}` },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function readHwm(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

function le(value: number | null, max: number): boolean {
  return value !== null && value <= max;
}

function goal(name: string, value: number | null, target: string, met: boolean): Goal {
  return { name, value, target, met };
}

async function main(): Promise<void> {
  const bench = new Bench();
  let cleaning: Promise<void> | null = null;
  const cleanup = () => (cleaning ??= bench.cleanup());
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const watchdog = setTimeout(() => {
    log(`watchdog: no result after ${PLAN.watchdogMs / 1000} s, stopping`);
    void cleanup().finally(() => process.exit(1));
  }, PLAN.watchdogMs);
  watchdog.unref();

  let exitCode = 0;
  try {
    const results = await bench.run();
    mkdirSync(OUTPUT, { recursive: true });
    const name = QUICK ? 'quick' : 'latest';
    writeFileSync(join(OUTPUT, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(OUTPUT, `${name}.md`), renderMarkdown(results));
    log(`results written to ${join(OUTPUT, `${name}.json`)} and ${name}.md`);
    process.stdout.write(`\n${renderMarkdown(results)}\n`);
  } catch (error) {
    exitCode = 1;
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  process.exit(exitCode);
}

void main();
