/**
 * The load generator, run as its own process so that its CPU use is visible and separate from the server under
 * test. Reads its job from BENCH_LOAD (JSON), prints one JSON result line on stdout and exits.
 *
 * - `closed`: N connections each send their next request as soon as the previous one is answered (throughput).
 * - `open`: requests are due at a constant rate and latency is measured from when each was due, so a slow server
 *   cannot hide its stalls by slowing the client down (coordinated omission). Requests wait for a free
 *   connection of the pool when all are busy; that wait counts in their latency.
 * - `burst`: N requests due at the same instant; every answer is reported with its wall-clock due time.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { HmacService } from '../src/common/hmac.service';
import { OPAL_AGENTS, STRATEGY_WORKFLOW } from '../src/domain/opal';
import { WEBHOOK_PATH } from '../src/domain/routes';

export type LoadJob =
  | ({
      kind: 'webhook';
      url: string;
      secret: string;
      workflowRefs: string[];
      tag: string;
      /** Every n-th request repeats an event sent earlier in this run (same body, fresh signature); 0 = none. */
      repeatEvery?: number;
    } & LoadShape)
  | ({ kind: 'force-sync'; url: string; operatorKey: string; tag: string } & LoadShape);

export type LoadShape =
  | { mode: 'closed'; connections: number; durationMs: number }
  | { mode: 'open'; ratePerSec: number; durationMs: number; connections: number }
  | { mode: 'burst'; count: number; connections: number };

export interface BurstAnswer {
  /** The request's number: the force sync's client name is `bench-<tag>-<index>`. */
  index: number;
  due_epoch_ms: number;
  latency_ms: number;
  status: number;
  body: unknown;
}

export interface LoadResult {
  sent: number;
  /** Requests that repeated an earlier event (webhook jobs with `repeatEvery`). */
  repeats: number;
  statuses: Record<string, number>;
  ok_2xx: number;
  errors: number;
  error_samples: string[];
  elapsed_ms: number;
  latencies_ms: number[];
  answers?: BurstAnswer[];
  /** Open loop: requests still unanswered when the generator stopped waiting (counted as errors by the caller). */
  unfinished?: number;
}

const REQUEST_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 60_000;

interface Prepared {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

interface Outcome {
  status: number;
  text: string;
}

/** Bodies sent so far, for repeats: a sender retrying an event it already delivered. */
const REPEAT_POOL = 2048;
const sentBodies: Buffer[] = [];

/** One signer per secret: the service's own HmacService, as OPAL's side of the shared secret. */
const signers = new Map<string, HmacService>();
function signerFor(secret: string): HmacService {
  let signer = signers.get(secret);
  if (!signer) {
    signer = new HmacService({ secrets: [secret], toleranceSeconds: 300 });
    signers.set(secret, signer);
  }
  return signer;
}

function prepare(job: LoadJob, n: number): Prepared & { repeat: boolean } {
  if (job.kind === 'webhook') {
    const repeat = !!job.repeatEvery && n % job.repeatEvery === job.repeatEvery - 1 && sentBodies.length > 0;
    const body = repeat ? sentBodies[(n * 7919) % sentBodies.length] : webhookBody(job, n);
    if (!repeat) {
      if (sentBodies.length < REPEAT_POOL) sentBodies.push(body);
      else sentBodies[n % REPEAT_POOL] = body;
    }
    return {
      repeat,
      path: WEBHOOK_PATH,
      body,
      headers: {
        'content-type': 'application/json',
        'x-osa-signature': signerFor(job.secret).sign(body),
      },
    };
  }
  const body = Buffer.from(
    JSON.stringify({
      sync_scope: 'priority_platforms',
      client_context: { client_name: `bench-${job.tag}-${n}`, industry: 'Technology' },
      triggered_by: 'benchmark',
    }),
  );
  return {
    repeat: false,
    path: '/api/opal/sync',
    body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${job.operatorKey}` },
  };
}

function webhookBody(job: Extract<LoadJob, { kind: 'webhook' }>, n: number): Buffer {
  const ref = job.workflowRefs[n % job.workflowRefs.length];
  const agent = OPAL_AGENTS[n % OPAL_AGENTS.length];
  return Buffer.from(
    JSON.stringify({
      event_id: `bench-${job.tag}-${n}-${randomUUID()}`,
      workflow_id: ref,
      workflow_name: STRATEGY_WORKFLOW,
      event_type: 'agent_completed',
      agent_id: agent,
      execution_status: 'success',
      agent_data: { summary: `${agent} finished its analysis`, items: n % 50 },
      timestamp: new Date().toISOString(),
      correlation_id: `bench-${job.tag}`,
    }),
  );
}

function send(agent: Agent, base: URL, prepared: Prepared): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: 'POST',
        path: prepared.path,
        headers: { ...prepared.headers, 'content-length': String(prepared.body.length) },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(prepared.body);
  });
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const base = new URL(job.url);
  const agent = new Agent({ keepAlive: true, maxSockets: job.connections });
  const result: LoadResult = {
    sent: 0,
    repeats: 0,
    statuses: {},
    ok_2xx: 0,
    errors: 0,
    error_samples: [],
    elapsed_ms: 0,
    latencies_ms: [],
  };
  let counter = 0;
  const keepAnswers = job.mode === 'burst';
  if (keepAnswers) result.answers = [];

  const fire = async (dueAt: number): Promise<void> => {
    const index = counter++;
    const prepared = prepare(job, index);
    const dueEpoch = Date.now() - (performance.now() - dueAt);
    result.sent += 1;
    if (prepared.repeat) result.repeats += 1;
    try {
      const outcome = await send(agent, base, prepared);
      const latency = performance.now() - dueAt;
      result.latencies_ms.push(latency);
      result.statuses[outcome.status] = (result.statuses[outcome.status] ?? 0) + 1;
      if (outcome.status >= 200 && outcome.status < 300) result.ok_2xx += 1;
      else if (!prepared.repeat && result.error_samples.length < 5)
        result.error_samples.push(outcome.text.slice(0, 300));
      if (keepAnswers) {
        let body: unknown = null;
        try {
          body = JSON.parse(outcome.text);
        } catch {
          body = outcome.text.slice(0, 300);
        }
        result.answers!.push({
          index,
          due_epoch_ms: dueEpoch,
          latency_ms: latency,
          status: outcome.status,
          body,
        });
      }
    } catch (error) {
      result.errors += 1;
      if (result.error_samples.length < 5) result.error_samples.push(String(error).slice(0, 300));
    }
  };

  const started = performance.now();
  if (job.mode === 'closed') {
    const deadline = started + job.durationMs;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) await fire(performance.now());
    };
    await Promise.all(Array.from({ length: job.connections }, worker));
  } else if (job.mode === 'open') {
    // Every request has its due time on a fixed schedule; each turn sends all that are due (a timer cannot fire
    // more often than every millisecond), and latency counts from the due time, not from the send.
    const interval = 1000 / job.ratePerSec;
    const total = Math.floor((job.durationMs / 1000) * job.ratePerSec);
    const inFlight = new Set<Promise<void>>();
    let i = 0;
    while (i < total) {
      const now = performance.now();
      while (i < total && started + i * interval <= now) {
        const p: Promise<void> = fire(started + i * interval).finally(() => inFlight.delete(p));
        inFlight.add(p);
        i += 1;
      }
      if (i < total) await sleep(Math.max(0, started + i * interval - performance.now()));
    }
    await Promise.race([Promise.all(inFlight), sleep(DRAIN_TIMEOUT_MS)]);
    result.unfinished = inFlight.size;
  } else {
    const due = performance.now();
    await Promise.all(Array.from({ length: job.count }, () => fire(due)));
  }
  result.elapsed_ms = performance.now() - started;
  agent.destroy();
  return result;
}

if (require.main === module) {
  const job = JSON.parse(process.env.BENCH_LOAD ?? 'null') as LoadJob | null;
  if (job === null) {
    process.stderr.write('BENCH_LOAD is not set\n');
    process.exit(2);
  }
  runLoad(job).then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    },
    (error: unknown) => {
      process.stderr.write(`load generator failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
