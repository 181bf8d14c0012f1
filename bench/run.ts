/**
 * `npm run bench`: measures the built service against the limits of its own stack on this machine and writes a
 * results file stamped with the commit (`bench/results/runs/<time>-<sha>.json`, copied to `latest.json` and
 * rendered to `latest.md`). `BENCH_QUICK=1` runs every scenario briefly and writes `bench/results/quick.*`
 * only (CI keeps the harness working; its figures are not for publication). Everything listens on 127.0.0.1
 * only, every wait is bounded, and every process started here is stopped on the way out, whatever happened.
 *
 * Ingest is measured against two servers that are the service's stack without the service: the per-event
 * baseline (one INSERT and commit per event, the reference of the ratio goal) and the ceiling (the service's own
 * group commit). Each of the three kinds of traffic (known workflows, unknown workflows, 10 % repeats) runs
 * against the three targets in turn, and the whole comparison is repeated (`BENCH_REPEATS`, 3 by default) with
 * the order rotated, so that a change in the machine's speed during the run lands on every target alike.
 *
 * Env: BENCH_QUICK=1, BENCH_REPEATS, DATABASE_URL (use that server: a fresh database is created on it and
 * dropped afterwards; default: an embedded PostgreSQL in a temporary folder), BENCH_PROFILE=1 (the service
 * writes a CPU profile into bench/results/profiles when it stops), BENCH_KEEP=1 (keep the temporary folder with
 * every process's log), BENCH_OUTPUT (results folder, default bench/results), BENCH_SCENARIOS (a comma-separated
 * selection of the scenarios, e.g. `live_push`: the results file lists what ran, and a selection is written to
 * partial.* only, never published as latest).
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { SERVICE_NODE_FLAGS } from '../src/memory-policy';
import { OPAL_AGENTS } from '../src/domain/opal';
import { startDatabase, type BenchDatabase } from './database';
import { buildDiagnosticsData, diagnosticsQueryKinds } from './diagnostics-data';
import { IDLE_STREAMS, LIVE_WORKFLOWS, livePush } from './live-push';
import type { LoadJob, LoadResult } from './load-generator';
import { BenchProcess, CpuMeter, MemorySampler, freePort, killAllNow, stopAll } from './processes';
import { loadAverage, machineState, runName, sourceState } from './provenance';
import {
  INGEST_TARGETS,
  INGEST_VARIANTS,
  RESULTS_SCHEMA,
  renderMarkdown,
  type BenchResults,
  type Goal,
  type IngestRun,
  type IngestTarget,
  type IngestVariant,
  type OpenLoopRun,
} from './report';
import { round, spread, summarize } from './stats';
import { WEBHOOK_PATH } from '../src/domain/routes';

const QUICK = process.env.BENCH_QUICK === '1';
const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'dist');
const OUTPUT = resolve(ROOT, process.env.BENCH_OUTPUT ?? 'bench/results');

const PLAN = QUICK
  ? {
      repeats: 1,
      warmupMs: 500,
      ingestMs: 2_000,
      openLoopMs: 2_000,
      forceSyncRate: 10,
      forceSyncMs: 2_000,
      e2eWorkflows: 100,
      diagRows: 20_000,
      diagSamples: 10,
      liveCeilingMs: 8_000,
      watchdogMs: 5 * 60_000,
    }
  : {
      repeats: 3,
      warmupMs: 2_000,
      ingestMs: 10_000,
      openLoopMs: 15_000,
      forceSyncRate: 10,
      forceSyncMs: 20_000,
      e2eWorkflows: 200,
      diagRows: 1_000_000,
      diagSamples: 60,
      liveCeilingMs: 20_000,
      watchdogMs: 30 * 60_000,
    };
/** Every scenario, in the order they run; BENCH_SCENARIOS=<comma list> runs only those (not a published run). */
const SCENARIOS = [
  'webhook_ingest',
  'open_loop_ingest',
  'force_sync',
  'workflow_e2e',
  'diagnostics',
  'live_push',
] as const;
type ScenarioName = (typeof SCENARIOS)[number];

function selectedScenarios(value: string | undefined): Set<ScenarioName> {
  if (value === undefined || value.trim() === '') return new Set(SCENARIOS);
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `BENCH_SCENARIOS: unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}`,
    );
  }
  const selected = new Set(names as ScenarioName[]);
  if (selected.has('open_loop_ingest') && !selected.has('webhook_ingest')) {
    throw new Error(
      'BENCH_SCENARIOS: open_loop_ingest runs at shares of the ceiling webhook_ingest measures',
    );
  }
  return selected;
}

const SELECTED = selectedScenarios(process.env.BENCH_SCENARIOS);
const COMPLETE = SELECTED.size === SCENARIOS.length;

const REPEATS = /^[1-9]$/.test(process.env.BENCH_REPEATS ?? '')
  ? Number(process.env.BENCH_REPEATS)
  : PLAN.repeats;
const INGEST_CONNECTIONS = 32;
const OPEN_LOOP_CONNECTIONS = 64;
const OPEN_LOOP_SHARES = [0.5, 0.8];
const KNOWN_WORKFLOWS = 256;
const UNKNOWN_WORKFLOWS = 500;
const REPEAT_EVERY = 10;
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

interface Server {
  url: string;
  pid: number;
}

class Bench {
  private readonly tmp = mkdtempSync(join(tmpdir(), 'opal-force-sync-bench-'));
  private db: BenchDatabase | null = null;
  private pool: Pool | null = null;
  private loadRuns = 0;
  private knownRefs: string[] = [];

  get sql(): Pool {
    if (!this.pool) throw new Error('database not started');
    return this.pool;
  }

  async run(): Promise<BenchResults> {
    const startedAt = new Date();
    const source = sourceState(ROOT);
    const loadBefore = loadAverage();
    log(
      `mode: ${QUICK ? 'quick' : 'full'}${COMPLETE ? '' : ` (only ${[...SELECTED].join(', ')})`}, ${REPEATS} repeat(s); commit ${source.commit ?? 'unknown'}${source.dirty ? ' (uncommitted changes)' : ''}; temporary folder ${this.tmp}`,
    );
    this.db = await startDatabase(process.env.DATABASE_URL);
    this.pool = new Pool({ connectionString: this.db.url, max: 4 });
    const version = (await this.sql.query<{ server_version: string }>('SHOW server_version')).rows[0]
      .server_version;
    log(`PostgreSQL ${version} (${this.db.source})`);
    await this.migrate();
    this.knownRefs = await this.seedKnownWorkflows();

    // Every server runs for the whole comparison (an idle one costs nothing measurable); only one gets load.
    const baseline = await this.startBaseline('per-event');
    const ceiling = await this.startBaseline('group-commit');
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
    const service = new BenchProcess(
      'service',
      join(DIST, 'src/main.js'),
      this.serviceEnv(servicePort, simPort),
      join(this.tmp, 'service.log'),
      [...SERVICE_NODE_FLAGS, ...profileArgs],
    );
    const memory = new MemorySampler(service.pid);
    memory.start();
    await service.waitReady(`${serviceUrl}/api/health/ready`);
    log(`service ready on ${serviceUrl} (pid ${service.pid}), simulator on port ${simPort}`);
    memory.endPhase('start');

    const targets: Record<IngestTarget, Server> = {
      baseline,
      service: { url: serviceUrl, pid: service.pid },
      ceiling,
    };
    const ingest = SELECTED.has('webhook_ingest') ? await this.ingestComparison(targets) : null;
    memory.endPhase('webhook_ingest');
    const ceilingRate = ingest?.known.ceiling.events_per_s.median ?? 0;
    const openLoop = SELECTED.has('open_loop_ingest')
      ? await this.openLoop(serviceUrl, service.pid, ceilingRate)
      : [];
    memory.endPhase('open_loop_ingest');
    const forceSync = SELECTED.has('force_sync') ? await this.forceSync(serviceUrl) : null;
    memory.endPhase('force_sync');
    const e2e = SELECTED.has('workflow_e2e') ? await this.workflowE2e(serviceUrl) : null;
    memory.endPhase('workflow_e2e');
    const diagnostics = SELECTED.has('diagnostics') ? await this.diagnostics(serviceUrl) : null;
    memory.endPhase('diagnostics');
    const live = SELECTED.has('live_push')
      ? await livePush({
          url: serviceUrl,
          pid: service.pid,
          operatorKey: OPERATOR_KEY,
          secret: WEBHOOK_SECRET,
          sql: this.sql,
          knownRefs: this.knownRefs,
          load: (name, job) => this.load(name, job),
          ceilingLoadMs: PLAN.liveCeilingMs,
          log,
        })
      : null;
    memory.endPhase('live_push');
    const mem = memory.stop();
    const vmHwm = readHwm(service.pid);
    await service.stop();
    await simulator.stop();
    const peakMb = Math.max(mem.peak_rss_mb, mem.vm_hwm_mb, vmHwm ?? 0);
    log(`service peak RSS ${peakMb} MB`);
    if (profileArgs.length > 0) log(`CPU profile written to ${profileDir}`);

    const goals: Goal[] = [];
    for (const variant of ingest ? INGEST_VARIANTS : []) {
      const v = ingest![variant];
      goals.push(
        goal(
          `webhook_ingest ${variant}: ratio to the per-event baseline (median)`,
          v.ratio_to_baseline.median,
          '≥ 0.8',
          ge(v.ratio_to_baseline.median, 0.8),
        ),
        goal(
          `webhook_ingest ${variant}: ratio to the ceiling (median)`,
          v.ratio_to_ceiling.median,
          '≥ 0.6',
          ge(v.ratio_to_ceiling.median, 0.6),
        ),
        goal(
          `webhook_ingest ${variant}: service p99 (ms, median)`,
          v.service.p99_ms.median,
          '≤ 50',
          le(v.service.p99_ms.median, 50),
        ),
        goal(`webhook_ingest ${variant}: lost (all runs, all targets)`, v.lost, '= 0', v.lost === 0),
        goal(`webhook_ingest ${variant}: errors (all runs, all targets)`, v.errors, '= 0', v.errors === 0),
      );
    }
    if (ingest) {
      goals.push(
        goal(
          'webhook_ingest unknown: every event linked once its workflow exists',
          ingest.unknown.relinked_all ? 1 : 0,
          '= 1',
          ingest.unknown.relinked_all,
        ),
      );
    }
    for (const run of openLoop) {
      goals.push(
        goal(
          `open-loop ingest at ${run.share * 100} % of the ceiling: p99 from due time (ms)`,
          run.p99_ms,
          '≤ 50',
          le(run.p99_ms, 50),
        ),
        goal(
          `open-loop ingest at ${run.share * 100} % of the ceiling: lost + errors`,
          run.lost + run.errors,
          '= 0',
          run.lost + run.errors === 0,
        ),
      );
    }
    const nominal = openLoop[0];
    if (nominal) {
      goals.push(
        goal(
          'processing lag at nominal load (open loop, 50 %): p99 (ms)',
          nominal.processing_lag.p99_ms,
          '≤ 100',
          le(nominal.processing_lag.p99_ms, 100),
        ),
      );
    }
    if (forceSync) {
      goals.push(goal('force_sync p99 (ms)', forceSync.p99_ms, '≤ 50', le(forceSync.p99_ms, 50)));
    }
    if (e2e) {
      goals.push(
        goal('workflow_e2e p99 (ms)', e2e.completion.p99_ms, '≤ 2000', le(e2e.completion.p99_ms, 2000)),
      );
    }
    for (const q of diagnostics?.queries ?? []) {
      goals.push(goal(`diagnostics ${q.name} p95 (ms)`, q.p95_ms, '≤ 50', le(q.p95_ms, 50)));
    }
    if (live) {
      goals.push(
        goal(
          'live_push: callback 202 → frame p99 (ms, nominal)',
          live.nominal.p99_ms,
          '≤ 100',
          le(live.nominal.p99_ms, 100),
        ),
        goal(
          'live_push: frames missed (both rounds)',
          live.nominal.missed + live.at_ceiling.missed,
          '= 0',
          live.nominal.missed + live.at_ceiling.missed === 0,
        ),
        goal(
          `live_push: peak RSS with ${live.idle_streams.opened} idle streams (MB)`,
          live.idle_streams.peak_rss_mb,
          '≤ 250',
          live.idle_streams.peak_rss_mb <= 250,
        ),
      );
    }
    goals.push(goal('peak RSS (MB)', peakMb, '≤ 250', peakMb <= 250));

    return {
      schema: RESULTS_SCHEMA,
      date: startedAt.toISOString(),
      quick: QUICK,
      scenarios_run: [...SELECTED],
      complete: COMPLETE,
      duration_s: Math.round((Date.now() - startedAt.getTime()) / 1000),
      source,
      machine: {
        ...machineState(),
        postgres: version,
        database: this.db.source,
        load_avg_before: loadBefore,
        load_avg_after: loadAverage(),
      },
      setup: {
        service: `node ${SERVICE_NODE_FLAGS.join(' ')} dist/src/main.js as a child process (the production command), NODE_ENV=test with explicit secrets, OPAL_DEBUG_MODE=false, rate limits 0, DB_POOL_SIZE 10 (default)`,
        opal: 'standalone OpalSimulator process (dist/src/modules/opal/simulator/main.js), agent delay 0, as OPAL_WEBHOOK_URL',
        load: 'bench/load-generator.ts in its own process (node:http keep-alive pool)',
        baseline:
          'bench/baseline-server.ts BASELINE_MODE=per-event: node:http + pg, the same signature check, idempotency key and row, one INSERT and commit per event',
        ceiling:
          "bench/baseline-server.ts BASELINE_MODE=group-commit: the same server with the service's group committer (src/common/group-commit.ts), batch limits and batch INSERT",
        ingest: `${REPEATS} rounds; each round runs every traffic kind against the three targets, the order rotated each round; ${PLAN.warmupMs / 1000} s warm-up and ${PLAN.ingestMs / 1000} s measured per run, closed loop, ${INGEST_CONNECTIONS} connections; the table is emptied between runs`,
      },
      scenarios: {
        ...(ingest && {
          webhook_ingest: {
            connections: INGEST_CONNECTIONS,
            repeats: REPEATS,
            measured_s: PLAN.ingestMs / 1000,
            variants: ingest,
          },
        }),
        ...(SELECTED.has('open_loop_ingest') && {
          open_loop_ingest: {
            ceiling_events_per_s: ceilingRate,
            connections: OPEN_LOOP_CONNECTIONS,
            runs: openLoop,
          },
        }),
        ...(forceSync && { force_sync: forceSync }),
        ...(e2e && { workflow_e2e: e2e }),
        ...(diagnostics && { diagnostics }),
        ...(live && { live_push: live }),
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
      // live_push holds 1,000 idle streams while its earlier streams may still be closing.
      SSE_MAX_STREAMS: String(IDLE_STREAMS + 2 * LIVE_WORKFLOWS),
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

  private async startBaseline(mode: 'per-event' | 'group-commit'): Promise<Server> {
    const port = await freePort();
    const server = new BenchProcess(
      `baseline server (${mode})`,
      join(DIST, 'bench/baseline-server.js'),
      {
        PORT: String(port),
        DATABASE_URL: this.db!.url,
        OSA_WEBHOOK_SHARED_SECRET: WEBHOOK_SECRET,
        BASELINE_MODE: mode,
      },
      join(this.tmp, `baseline-${mode}.log`),
    );
    await server.waitReady(`http://127.0.0.1:${port}/health`);
    return { url: `http://127.0.0.1:${port}`, pid: server.pid };
  }

  /** Running workflows the "known" events belong to, as OPAL's callbacks always do. */
  private async seedKnownWorkflows(): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string; opal_workflow_id: string }>(
      `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                              triggered_by, outbound_payload, trigger_attempts, triggered_at, started_at)
       SELECT gen_random_uuid(), 'force-sync-bench-ingest-' || g, 'opal-wf-bench-ingest-' || g, 'force_sync',
              'running', 'priority_platforms', 'bench-ingest-' || g, 'benchmark', '{}'::jsonb, 1, now(), now()
         FROM generate_series(1, $1) g
       RETURNING id, opal_workflow_id`,
      [KNOWN_WORKFLOWS],
    );
    await this.sql.query(
      `INSERT INTO agent_runs (workflow_id, agent_id, status)
       SELECT w, a, 'running' FROM unnest($1::uuid[]) w, unnest($2::text[]) a`,
      [rows.map((r) => r.id), [...OPAL_AGENTS]],
    );
    return rows.map((r) => r.opal_workflow_id);
  }

  /** Between runs: no events, the known workflows as they were seeded, no workflow created by a run. */
  private async resetIngestState(): Promise<void> {
    await this.sql.query('TRUNCATE webhook_events');
    await this.sql.query(`DELETE FROM workflows WHERE client_name LIKE 'bench-unknown-%'`);
    await this.sql.query(
      `UPDATE workflows SET status = 'running', completed_at = NULL WHERE client_name LIKE 'bench-ingest-%'`,
    );
    await this.sql.query(
      `UPDATE agent_runs a SET status = 'running', started_at = NULL, completed_at = NULL, error = NULL
         FROM workflows w WHERE w.id = a.workflow_id AND w.client_name LIKE 'bench-ingest-%'`,
    );
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

  /**
   * Every traffic kind against every target, `REPEATS` rounds, the order of the targets rotated each round
   * (B S C, S C B, C B S): a slower or faster stretch of the machine is shared out instead of always hitting the
   * same target. Ratios are paired within a round.
   */
  private async ingestComparison(targets: Record<IngestTarget, Server>) {
    const runs: Record<IngestVariant, Record<IngestTarget, IngestRun[]>> = {
      known: { baseline: [], service: [], ceiling: [] },
      unknown: { baseline: [], service: [], ceiling: [] },
      duplicates: { baseline: [], service: [], ceiling: [] },
    };
    for (let r = 0; r < REPEATS; r += 1) {
      const order = INGEST_TARGETS.map((_, i) => INGEST_TARGETS[(i + r) % INGEST_TARGETS.length]);
      for (const variant of INGEST_VARIANTS) {
        for (const target of order) {
          await this.resetIngestState();
          runs[variant][target].push(await this.ingestRun(targets[target], target, variant, r));
        }
      }
    }
    await this.resetIngestState();
    const summary = (variant: IngestVariant) => {
      const of = runs[variant];
      const perTarget = (target: IngestTarget) => ({
        events_per_s: spread(
          of[target].map((r) => r.events_per_s),
          0,
        ),
        p50_ms: spread(
          of[target].map((r) => r.p50_ms),
          1,
        ),
        p99_ms: spread(
          of[target].map((r) => r.p99_ms),
          1,
        ),
        cpu_ms_per_1k_requests_server: spread(
          of[target].map((r) => r.cpu_ms_per_1k_requests.server),
          1,
        ),
        cpu_ms_per_1k_requests_postgres: spread(
          of[target].map((r) => r.cpu_ms_per_1k_requests.postgres),
          1,
        ),
        runs: of[target],
      });
      const ratio = (other: IngestTarget) =>
        spread(
          of.service.map((s, i) => {
            const o = of[other][i];
            return o && o.events_per_s > 0 ? s.events_per_s / o.events_per_s : null;
          }),
          2,
        );
      const all = [...of.baseline, ...of.service, ...of.ceiling];
      return {
        baseline: perTarget('baseline'),
        service: perTarget('service'),
        ceiling: perTarget('ceiling'),
        ratio_to_baseline: ratio('baseline'),
        ratio_to_ceiling: ratio('ceiling'),
        lost: all.reduce((sum, r) => sum + r.lost, 0),
        errors: all.reduce((sum, r) => sum + r.errors, 0),
        relinked_all: of.service.every((r) => r.relink === undefined || r.relink.all_linked),
      };
    };
    return { known: summary('known'), unknown: summary('unknown'), duplicates: summary('duplicates') };
  }

  /**
   * Warm-up, then the measured closed-loop run. `lost` = events answered 202 whose row is not in the table;
   * `errors` = any answer other than 202 (and 409 for a repeat), and any cut connection. For the service the run
   * ends when its processing backlog is drained; unknown workflows are then created and their events must all be
   * linked and processed.
   */
  private async ingestRun(
    server: Server,
    target: IngestTarget,
    variant: IngestVariant,
    roundIndex: number,
  ): Promise<IngestRun> {
    const tag = `${variant}-${target}-${roundIndex + 1}`;
    const refs =
      variant === 'unknown'
        ? Array.from({ length: UNKNOWN_WORKFLOWS }, (_, i) => `opal-wf-unknown-${tag}-${i}`)
        : this.knownRefs;
    const job = (jobTag: string, durationMs: number): LoadJob => ({
      kind: 'webhook',
      url: server.url,
      secret: WEBHOOK_SECRET,
      workflowRefs: refs,
      tag: jobTag,
      repeatEvery: variant === 'duplicates' ? REPEAT_EVERY : 0,
      mode: 'closed',
      connections: INGEST_CONNECTIONS,
      durationMs,
    });
    await this.load(`${tag}-warmup`, job(`${tag}-warmup`, PLAN.warmupMs));
    if (target === 'service') await this.waitQuiet();
    const cpu = new CpuMeter(server.pid, this.db!.name);
    cpu.start();
    const result = await this.load(tag, job(tag, PLAN.ingestMs));
    const cpuMs = cpu.stop();
    const stored = await this.countStored(tag);
    const latency = summarize(result.latencies_ms);
    const conflicts = result.statuses['409'] ?? 0;
    const answered = result.ok_2xx + conflicts;
    const perThousand = (ms: number) => round((1000 * ms) / Math.max(1, answered), 1);
    const unexpected = Object.entries(result.statuses)
      .filter(([status]) => !(status === '202' || (status === '409' && variant === 'duplicates')))
      .reduce((sum, [, n]) => sum + n, 0);
    const run: IngestRun = {
      round: roundIndex + 1,
      duration_s: round1(result.elapsed_ms / 1000),
      sent: result.sent,
      repeats_sent: result.repeats,
      accepted_202: result.statuses['202'] ?? 0,
      conflicts_409: conflicts,
      events_per_s: Math.round(result.ok_2xx / (result.elapsed_ms / 1000)),
      requests_per_s: Math.round(answered / (result.elapsed_ms / 1000)),
      p50_ms: latency.p50_ms,
      p99_ms: latency.p99_ms,
      max_ms: latency.max_ms,
      errors: result.errors + unexpected,
      statuses: result.statuses,
      stored,
      lost: Math.max(0, result.ok_2xx - stored),
      cpu_ms_per_1k_requests: {
        server: perThousand(cpuMs.server_ms),
        postgres: perThousand(cpuMs.postgres_ms),
      },
      error_samples: result.error_samples,
    };
    // A repeat answered 202 would be a second row for one event: stored < 202s shows it as lost, and more
    // 409s than repeats sent would mean first deliveries were refused.
    if (variant === 'duplicates' && conflicts > result.repeats) run.errors += conflicts - result.repeats;
    if (target === 'service') {
      const drainStarted = performance.now();
      await this.waitQuiet();
      run.backlog_drained_after_ms = Math.round(performance.now() - drainStarted);
      if (variant === 'unknown') run.relink = await this.relink(refs, tag);
    }
    log(
      `ingest ${tag}: ${run.events_per_s} events/s, p50 ${run.p50_ms} ms, p99 ${run.p99_ms} ms, 409 ${conflicts}, errors ${run.errors}, lost ${run.lost}; CPU per 1,000 requests: server ${run.cpu_ms_per_1k_requests.server} ms, PostgreSQL ${run.cpu_ms_per_1k_requests.postgres} ms${run.relink ? `; relinked ${run.relink.linked}/${run.relink.events} in ${run.relink.after_ms} ms` : ''}`,
    );
    return run;
  }

  /** Creates the workflows the unknown events named; every one of those events must then be processed. */
  private async relink(refs: string[], tag: string) {
    const count = async () =>
      (
        await this.sql.query<{ events: number; linked: number; unmatched: number }>(
          `SELECT count(*)::int AS events,
                  count(*) FILTER (WHERE processing_status = 'processed' AND sync_id IS NOT NULL)::int AS linked,
                  count(*) FILTER (WHERE processing_status = 'unmatched')::int AS unmatched
             FROM webhook_events WHERE workflow_ref = ANY($1::text[])`,
          [refs],
        )
      ).rows[0];
    const before = await count();
    const created = await this.sql.query<{ id: string }>(
      `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                              triggered_by, outbound_payload, trigger_attempts, triggered_at, started_at)
       SELECT gen_random_uuid(), 'force-sync-' || r, r, 'force_sync', 'running', 'priority_platforms',
              'bench-unknown-' || $2 || '-' || o, 'benchmark', '{}'::jsonb, 1, now(), now()
         FROM unnest($1::text[]) WITH ORDINALITY AS u(r, o)
       RETURNING id`,
      [refs, tag],
    );
    await this.sql.query(
      `INSERT INTO agent_runs (workflow_id, agent_id, status)
       SELECT w, a, 'running' FROM unnest($1::uuid[]) w, unnest($2::text[]) a`,
      [created.rows.map((r) => r.id), [...OPAL_AGENTS]],
    );
    const started = performance.now();
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    let now = await count();
    while (now.linked < now.events && Date.now() < deadline) {
      await sleep(100);
      now = await count();
    }
    return {
      events: now.events,
      unmatched_before: before.unmatched,
      linked: now.linked,
      all_linked: now.linked === now.events && before.unmatched > 0,
      after_ms: Math.round(performance.now() - started),
    };
  }

  /** No event waiting to be processed and no workflow still running (bounded). */
  private async waitQuiet(): Promise<void> {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const { rows } = await this.sql.query<{ pending: number; active: number }>(
        `SELECT (SELECT count(*)::int FROM webhook_events WHERE processing_status = 'pending') AS pending,
                (SELECT count(*)::int FROM workflows WHERE status IN ('pending', 'triggered', 'running')
                    AND client_name NOT LIKE 'bench-ingest-%' AND client_name NOT LIKE 'bench-unknown-%') AS active`,
      );
      if (rows[0].pending === 0 && rows[0].active === 0) return;
      await sleep(50);
    }
    throw new Error(`the service did not finish processing within ${DRAIN_TIMEOUT_MS} ms`);
  }

  /**
   * Constant arrival rate at shares of the ceiling's measured throughput (known workflows): latency from when
   * each request was due, so a stall shows in full. Also the processing lag of those events (stored to
   * processed), the "nominal load" figure.
   */
  private async openLoop(url: string, pid: number, ceilingRate: number): Promise<OpenLoopRun[]> {
    const runs: OpenLoopRun[] = [];
    for (const share of OPEN_LOOP_SHARES) {
      await this.resetIngestState();
      const rate = Math.max(10, Math.round(ceilingRate * share));
      const tag = `open-${Math.round(share * 100)}`;
      const cpu = new CpuMeter(pid, this.db!.name);
      cpu.start();
      const result = await this.load(tag, {
        kind: 'webhook',
        url,
        secret: WEBHOOK_SECRET,
        workflowRefs: this.knownRefs,
        tag,
        mode: 'open',
        ratePerSec: rate,
        durationMs: PLAN.openLoopMs,
        connections: OPEN_LOOP_CONNECTIONS,
      });
      const cpuMs = cpu.stop();
      await this.waitQuiet();
      const stored = await this.countStored(tag);
      const lag = (
        await this.sql.query<{ p50: number | null; p99: number | null }>(
          `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY processing_time_ms) AS p50,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY processing_time_ms) AS p99
             FROM webhook_events WHERE correlation_id = $1`,
          [`bench-${tag}`],
        )
      ).rows[0];
      const latency = summarize(result.latencies_ms);
      const unexpected = Object.entries(result.statuses)
        .filter(([status]) => status !== '202')
        .reduce((sum, [, n]) => sum + n, 0);
      const run: OpenLoopRun = {
        share,
        rate_per_s: rate,
        duration_s: round1(result.elapsed_ms / 1000),
        sent: result.sent,
        accepted_202: result.ok_2xx,
        achieved_per_s: Math.round(result.ok_2xx / (PLAN.openLoopMs / 1000)),
        p50_ms: latency.p50_ms,
        p99_ms: latency.p99_ms,
        max_ms: latency.max_ms,
        errors: result.errors + unexpected + (result.unfinished ?? 0),
        stored,
        lost: Math.max(0, result.ok_2xx - stored),
        processing_lag: { p50_ms: round(lag.p50), p99_ms: round(lag.p99) },
        cpu_ms_per_1k_requests: {
          server: round((1000 * cpuMs.server_ms) / Math.max(1, result.ok_2xx), 1),
          postgres: round((1000 * cpuMs.postgres_ms) / Math.max(1, result.ok_2xx), 1),
        },
        error_samples: result.error_samples,
      };
      log(
        `open loop at ${share * 100} % of the ceiling (${rate}/s): p50 ${run.p50_ms} ms, p99 ${run.p99_ms} ms, max ${run.max_ms} ms from due time; ${run.accepted_202}/${run.sent} 202, errors ${run.errors}, lost ${run.lost}; processing lag p99 ${run.processing_lag.p99_ms} ms`,
      );
      runs.push(run);
    }
    await this.resetIngestState();
    return runs;
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

  /** The dataset (see diagnostics-data.ts), then the runbook's queries, each sample with new parameters. */
  private async diagnostics(url: string) {
    const buildStarted = performance.now();
    const client = await this.sql.connect();
    let data;
    try {
      data = await buildDiagnosticsData(client, PLAN.diagRows, log);
    } finally {
      client.release();
    }
    const buildS = round((performance.now() - buildStarted) / 1000, 1);
    log(
      `diagnostics: ${data.rows} events written and processed in ${buildS} s (${JSON.stringify(data.shape)})`,
    );

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const queries = [];
    const warmup = 3;
    try {
      for (const kind of diagnosticsQueryKinds(data)) {
        const times: number[] = [];
        const returned: number[] = [];
        for (let i = 0; i < PLAN.diagSamples + warmup; i += 1) {
          const query = kind.next();
          const path = `/api/diagnostics/last-webhook?${query}`;
          const t0 = performance.now();
          const answer = await get(agent, url, path, OPERATOR_KEY);
          const elapsed = performance.now() - t0;
          if (answer.status !== 200)
            throw new Error(`GET ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
          if (i < warmup) continue;
          times.push(elapsed);
          returned.push(
            (JSON.parse(answer.text) as { summary: { returned_count: number } }).summary.returned_count,
          );
        }
        const s = summarize(times);
        const r = summarize(returned);
        queries.push({
          name: kind.name,
          samples: s.count,
          p50_ms: s.p50_ms,
          p95_ms: s.p95_ms,
          max_ms: s.max_ms,
          returned_p50: r.p50_ms,
          returned_max: r.max_ms,
        });
        log(
          `diagnostics ${kind.name}: p50 ${s.p50_ms} ms, p95 ${s.p95_ms} ms (rows returned p50 ${r.p50_ms})`,
        );
      }
    } finally {
      agent.destroy();
    }
    return { ...data, build_s: buildS, samples_per_query: PLAN.diagSamples, queries };
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

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function le(value: number | null, max: number): boolean {
  return value !== null && value <= max;
}

function ge(value: number | null, min: number): boolean {
  return value !== null && value >= min;
}

function goal(name: string, value: number | null, target: string, met: boolean): Goal {
  return { name, value, target, met };
}

/** Writes the results: quick runs to quick.*, full runs kept under runs/ and copied to latest.*. */
function save(results: BenchResults): string {
  mkdirSync(OUTPUT, { recursive: true });
  const markdown = renderMarkdown(results);
  if (results.quick) {
    writeFileSync(join(OUTPUT, 'quick.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(OUTPUT, 'quick.md'), markdown);
    return join(OUTPUT, 'quick.json');
  }
  // Only a run of every scenario is published (runs/, latest.*); a selection is written to partial.*.
  if (!results.complete) {
    writeFileSync(join(OUTPUT, 'partial.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(OUTPUT, 'partial.md'), markdown);
    return join(OUTPUT, 'partial.json');
  }
  const runs = join(OUTPUT, 'runs');
  mkdirSync(runs, { recursive: true });
  const file = join(
    runs,
    `${runName(new Date(results.date), results.source.commit, results.source.dirty)}.json`,
  );
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  copyFileSync(file, join(OUTPUT, 'latest.json'));
  writeFileSync(join(OUTPUT, 'latest.md'), markdown);
  return file;
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
    const file = save(results);
    log(
      `results written to ${file}${results.quick || !results.complete ? '' : ' and copied to latest.json / latest.md'}`,
    );
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
