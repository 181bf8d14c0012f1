/**
 * The diagnostics dataset, written the way the service writes: events are inserted `pending` in the order they
 * are received (so `sequence` follows arrival), then updated by "processing" a moment later (processing_status,
 * processed_at, processing_time_ms, sync_id), chunk after chunk, leaving the dead row versions and index entries
 * that real processing leaves. Traffic is bursty (busy and quiet days, force-sync bursts within a day), some
 * deliveries arrive late (a sender's retries: minutes; a replayed backlog: hours), so `occurred_at` is out of
 * order against `sequence`, and agent results carry KB-sized payloads. Everything derives from hashes of the row
 * number: the same size gives the same data on every run.
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { OPAL_AGENTS } from '../src/domain/opal';

export const DIAG_DAYS = 30;
/** Rows inserted, then processed, per step (the service processes a few hundred at a time; this is coarser). */
const CHUNK_ROWS = 5_000;

export interface DiagnosticsData {
  rows: number;
  workflows: number;
  min_sequence: number;
  max_sequence: number;
  /** Shape of what was written, to show it is not idealised. */
  shape: {
    received_late_minutes_share: number;
    received_late_hours_share: number;
    out_of_order_share: number;
    busiest_day_events: number;
    quietest_day_events: number;
    /** Size of the payload's JSON text, and as stored (compressed when large). */
    avg_payload_bytes: number;
    avg_payload_stored_bytes: number;
    processing: Record<string, number>;
    failed_events: number;
    dead_row_versions_left: number;
  };
}

/** The seeded workflow of number `w` (1-based), as the dataset names it. */
export function diagWorkflow(w: number): { syncId: string; opalWorkflowId: string; correlationId: string } {
  // PostgreSQL's md5('bench-diag-' || w)::uuid.
  const hex = createHash('md5').update(`bench-diag-${w}`).digest('hex');
  const syncId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { syncId, opalWorkflowId: `opal-wf-bench-diag-${w}`, correlationId: `force-sync-bench-diag-${w}` };
}

export async function buildDiagnosticsData(
  client: PoolClient,
  n: number,
  log: (message: string) => void,
): Promise<DiagnosticsData> {
  const workflows = Math.ceil(n / 20);
  await client.query('TRUNCATE webhook_events');
  await client.query(`DELETE FROM workflows WHERE client_name LIKE 'bench-diag-%'`);

  // Day weights: quiet weekends, a few burst days (a release, a backfill), ordinary days in between.
  await client.query(`
    CREATE TEMP TABLE bench_days ON COMMIT PRESERVE ROWS AS
    SELECT d, weight, sum(weight) OVER (ORDER BY d) - weight AS before, sum(weight) OVER () AS total
      FROM (SELECT d, CASE WHEN d % 7 IN (5, 6) THEN 0.35
                           WHEN abs(hashint4(d * 31 + 7)) % 5 = 0 THEN 3.5
                           ELSE 1 + abs(hashint4(d)) % 100 / 200.0 END AS weight
              FROM generate_series(0, ${DIAG_DAYS - 1}) d) s`);

  // Each workflow's start: its day by the weights, then 65 % of them within one of the day's three 45-minute
  // bursts (force syncs come in bursts), the rest spread over the day.
  await client.query(
    `CREATE TEMP TABLE bench_workflows ON COMMIT PRESERVE ROWS AS
     SELECT w, md5('bench-diag-' || w)::uuid AS id,
            now() - interval '${DIAG_DAYS} days 1 hour' + d.d * interval '1 day'
              + CASE WHEN abs(hashint4(w * 3 + 1)) % 100 < 65
                     THEN ((abs(hashint4(d.d * 11 + abs(hashint4(w)) % 3)) % 22) * interval '1 hour'
                           + (abs(hashint4(w * 5 + 2)) % 2700) * interval '1 second')
                     ELSE (abs(hashint4(w * 7 + 3)) % 86400) * interval '1 second' END AS started,
            3 + abs(hashint4(w * 13 + 4)) % 38 AS step_s,
            CASE WHEN abs(hashint4(w * 17 + 5)) % 100 < 90 THEN 'completed'
                 WHEN abs(hashint4(w * 17 + 5)) % 100 < 96 THEN 'partially_completed'
                 WHEN abs(hashint4(w * 17 + 5)) % 100 < 98 THEN 'failed' ELSE 'timed_out' END AS status
       FROM generate_series(1, $1::int) w
       JOIN bench_days d ON (w - 0.5) / $1::float8 >= d.before / d.total
                        AND (w - 0.5) / $1::float8 < (d.before + d.weight) / d.total`,
    [workflows],
  );
  await client.query(
    `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                            triggered_by, outbound_payload, trigger_attempts, created_at, triggered_at,
                            started_at, completed_at)
     SELECT id, 'force-sync-bench-diag-' || w, 'opal-wf-bench-diag-' || w, 'force_sync', status,
            'priority_platforms', 'bench-diag-' || w, 'benchmark', '{}'::jsonb, 1, started, started, started,
            started + step_s * 20 * interval '1 second'
       FROM bench_workflows`,
  );

  // The events: 20 per workflow (started, nine agents started and completed, completed), 4 % of the agents
  // failing. Received 5–300 ms after they happened, except 4 % minutes late and 1 % hours late; never in the
  // future. 1 % name a workflow nobody knows (left unmatched), 0.5 % fail processing.
  await client.query(
    `CREATE TEMP TABLE bench_events ON COMMIT PRESERVE ROWS AS
     SELECT g, w, k, et, agent, failed, occurred_at, ref, outcome,
            CASE WHEN outcome = 'unmatched' THEN 'force-sync-unknown-' || g
                 ELSE 'force-sync-bench-diag-' || w END AS correlation_id,
            LEAST(now() - interval '1 second', occurred_at + CASE
                WHEN late < 10 THEN (1 + abs(hashint4(g * 19 + 6)) % 24) * interval '1 hour'
                WHEN late < 50 THEN (1 + abs(hashint4(g * 23 + 7)) % 60) * interval '1 minute'
                ELSE (5 + abs(hashint4(g * 29 + 8)) % 295) * interval '1 millisecond' END) AS received_at
       FROM (SELECT g, w, k, agent,
                    CASE WHEN k = 0 THEN 'workflow_started' WHEN k = 19 THEN 'workflow_completed'
                         WHEN k % 2 = 1 THEN 'agent_started' ELSE 'agent_completed' END AS et,
                    (k BETWEEN 1 AND 18 AND k % 2 = 0 AND abs(hashint4(g)) % 25 = 0) AS failed,
                    b.started + k * b.step_s * interval '1 second'
                      + (abs(hashint4(g * 37 + 9)) % 1000) * interval '1 millisecond' AS occurred_at,
                    CASE WHEN abs(hashint4(g * 41 + 10)) % 1000 < 10 THEN 'opal-wf-unknown-' || g
                         ELSE 'opal-wf-bench-diag-' || w END AS ref,
                    CASE WHEN abs(hashint4(g * 41 + 10)) % 1000 < 10 THEN 'unmatched'
                         WHEN abs(hashint4(g * 43 + 11)) % 1000 < 5 THEN 'failed'
                         ELSE 'processed' END AS outcome,
                    abs(hashint4(g * 47 + 12)) % 1000 AS late
               FROM (SELECT g, (g - 1) / 20 + 1 AS w, (g - 1) % 20 AS k,
                            CASE WHEN (g - 1) % 20 BETWEEN 1 AND 18
                                 THEN ($2::text[])[((g - 1) % 20 - 1) / 2 + 1] END AS agent
                       FROM generate_series(1, $1::int) g) a
               JOIN bench_workflows b USING (w)) e`,
    [n, [...OPAL_AGENTS]],
  );
  await client.query(
    `CREATE TEMP TABLE bench_arrivals ON COMMIT PRESERVE ROWS AS
     SELECT g, (row_number() OVER (ORDER BY received_at, g) - 1) / ${CHUNK_ROWS} AS chunk FROM bench_events`,
  );
  await client.query('CREATE INDEX ON bench_arrivals (chunk)');
  await client.query('ANALYZE bench_events');
  await client.query('ANALYZE bench_arrivals');
  const chunks = Math.ceil(n / CHUNK_ROWS);

  for (let chunk = 0; chunk < chunks; chunk += 1) {
    // One transaction per chunk, so that the running service never sees these rows pending and processes them
    // itself; the update still leaves a dead version of every row, as processing does.
    await client.query('BEGIN');
    try {
      // Received: stored pending, in arrival order, as the receiver does.
      await client.query(
        `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                                   workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                                   error_message, occurred_at, received_at, processing_status, payload)
       SELECT md5('bench-diag-event-' || e.g)::uuid, 'id:bench-diag-' || e.g, 'bench-diag-' || e.g, e.et, e.et,
              e.ref, 'strategy_workflow', NULL, e.agent,
              CASE WHEN e.failed THEN 'failure' WHEN e.et = 'agent_completed' THEN 'success'
                   WHEN e.et = 'agent_started' THEN 'pending' END,
              CASE WHEN e.failed THEN 'failed' WHEN e.et = 'agent_started' THEN 'pending' ELSE 'success' END,
              e.correlation_id,
              CASE WHEN e.failed THEN e.agent || ' failed: upstream answered 502 after 3 attempts' END,
              e.occurred_at, e.received_at, 'pending',
              jsonb_build_object(
                'event_id', 'bench-diag-' || e.g, 'event_type', e.et, 'workflow_id', e.ref,
                'workflow_name', 'strategy_workflow', 'agent_id', e.agent,
                'execution_status', CASE WHEN e.failed THEN 'failure' WHEN e.et = 'agent_completed' THEN 'success'
                                         WHEN e.et = 'agent_started' THEN 'pending' END,
                'timestamp', e.occurred_at, 'correlation_id', e.correlation_id,
                'metadata', jsonb_build_object('correlation_id', e.correlation_id,
                                               'environment', 'production'))
              || CASE WHEN e.et = 'agent_completed' AND NOT e.failed THEN jsonb_build_object('agent_data',
                   jsonb_build_object(
                     -- 0.4–3 KB of text that compresses about as well as prose does (half of it repeats).
                     'summary', (SELECT repeat(string_agg(md5((e.g::bigint * 131 + i)::text), ''), 2)
                                   FROM generate_series(1, 7 + abs(hashint4(e.g * 53 + 13)) % 41) i),
                     'items', e.g % 50,
                     'scores', jsonb_build_array(e.g % 97, e.g % 89, e.g % 83, e.g % 79)))
                 WHEN e.failed THEN jsonb_build_object('error', jsonb_build_object('code', 'AGENT_FAILED',
                   'message', e.agent || ' failed: upstream answered 502 after 3 attempts'))
                 ELSE '{}'::jsonb END
         FROM bench_arrivals a JOIN bench_events e USING (g)
        WHERE a.chunk = $1
        ORDER BY e.received_at, e.g`,
        [chunk],
      );
      // Processed a moment later: linked to its workflow (or left unmatched), marked, timed.
      await client.query(
        `UPDATE webhook_events w
          SET processing_status = e.outcome,
              sync_id = CASE WHEN e.outcome = 'unmatched' THEN NULL ELSE md5('bench-diag-' || e.w)::uuid END,
              processed_at = CASE WHEN e.outcome = 'unmatched' THEN NULL
                                  ELSE w.received_at + (5 + e.g % 195) * interval '1 millisecond' END,
              processing_time_ms = CASE WHEN e.outcome = 'unmatched' THEN NULL ELSE 5 + e.g % 195 END,
              processing_error = CASE WHEN e.outcome = 'failed' THEN 'could not apply the event: lock timeout' END
         FROM bench_arrivals a JOIN bench_events e USING (g)
        WHERE a.chunk = $1 AND w.id = md5('bench-diag-event-' || e.g)::uuid`,
        [chunk],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    if (chunk % 20 === 19)
      log(`diagnostics: ${Math.min(n, (chunk + 1) * CHUNK_ROWS)} of ${n} events written`);
  }

  const [shape] = (
    await client.query<{
      minutes: number;
      hours: number;
      out_of_order: number;
      avg_payload: number;
      avg_payload_stored: number;
      min_seq: string;
      max_seq: string;
      failed: number;
    }>(
      `SELECT avg((received_at - occurred_at BETWEEN interval '1 minute' AND interval '61 minutes')::int)::float8 AS minutes,
              avg((received_at - occurred_at > interval '61 minutes')::int)::float8 AS hours,
              avg((occurred_at < max_before)::int)::float8 AS out_of_order,
              avg(octet_length(payload::text))::float8 AS avg_payload,
              avg(pg_column_size(payload))::float8 AS avg_payload_stored,
              min(sequence)::text AS min_seq, max(sequence)::text AS max_seq,
              count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM (SELECT received_at, occurred_at, payload, sequence, status,
                      max(occurred_at) OVER (ORDER BY sequence ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                        AS max_before
                 FROM webhook_events) s`,
    )
  ).rows;
  const days = (
    await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM webhook_events GROUP BY date_trunc('day', received_at)`,
    )
  ).rows.map((r) => r.n);
  const processing = Object.fromEntries(
    (
      await client.query<{ processing_status: string; n: number }>(
        `SELECT processing_status, count(*)::int AS n FROM webhook_events GROUP BY 1 ORDER BY 1`,
      )
    ).rows.map((r) => [r.processing_status, r.n]),
  );
  await client.query('ANALYZE webhook_events');
  await client.query('ANALYZE workflows');
  const dead = (
    await client.query<{ n: number }>(
      `SELECT n_dead_tup::int AS n FROM pg_stat_user_tables WHERE relname = 'webhook_events'`,
    )
  ).rows[0]?.n;
  await client.query('DROP TABLE bench_arrivals, bench_events, bench_workflows, bench_days');
  const share = (v: number) => Math.round(v * 10000) / 10000;
  return {
    rows: n,
    workflows,
    min_sequence: Number(shape.min_seq),
    max_sequence: Number(shape.max_seq),
    shape: {
      received_late_minutes_share: share(shape.minutes),
      received_late_hours_share: share(shape.hours),
      out_of_order_share: share(shape.out_of_order),
      busiest_day_events: Math.max(...days),
      quietest_day_events: Math.min(...days),
      avg_payload_bytes: Math.round(shape.avg_payload),
      avg_payload_stored_bytes: Math.round(shape.avg_payload_stored),
      processing,
      failed_events: shape.failed,
      dead_row_versions_left: dead ?? 0,
    },
  };
}

/** A small seeded generator (mulberry32): the same samples on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DiagnosticsQueryKind {
  name: string;
  /** A new query string for each sample: different workflows, windows, cursors. */
  next: () => string;
}

/** The runbook's queries, each with parameters drawn anew for every sample. */
export function diagnosticsQueryKinds(data: DiagnosticsData, seed = 42): DiagnosticsQueryKind[] {
  const random = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
  const cursor = () =>
    String(data.min_sequence + Math.floor(random() * (data.max_sequence - data.min_sequence)));
  const maybeCursor = () => (random() < 0.5 ? `&before=${cursor()}` : '');
  const day = 24 * 3600 * 1000;
  const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
  const eventTypes = ['workflow_started', 'agent_started', 'agent_completed', 'workflow_completed'];
  return [
    { name: 'latest page', next: () => `limit=${pick([10, 25, 50, 100])}` },
    { name: 'status=failed', next: () => `status=failed${maybeCursor()}` },
    { name: 'event_type=<type>', next: () => `event_type=${pick(eventTypes)}${maybeCursor()}` },
    {
      name: 'status=failed&event_type=agent_completed',
      next: () => `status=failed&event_type=agent_completed${maybeCursor()}`,
    },
    {
      name: 'workflow=<id>',
      next: () => {
        const w = 1 + Math.floor(random() * data.workflows);
        const refs = diagWorkflow(w);
        return `workflow=${pick([refs.syncId, refs.opalWorkflowId, refs.correlationId])}`;
      },
    },
    {
      name: 'agent_id=<agent>&before=<cursor>',
      next: () => `agent_id=${pick(OPAL_AGENTS)}&before=${cursor()}`,
    },
    {
      name: 'date window (1 day)',
      next: () => {
        const start = Date.now() - (1 + random() * (DIAG_DAYS - 2)) * day;
        return `start_date=${iso(start)}&end_date=${iso(start + day)}`;
      },
    },
  ];
}
