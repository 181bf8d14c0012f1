/**
 * The `live_push` scenario: how long a change takes from the callback's 202 to the frame of a live progress
 * stream that shows it, with 20 workflows watched at once (each by its own stream, each advancing one callback
 * at a time), first on an otherwise idle service and then while a closed-loop load holds ingest at its ceiling;
 * then the service's memory with 1,000 idle streams open.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request, type ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import { buildSignatureHeader } from '../src/common/signature';
import { OPAL_AGENTS, STRATEGY_WORKFLOW } from '../src/domain/opal';
import { WEBHOOK_PATH } from '../src/domain/routes';
import type { LoadJob, LoadResult } from './load-generator';
import { MemorySampler } from './processes';
import { round, summarize } from './stats';

export const LIVE_WORKFLOWS = 20;
export const IDLE_STREAMS = 1000;
const FRAME_TIMEOUT_MS = 15_000;

export interface LivePushRound {
  workflows: number;
  callbacks: number;
  /** Callbacks whose frame never came (within 15 s). */
  missed: number;
  /** From the callback's 202 to the frame with the next version (0 when the frame came first). */
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** Stored to processed, for these callbacks. */
  processing_lag: { p50_ms: number | null; p99_ms: number | null };
  /** Ingest at the same time (the ceiling round): 202 answers per second of the background load. */
  background_events_per_s?: number;
}

export interface LivePushResults {
  nominal: LivePushRound;
  at_ceiling: LivePushRound;
  idle_streams: { opened: number; peak_rss_mb: number; rss_before_mb: number };
}

export interface LivePushContext {
  url: string;
  pid: number;
  operatorKey: string;
  secret: string;
  sql: Pool;
  knownRefs: string[];
  /** Runs a load generator job (its own process). */
  load: (name: string, job: LoadJob) => Promise<LoadResult>;
  ceilingLoadMs: number;
  log: (message: string) => void;
}

interface Stream {
  version: number;
  ended: boolean;
  frames: number;
  /** Called with each frame's version and arrival time. */
  onFrame: ((version: number, at: number) => void) | null;
  req: ClientRequest;
}

const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

/** Opens a stream and resolves once its headers are in; frames are parsed as they arrive. */
function openStream(url: string, operatorKey: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent, headers: { Authorization: `Bearer ${operatorKey}`, Accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`stream answered ${res.statusCode}`));
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const at = performance.now();
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (\d+)$/m.exec(block);
            if (!id) continue;
            stream.version = Math.max(stream.version, Number(id[1]));
            stream.frames += 1;
            stream.onFrame?.(Number(id[1]), at);
          }
        });
        res.on('close', () => {
          stream.ended = true;
        });
        resolve(stream);
      },
    );
    const stream: Stream = { version: 0, ended: false, frames: 0, onFrame: null, req };
    req.on('error', (error) => {
      stream.ended = true;
      reject(error);
    });
    req.end();
  });
}

function postCallback(
  url: string,
  secret: string,
  fields: Record<string, unknown>,
): Promise<{ status: number; at: number }> {
  const body = Buffer.from(
    JSON.stringify({
      event_id: `bench-live-${randomUUID()}`,
      workflow_name: STRATEGY_WORKFLOW,
      timestamp: new Date().toISOString(),
      ...fields,
    }),
  );
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${WEBHOOK_PATH}`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          'x-osa-signature': buildSignatureHeader(secret, body),
        },
      },
      (res) => {
        const at = performance.now();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, at }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function seedWorkflows(sql: Pool, tag: string, count: number): Promise<{ id: string; ref: string }[]> {
  const { rows } = await sql.query<{ id: string; opal_workflow_id: string }>(
    `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                            triggered_by, outbound_payload, trigger_attempts, triggered_at)
     SELECT gen_random_uuid(), 'force-sync-bench-' || $1 || '-' || g, 'opal-wf-bench-' || $1 || '-' || g,
            'force_sync', 'triggered', 'priority_platforms', 'bench-' || $1 || '-' || g, 'benchmark', '{}'::jsonb,
            1, now()
       FROM generate_series(1, $2) g
     RETURNING id, opal_workflow_id`,
    [tag, count],
  );
  await sql.query(
    `INSERT INTO agent_runs (workflow_id, agent_id, status)
     SELECT w, a, 'pending' FROM unnest($1::uuid[]) w, unnest($2::text[]) a`,
    [rows.map((r) => r.id), [...OPAL_AGENTS]],
  );
  return rows.map((r) => ({ id: r.id, ref: r.opal_workflow_id }));
}

/** A whole run of OPAL's callbacks for one workflow: started, each agent started and completed, completed. */
function callbacksOf(ref: string, tag: string): Record<string, unknown>[] {
  const base = { workflow_id: ref, correlation_id: `bench-${tag}` };
  return [
    { ...base, event_type: 'workflow_started' },
    ...OPAL_AGENTS.flatMap((agentId) => [
      { ...base, event_type: 'agent_started', agent_id: agentId },
      { ...base, event_type: 'agent_completed', agent_id: agentId },
    ]),
    { ...base, event_type: 'workflow_completed' },
  ];
}

async function round_(ctx: LivePushContext, tag: string): Promise<LivePushRound> {
  const workflows = await seedWorkflows(ctx.sql, tag, LIVE_WORKFLOWS);
  const streams = await Promise.all(
    workflows.map((w) => openStream(`${ctx.url}/api/opal/sync/${w.id}/events`, ctx.operatorKey)),
  );
  const latencies: number[] = [];
  let missed = 0;
  let callbacks = 0;
  await Promise.all(
    workflows.map(async (w, i) => {
      const stream = streams[i];
      for (const fields of callbacksOf(w.ref, tag)) {
        const before = stream.version;
        let frameAt: number | null = null;
        const framed = new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, FRAME_TIMEOUT_MS);
          stream.onFrame = (version, at) => {
            if (version > before && frameAt === null) {
              frameAt = at;
              clearTimeout(timer);
              resolve();
            }
          };
        });
        const answer = await postCallback(ctx.url, ctx.secret, fields);
        callbacks += 1;
        if (answer.status !== 202) throw new Error(`a callback answered ${answer.status}`);
        await framed;
        stream.onFrame = null;
        if (frameAt === null) missed += 1;
        else latencies.push(Math.max(0, (frameAt as number) - answer.at));
      }
    }),
  );
  for (const stream of streams) stream.req.destroy();
  const lag = (
    await ctx.sql.query<{ p50: number | null; p99: number | null }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY processing_time_ms) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY processing_time_ms) AS p99
         FROM webhook_events WHERE correlation_id = $1`,
      [`bench-${tag}`],
    )
  ).rows[0];
  const s = summarize(latencies);
  return {
    workflows: LIVE_WORKFLOWS,
    callbacks,
    missed,
    p50_ms: s.p50_ms,
    p99_ms: s.p99_ms,
    max_ms: s.max_ms,
    processing_lag: { p50_ms: round(lag.p50), p99_ms: round(lag.p99) },
  };
}

export async function livePush(ctx: LivePushContext): Promise<LivePushResults> {
  const run = Date.now().toString(36);
  const nominal = await round_(ctx, `live-nominal-${run}`);
  ctx.log(
    `live_push nominal: ${nominal.callbacks} callbacks on ${nominal.workflows} streams, 202 → frame p50 ${nominal.p50_ms} ms, p99 ${nominal.p99_ms} ms, max ${nominal.max_ms} ms, missed ${nominal.missed}; processing lag p99 ${nominal.processing_lag.p99_ms} ms`,
  );

  const loadTag = `live-load-${run}`;
  const background = ctx.load(loadTag, {
    kind: 'webhook',
    url: ctx.url,
    secret: ctx.secret,
    workflowRefs: ctx.knownRefs,
    tag: loadTag,
    mode: 'closed',
    connections: 32,
    durationMs: ctx.ceilingLoadMs,
  });
  await new Promise((resolve) => setTimeout(resolve, Math.min(1000, ctx.ceilingLoadMs / 4)));
  const atCeiling = await round_(ctx, `live-ceiling-${run}`);
  const load = await background;
  atCeiling.background_events_per_s = Math.round(load.ok_2xx / (load.elapsed_ms / 1000));
  ctx.log(
    `live_push at the ingest ceiling (${atCeiling.background_events_per_s} events/s alongside): 202 → frame p50 ${atCeiling.p50_ms} ms, p99 ${atCeiling.p99_ms} ms, max ${atCeiling.max_ms} ms, missed ${atCeiling.missed}`,
  );

  const [idle] = await seedWorkflows(ctx.sql, `live-idle-${run}`, 1);
  const memory = new MemorySampler(ctx.pid);
  memory.start(100);
  memory.endPhase('before');
  const streams: Stream[] = [];
  for (let i = 0; i < IDLE_STREAMS; i += 50) {
    streams.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, IDLE_STREAMS - i) }, (_, k) =>
          openStream(
            (i + k) % 2 === 0
              ? `${ctx.url}/api/opal/sync/${idle.id}/events`
              : `${ctx.url}/api/opal/syncs/events`,
            ctx.operatorKey,
          ),
        ),
      )),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 3000));
  memory.endPhase('idle_streams');
  const mem = memory.stop();
  for (const stream of streams) stream.req.destroy();
  const idleStreams = {
    opened: streams.length,
    peak_rss_mb: mem.by_phase_mb.idle_streams,
    rss_before_mb: mem.by_phase_mb.before,
  };
  ctx.log(
    `live_push idle streams: ${idleStreams.opened} open, service RSS ${idleStreams.rss_before_mb} MB before, peak ${idleStreams.peak_rss_mb} MB`,
  );
  return { nominal, at_ceiling: atCeiling, idle_streams: idleStreams };
}
