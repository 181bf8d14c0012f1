import { storableTimeIso, storableTimeMs } from '../../common/validation';
import { STRATEGY_WORKFLOW } from '../../domain/opal';
import type { WorkflowRef } from '../workflows/workflows.service';
import { parseEventCursor } from './dto/event-cursor';

/**
 * The diagnostics list of stored events (`GET /api/diagnostics/last-webhook`) as SQL: pure builders, so that
 * the query-plan test explains exactly the statements the service runs.
 */

/** The filters of the list (the names of the diagnostics query, already validated). */
export interface EventFilter {
  status?: 'success' | 'failed' | 'pending' | 'all';
  event_type?: string;
  agent_id?: string;
  correlation_id?: string;
  /** A workflow name (`strategy_workflow`: every event) or a reference to one workflow. */
  workflow?: string;
  workflow_id?: string;
  start_date?: string;
  end_date?: string;
  hours?: number;
  /** Cursor: the sequence of the last event of the previous page. */
  before?: string;
  include_payload?: boolean;
}

/**
 * `matched_count` counts at most this many rows: past it the count would cost more than the page itself on a
 * large table, and "more than 10,000" is all an operator needs to know.
 */
export const MATCHED_COUNT_CAP = 10_000;

/**
 * A date window with at most this many events is first reduced to the range of sequences its events span
 * (see {@link buildWindowSpanQuery}); a wider one is queried as it is.
 */
export const WINDOW_SPAN_MAX_EVENTS = 50_000;

/**
 * With `include_payload=true` a page holds at most this many events and this many bytes of payloads (their JSON
 * text as PostgreSQL prints it, sized in SQL before any payload is loaded); a page that would hold more ends
 * early, with `next_before` set. Payloads may be 1 MiB each: without a bound, one request could make the service
 * build an answer of hundreds of megabytes.
 */
export const PAYLOAD_PAGE_MAX_EVENTS = 100;
export const PAYLOAD_PAGE_MAX_BYTES = 8 * 1024 * 1024;

/**
 * How many of the page's first events fit in {@link PAYLOAD_PAGE_MAX_BYTES} of payloads; at least one, so that
 * paging always moves on (a payload is at most about 1 MiB: the receiver's body limit).
 */
export function rowsWithinPayloadBudget(rows: readonly { payload_bytes?: number }[]): number {
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    total += rows[i].payload_bytes ?? 0;
    if (total > PAYLOAD_PAGE_MAX_BYTES) return Math.max(1, i);
  }
  return rows.length;
}

/** Builds `$n` placeholders while collecting their values. */
class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export interface SqlStatement {
  text: string;
  values: unknown[];
}

/** The lowest and highest sequence of the events received in a date window (bigint as text). */
export interface SequenceSpan {
  lo: string;
  hi: string;
}

function windowClauses(query: EventFilter, params: SqlParams): string[] {
  const window: string[] = [];
  // The validated times, as canonical UTC strings: PostgreSQL never parses a caller's own spelling.
  if (query.start_date) {
    window.push(`received_at >= ${params.add(storableTimeIso(query.start_date))}::timestamptz`);
  }
  if (query.end_date)
    window.push(`received_at <= ${params.add(storableTimeIso(query.end_date))}::timestamptz`);
  if (query.hours) window.push(`received_at > now() - ${params.add(query.hours)}::int * interval '1 hour'`);
  return window;
}

/**
 * For a date window that ends in the past: whether it holds any event, and the lowest and highest sequence of
 * its events when it holds at most {@link WINDOW_SPAN_MAX_EVENTS}. The planner cannot know that received_at and
 * sequence grow together: for a window days back it would walk the sequence index from the newest event back
 * to the window, reading every event in between. Given the span, the page and the count walk only that slice
 * of a (column, sequence) index, and the planner sees the real bounds. The span only restates the date filter
 * (it is taken from the window's own events), so the rows, their order and the `before` cursor stay the same,
 * even for events stored out of receive order. (Like the page and the count, which run side by side, it is its
 * own read: an event committed in between with a sequence above the span is listed from the next call on.)
 *
 * Cost: the sequences of the window's first and last event (two index probes of (received_at, sequence))
 * estimate its size; only a window estimated small is read, index-only, ordered by received_at so that it is
 * an index walk (a LIMIT on an unordered scan may be planned as a sequential scan) and capped in case the
 * estimate was wrong. A wider window, or one open towards now (`hours`, `start_date` alone, an `end_date` still
 * to come, whose newest events are where the backward walk starts anyway), is queried as it is.
 */
export function buildWindowSpanQuery(query: EventFilter, now = new Date()): SqlStatement | null {
  if (query.end_date === undefined || (storableTimeMs(query.end_date) ?? Infinity) >= now.getTime())
    return null;
  const params = new SqlParams();
  const window = windowClauses(query, params).join(' AND ');
  return {
    text: `WITH ends AS MATERIALIZED (
             SELECT (SELECT sequence FROM webhook_events WHERE ${window} ORDER BY received_at LIMIT 1) AS first_seq,
                    (SELECT sequence FROM webhook_events WHERE ${window} ORDER BY received_at DESC LIMIT 1) AS last_seq)
           SELECT ends.first_seq IS NULL AS empty, w.n, w.lo, w.hi
             FROM ends, LATERAL (
                    SELECT count(*)::int AS n, min(sequence)::text AS lo, max(sequence)::text AS hi
                      FROM (SELECT sequence FROM webhook_events
                             WHERE ${window} AND ends.last_seq - ends.first_seq < ${WINDOW_SPAN_MAX_EVENTS}
                             ORDER BY received_at LIMIT ${WINDOW_SPAN_MAX_EVENTS + 1}) window_events) w`,
    values: params.values,
  };
}

/** The row of {@link buildWindowSpanQuery}. */
export interface WindowSpanRow {
  empty: boolean;
  n: number;
  lo: string | null;
  hi: string | null;
}

/** `empty` when the window holds no event, its span when that bounds the queries, null when it does not. */
export function windowSpanOf(row: WindowSpanRow): SequenceSpan | 'empty' | null {
  if (row.empty) return 'empty';
  if (row.n > WINDOW_SPAN_MAX_EVENTS || row.lo === null || row.hi === null) return null;
  return { lo: row.lo, hi: row.hi };
}

/**
 * The page query (keyset on `sequence`, newest first, one row more than the page to know whether another page
 * exists) and the bounded count of every row matching the filters. Every clause is served by one of the
 * (column, sequence) indexes, the failed-events partial index or the (received_at, sequence) index; `span`
 * (from {@link buildWindowSpanQuery}) bounds the sequence. `workflows` holds the workflow each reference of the
 * filter names (null: none known).
 */
export function buildEventQueries(
  query: EventFilter,
  limit: number,
  workflows: ReadonlyMap<string, WorkflowRef | null>,
  span: SequenceSpan | null = null,
): { page: SqlStatement; count: SqlStatement } {
  const params = new SqlParams();
  const where = filterClauses(query, workflows, params);
  if (span) where.push(`sequence BETWEEN ${params.add(span.lo)}::bigint AND ${params.add(span.hi)}::bigint`);

  const whereSql = (clauses: string[]) => (clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '');
  const count: SqlStatement = {
    // Any MATCHED_COUNT_CAP + 1 matching rows give the same answer. Unbounded, the count is ordered like the
    // page so that it walks the same (column, sequence) index, usually index-only, and never a sequential scan
    // that may read the whole table before it reaches the cap. Within a span every plan is bounded already, and
    // ordering would make the planner sort the whole window instead of reading it index-only.
    text: `SELECT count(*)::int AS n FROM (SELECT 1 FROM webhook_events ${whereSql(where)}
            ${span ? '' : 'ORDER BY sequence DESC '}LIMIT ${MATCHED_COUNT_CAP + 1}) matched`,
    values: [...params.values],
  };
  const pageWhere = [...where];
  if (query.before !== undefined) {
    pageWhere.push(`sequence < ${params.add(parseEventCursor(query.before))}::bigint`);
  }
  const page: SqlStatement = {
    text: `SELECT ${listColumns(query)} FROM webhook_events ${whereSql(pageWhere)} ORDER BY sequence DESC LIMIT ${params.add(limit + 1)}`,
    values: params.values,
  };
  return { page, count };
}

/**
 * The columns of a listed event. Payloads are sized here and loaded afterwards for the events that fit in the
 * page's payload budget (see WebhookEventsService.search and exportEvents).
 */
function listColumns(query: EventFilter): string {
  return `id, sequence, event_type, workflow_ref, sync_id, workflow_name, agent_id, status, execution_status,
       received_at, processed_at, processing_status, processing_time_ms, correlation_id, error_message${query.include_payload ? ', octet_length(payload::text)::int AS payload_bytes' : ''}`;
}

/** The filters of the list as WHERE clauses (without the `before` cursor). */
function filterClauses(
  query: EventFilter,
  workflows: ReadonlyMap<string, WorkflowRef | null>,
  params: SqlParams,
): string[] {
  const where: string[] = [];
  if (query.status && query.status !== 'all') where.push(`status = ${params.add(query.status)}`);
  if (query.event_type) where.push(`event_type = ${params.add(query.event_type)}`);
  if (query.agent_id) where.push(`agent_id = ${params.add(query.agent_id)}`);
  if (query.correlation_id) where.push(`correlation_id = ${params.add(query.correlation_id)}`);
  // Every stored event belongs to strategy_workflow (the receiver refuses other names), so that name filters nothing.
  for (const ref of workflowRefsOf(query))
    where.push(workflowClause(ref, workflows.get(ref) ?? null, params));
  where.push(...windowClauses(query, params));
  return where;
}

/**
 * One batch of the export (`GET /api/diagnostics/events/export`): the events matching the list's filters, oldest
 * first, after the sequence `after` (keyset: each batch is one short indexed read, however many events match).
 * `before`, when given, still bounds the export from above.
 */
export function buildExportBatchQuery(
  query: EventFilter,
  workflows: ReadonlyMap<string, WorkflowRef | null>,
  after: string | null,
  limit: number,
): SqlStatement {
  const params = new SqlParams();
  const where = filterClauses(query, workflows, params);
  if (query.before !== undefined) {
    where.push(`sequence < ${params.add(parseEventCursor(query.before))}::bigint`);
  }
  if (after !== null) where.push(`sequence > ${params.add(after)}::bigint`);
  const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  return {
    text: `SELECT ${listColumns(query)} FROM webhook_events ${whereSql} ORDER BY sequence LIMIT ${params.add(limit)}`,
    values: params.values,
  };
}

/** The references to one workflow a filter holds (`workflow` and `workflow_id`, but not the workflow name). */
export function workflowRefsOf(query: EventFilter): string[] {
  return [...new Set([query.workflow, query.workflow_id])].filter(
    (ref): ref is string => ref !== undefined && ref !== STRATEGY_WORKFLOW,
  );
}

/**
 * A known workflow's events: those linked to it plus those not (yet) linked that name it by sync id, OPAL id
 * or correlation id. An unknown reference matches events that carry it as `workflow_id` or correlation id.
 */
function workflowClause(ref: string, workflow: WorkflowRef | null, params: SqlParams): string {
  if (!workflow) {
    const p = params.add(ref);
    return `(workflow_ref = ${p} OR correlation_id = ${p})`;
  }
  const refsParam = params.add(refsOf(workflow));
  return `(sync_id = ${params.add(workflow.id)}::uuid OR workflow_ref = ANY(${refsParam}::text[]) OR correlation_id = ANY(${refsParam}::text[]))`;
}

/** Every reference a callback may carry for the workflow. */
export function refsOf(workflow: WorkflowRef): string[] {
  return [workflow.id, workflow.opalWorkflowId, workflow.correlationId].filter(
    (value): value is string => value !== null,
  );
}
