import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AnalyticsReader } from '../../database/analytics-reader';
import { RequestContext } from '../../common/request-context';
import type { RejectionReason } from '../../domain/events';
import { isUuid } from '../../domain/ids';
import type { ParsedWebhookEvent } from './webhook-event.parser';

/**
 * Every SQL statement on `webhook_events` and `rejected_deliveries`. Other modules reach the stored events
 * through `WebhookEventsService`. Methods that take an `EntityManager` run inside the caller's transaction.
 */

/** A stored event waiting to be applied. `occurred_at` in epoch milliseconds (parsing text costs more). */
export interface PendingEventRow {
  id: string;
  sequence: string;
  event_type: string;
  agent_id: string | null;
  status: string;
  workflow_ref: string;
  correlation_id: string | null;
  error_message: string | null;
  occurred_at: number;
  received_at: number;
}

/** A workflow's stored event, as replay reads it. */
export interface WorkflowEventRow {
  id: string;
  event_type: string;
  agent_id: string | null;
  status: string;
  occurred_at: Date;
  received_at: Date;
  error_message: string | null;
  processing_status: 'pending' | 'processed' | 'unmatched' | 'failed';
}

export interface NewEventRow {
  id: string;
  event: ParsedWebhookEvent;
  payloadJson: string;
}

/** Deliveries of the last hour (diagnostics, alerts and the receiver status). */
export interface DeliveryFigures {
  now: Date;
  /** Events stored in the last hour. */
  eventsLastHour: number;
  /** Of those: reported failed by OPAL, or failed to apply. */
  failedLastHour: number;
  /** Of those: failed to apply. */
  processingFailedLastHour: number;
  /** Of those: applied to their workflow. */
  processedLastHour: number;
  /** Of those: no workflow matched them. */
  unmatchedLastHour: number;
  avgProcessingMs: number | null;
  p95ProcessingMs: number | null;
  lastWebhookAt: Date | null;
  /** Stored events not yet applied. */
  backlog: number;
  /** Of those: waiting longer than a minute (processing stuck or behind). */
  stalePending: number;
  signatureRejectedLastHour: number;
  rejectedLastHour: number;
}

export interface DayFigures {
  events: number;
  failed: number;
  rejected: number;
}

/** An event still unprocessed after this long means processing is stuck or behind. */
const STALE_PENDING_SECONDS = 60;
const MAX_DETAIL_LENGTH = 300;
const MAX_CLIENT_IP_LENGTH = 64;

/**
 * Every figure of the last hour in one statement; each sub-select is bounded by an index (received_at, the
 * pending partial index, rejected_deliveries' bucket key), so no table is scanned.
 */
export const DELIVERY_FIGURES_SQL = `
WITH recent AS (
  SELECT count(*)::int AS events_last_hour,
         count(*) FILTER (WHERE status = 'failed' OR processing_status = 'failed')::int AS failed_last_hour,
         count(*) FILTER (WHERE processing_status = 'failed')::int AS processing_failed_last_hour,
         count(*) FILTER (WHERE processing_status = 'processed')::int AS processed_last_hour,
         count(*) FILTER (WHERE processing_status = 'unmatched')::int AS unmatched_last_hour,
         avg(processing_time_ms)::float8 AS avg_ms,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY processing_time_ms)::float8 AS p95_ms
    FROM webhook_events
   WHERE received_at > now() - interval '1 hour'
), rejected AS (
  SELECT coalesce(sum(count) FILTER (WHERE reason = 'signature_invalid'), 0)::int AS signature_rejected,
         coalesce(sum(count), 0)::int AS rejected
    FROM rejected_deliveries
   WHERE bucket > now() - interval '1 hour'
), pending AS (
  SELECT count(*)::int AS backlog,
         count(*) FILTER (WHERE received_at < now() - $1::int * interval '1 second')::int AS stale_pending
    FROM webhook_events
   WHERE processing_status = 'pending'
)
SELECT now() AS now, recent.*, rejected.*, pending.*,
       (SELECT max(received_at) FROM webhook_events) AS last_webhook_at
  FROM recent, rejected, pending`;

export const DELIVERY_FIGURES_PARAMS = [STALE_PENDING_SECONDS];

/** One stored event in full, as the event lookup answers it. */
export interface StoredEventDetailRow {
  id: string;
  sequence: string;
  source_event_id: string | null;
  event_type: string;
  raw_event_type: string | null;
  workflow_ref: string;
  sync_id: string | null;
  workflow_name: string | null;
  agent_id: string | null;
  status: string;
  execution_status: string | null;
  correlation_id: string | null;
  error_message: string | null;
  occurred_at: Date;
  received_at: Date;
  processed_at: Date | null;
  processing_status: string;
  processing_time_ms: number | null;
  processing_error: string | null;
  payload: Record<string, unknown>;
}

/** An event of the dead-letter inbox (unmatched, or its processing failed). */
export interface DeadLetterEventRow {
  id: string;
  sequence: string;
  source_event_id: string | null;
  event_type: string;
  workflow_ref: string;
  sync_id: string | null;
  agent_id: string | null;
  correlation_id: string | null;
  received_at: Date;
  processed_at: Date | null;
  processing_status: 'unmatched' | 'failed';
  processing_error: string | null;
}

/** One counter row of refused deliveries (per minute, reason and client address). */
export interface RejectedDeliveryRow {
  bucket: Date;
  reason: string;
  client_ip: string;
  count: number;
  first_at: Date;
  last_at: Date;
  last_detail: string | null;
}

/** The processing statuses an operator may put back into processing. */
export type DeadLetterStatus = 'unmatched' | 'failed';

/**
 * Which events a requeue selects: dead letters of `statuses`, and when `refs` is given only those (service ids or
 * the sender's event ids).
 */
export interface RequeueSelection {
  statuses: readonly DeadLetterStatus[];
  refs: readonly string[] | null;
}

const SENDER_KEY_PREFIX = 'id:';

@Injectable()
export class WebhookEventsRepository {
  constructor(
    private readonly dataSource: DataSource,
    /** Analytics reads (figures, the diagnostics list): the read replica when it serves, else the primary. */
    private readonly reader: AnalyticsReader,
  ) {}

  /**
   * One INSERT … SELECT FROM unnest(…) for the rows, in their order (so `sequence` follows it); duplicates of a
   * stored idempotency key are skipped. Returns the sequence of each inserted row by id and, in the same
   * statement, the id of the stored event of each skipped key (one index lookup per skipped key only), so a
   * duplicate's answer costs no query of its own. A key whose event another transaction committed while this
   * statement ran is skipped without an id here (the statement's snapshot predates it): the caller looks it up.
   * The payloads travel as one JSON array (their JSON texts joined) rather than a jsonb[] parameter, whose
   * elements the driver would have to escape character by character.
   */
  async insert(
    items: readonly NewEventRow[],
  ): Promise<{ sequences: Map<string, string>; storedIdsOfSkippedKeys: Map<string, string> }> {
    const column = <V>(pick: (event: ParsedWebhookEvent) => V): V[] => items.map((item) => pick(item.event));
    const rows: { id: string; sequence: string | null; skipped_key: string | null }[] =
      await this.dataSource.query(
        `WITH inserted AS (
           INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type,
                                       workflow_ref, workflow_name, sync_id, agent_id, execution_status, status,
                                       correlation_id, error_message, occurred_at, received_at, processing_status,
                                       payload)
           SELECT v.id, v.idempotency_key, v.source_event_id, v.event_type, v.raw_event_type, v.workflow_ref,
                  v.workflow_name, NULL, v.agent_id, v.execution_status, v.status, v.correlation_id,
                  v.error_message, COALESCE(v.occurred_at, now()), now(), 'pending', p.payload
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[])
                  WITH ORDINALITY AS v(id, idempotency_key, source_event_id, event_type, raw_event_type,
                                       workflow_ref, workflow_name, agent_id, execution_status, status,
                                       correlation_id, error_message, occurred_at, ord)
             JOIN jsonb_array_elements($14::jsonb) WITH ORDINALITY AS p(payload, ord) ON p.ord = v.ord
            ORDER BY v.ord
           ON CONFLICT (idempotency_key) DO NOTHING
           RETURNING id, sequence, idempotency_key
         ), skipped AS (
           SELECT k.key FROM unnest($2::text[]) AS k(key)
           EXCEPT
           SELECT idempotency_key FROM inserted
         )
         SELECT id, sequence::text AS sequence, NULL AS skipped_key FROM inserted
         UNION ALL
         SELECT stored.id, NULL, skipped.key
           FROM skipped,
                LATERAL (SELECT e.id FROM webhook_events e WHERE e.idempotency_key = skipped.key LIMIT 1) stored`,
        [
          items.map((item) => item.id),
          column((e) => e.idempotencyKey),
          column((e) => e.sourceEventId),
          column((e) => e.eventType),
          column((e) => e.rawEventType),
          column((e) => e.workflowRef),
          column((e) => e.workflowName),
          column((e) => e.agentId),
          column((e) => e.executionStatus),
          column((e) => e.status),
          column((e) => e.correlationId),
          column((e) => e.errorMessage),
          column((e) => e.occurredAt),
          `[${items.map((item) => item.payloadJson).join(',')}]`,
        ],
      );
    const sequences = new Map<string, string>();
    const storedIdsOfSkippedKeys = new Map<string, string>();
    for (const row of rows) {
      if (row.skipped_key !== null) storedIdsOfSkippedKeys.set(row.skipped_key, row.id);
      else if (row.sequence !== null) sequences.set(row.id, row.sequence);
    }
    return { sequences, storedIdsOfSkippedKeys };
  }

  /** The id of the event stored under an idempotency key. */
  async idOfKey(idempotencyKey: string): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM webhook_events WHERE idempotency_key = $1`,
      [idempotencyKey],
    );
    return rows[0]?.id ?? null;
  }

  /** Claims up to `limit` unprocessed events in receive order, skipping rows another instance holds. */
  claimPending(manager: EntityManager, limit: number): Promise<PendingEventRow[]> {
    return manager.query(
      `SELECT id, sequence, event_type, agent_id, status, workflow_ref, correlation_id, error_message,
              (extract(epoch FROM occurred_at) * 1000)::float8 AS occurred_at,
              (extract(epoch FROM received_at) * 1000)::float8 AS received_at
         FROM webhook_events
        WHERE processing_status = 'pending'
        ORDER BY sequence
        LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [limit],
    );
  }

  /** Marks events applied, each with its workflow, and returns their processing times. */
  async markProcessed(
    manager: EntityManager,
    events: readonly { id: string; syncId: string }[],
  ): Promise<number[]> {
    if (events.length === 0) return [];
    const [rows]: [{ processing_time_ms: number }[], number] = await manager.query(
      `UPDATE webhook_events e
          SET processing_status = 'processed', sync_id = v.sync_id, processed_at = statement_timestamp(),
              processing_error = NULL,
              processing_time_ms = LEAST(2147483647,
                GREATEST(0, round(extract(epoch FROM statement_timestamp() - e.received_at) * 1000)))::int
         FROM unnest($1::uuid[], $2::uuid[]) AS v(id, sync_id)
        WHERE e.id = v.id
        RETURNING e.processing_time_ms`,
      [events.map((e) => e.id), events.map((e) => e.syncId)],
    );
    return rows.map((r) => r.processing_time_ms);
  }

  /** Marks events whose application failed, with the error, linked to the workflow they matched. */
  async markFailed(
    manager: EntityManager,
    ids: readonly string[],
    syncId: string,
    error: string,
  ): Promise<void> {
    await manager.query(
      `UPDATE webhook_events
          SET processing_status = 'failed', sync_id = $2, processed_at = statement_timestamp(), processing_error = $3
        WHERE id = ANY($1::uuid[])`,
      [ids, syncId, error],
    );
  }

  async markUnmatched(manager: EntityManager, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await manager.query(
      `UPDATE webhook_events SET processing_status = 'unmatched' WHERE id = ANY($1::uuid[])`,
      [ids],
    );
  }

  /**
   * The distinct references of the unmatched events naming one of `refs` by their `workflow_id` or correlation
   * id: two partial indexes of the unmatched events, one lookup per reference, whatever the table holds.
   */
  async unmatchedRefsNaming(
    refs: readonly string[],
  ): Promise<{ workflowRef: string; correlationId: string | null }[]> {
    if (refs.length === 0) return [];
    const rows: { workflow_ref: string; correlation_id: string | null }[] = await this.dataSource.query(
      `SELECT DISTINCT workflow_ref, correlation_id FROM webhook_events
        WHERE processing_status = 'unmatched'
          AND (workflow_ref = ANY($1::text[]) OR correlation_id = ANY($1::text[]))`,
      [refs],
    );
    return rows.map((r) => ({ workflowRef: r.workflow_ref, correlationId: r.correlation_id }));
  }

  /** The distinct references of every unmatched event (their `workflow_id` and correlation id). */
  async unmatchedRefs(): Promise<{ workflowRef: string; correlationId: string | null }[]> {
    const rows: { workflow_ref: string; correlation_id: string | null }[] = await this.dataSource.query(
      `SELECT DISTINCT workflow_ref, correlation_id FROM webhook_events WHERE processing_status = 'unmatched'`,
    );
    return rows.map((r) => ({ workflowRef: r.workflow_ref, correlationId: r.correlation_id }));
  }

  /** Puts the unmatched events with these references back in the queue. */
  async requeueUnmatched(
    refs: readonly { workflowRef: string; correlationId: string | null }[],
  ): Promise<number> {
    if (refs.length === 0) return 0;
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE webhook_events e SET processing_status = 'pending'
         FROM unnest($1::text[], $2::text[]) AS v(workflow_ref, correlation_id)
        WHERE e.processing_status = 'unmatched' AND e.workflow_ref = v.workflow_ref
          AND e.correlation_id IS NOT DISTINCT FROM v.correlation_id`,
      [refs.map((r) => r.workflowRef), refs.map((r) => r.correlationId)],
    );
    return affected;
  }

  /**
   * A workflow's events in receive order: linked to it, or not linked yet but naming it by one of `refs`. With
   * `lock`, the rows are locked, as live processing locks them, before the workflow.
   */
  eventsOfWorkflow(
    manager: EntityManager,
    syncId: string,
    refs: readonly string[],
    options: { lock: boolean },
  ): Promise<WorkflowEventRow[]> {
    return manager.query(
      `SELECT id, event_type, agent_id, status, occurred_at, received_at, error_message, processing_status
         FROM webhook_events
        WHERE sync_id = $1
           OR (sync_id IS NULL AND (workflow_ref = ANY($2::text[]) OR correlation_id = ANY($2::text[])))
        ORDER BY sequence ${options.lock ? 'FOR UPDATE' : ''}`,
      [syncId, refs],
    );
  }

  /** Replay is not live processing: processing_time_ms keeps what the processor measured (if anything). */
  async markReplayed(manager: EntityManager, ids: readonly string[], syncId: string): Promise<void> {
    if (ids.length === 0) return;
    await manager.query(
      `UPDATE webhook_events
          SET processing_status = 'processed', sync_id = $2, processed_at = statement_timestamp(),
              processing_error = NULL
        WHERE id = ANY($1::uuid[])`,
      [ids, syncId],
    );
  }

  /** Stored events not yet applied: the one definition of the processing backlog. */
  async backlog(): Promise<number> {
    const rows: { n: number }[] = await this.reader.query(
      `SELECT count(*)::int AS n FROM webhook_events WHERE processing_status = 'pending'`,
    );
    return rows[0]?.n ?? 0;
  }

  async deliveryFigures(): Promise<DeliveryFigures> {
    const [row]: {
      now: Date;
      events_last_hour: number;
      failed_last_hour: number;
      processing_failed_last_hour: number;
      processed_last_hour: number;
      unmatched_last_hour: number;
      avg_ms: number | null;
      p95_ms: number | null;
      last_webhook_at: Date | null;
      backlog: number;
      stale_pending: number;
      signature_rejected: number;
      rejected: number;
    }[] = await this.reader.query(DELIVERY_FIGURES_SQL, DELIVERY_FIGURES_PARAMS);
    return {
      now: row.now,
      eventsLastHour: row.events_last_hour,
      failedLastHour: row.failed_last_hour,
      processingFailedLastHour: row.processing_failed_last_hour,
      processedLastHour: row.processed_last_hour,
      unmatchedLastHour: row.unmatched_last_hour,
      avgProcessingMs: row.avg_ms,
      p95ProcessingMs: row.p95_ms,
      lastWebhookAt: row.last_webhook_at,
      backlog: row.backlog,
      stalePending: row.stale_pending,
      signatureRejectedLastHour: row.signature_rejected,
      rejectedLastHour: row.rejected,
    };
  }

  /** Events and refused deliveries of the last 24 hours (the receiver status). */
  async dayFigures(): Promise<DayFigures> {
    const [row]: { events: number; failed: number; rejected: number }[] = await this.dataSource.query(
      `SELECT (SELECT count(*)::int FROM webhook_events WHERE received_at > now() - interval '24 hours') AS events,
              (SELECT count(*)::int FROM webhook_events
                WHERE received_at > now() - interval '24 hours' AND processing_status = 'failed') AS failed,
              (SELECT coalesce(sum(count), 0)::int FROM rejected_deliveries
                WHERE bucket > now() - interval '24 hours') AS rejected`,
    );
    return row;
  }

  /**
   * Counts one refused delivery in its minute's row for the reason and client address: a flood grows a count,
   * not the table, and no body or signature is ever stored.
   */
  async recordRejection(
    reason: RejectionReason,
    clientIp: string | undefined,
    detail: string | null,
  ): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO rejected_deliveries (bucket, reason, client_ip, count, first_at, last_at, last_detail, last_correlation_id)
       VALUES (date_trunc('minute', now()), $1, $2, 1, now(), now(), $3, $4)
       ON CONFLICT (bucket, reason, client_ip) DO UPDATE
         SET count = rejected_deliveries.count + 1, last_at = now(),
             last_detail = EXCLUDED.last_detail, last_correlation_id = EXCLUDED.last_correlation_id`,
      [
        reason,
        (clientIp ?? 'unknown').slice(0, MAX_CLIENT_IP_LENGTH),
        detail === null ? null : detail.slice(0, MAX_DETAIL_LENGTH),
        RequestContext.correlationId() ?? null,
      ],
    );
  }

  /** What a cleanup with this cutoff would delete: processed (never pending) events and rejection counters. */
  async countOlderThan(cutoff: Date): Promise<{ events: number; rejectedDeliveries: number }> {
    const [row]: { events: number; rejected: number }[] = await this.dataSource.query(
      `SELECT (SELECT count(*)::int FROM webhook_events WHERE received_at < $1 AND processing_status <> 'pending') AS events,
              (SELECT count(*)::int FROM rejected_deliveries WHERE bucket < $1) AS rejected`,
      [cutoff],
    );
    return { events: row.events, rejectedDeliveries: row.rejected };
  }

  /**
   * Deletes in batches, each its own statement, so a large backlog of old rows never holds one long lock.
   * Events still waiting to be processed are kept whatever their age: deleting them would lose a callback.
   */
  async deleteOlderThan(
    cutoff: Date,
    batchSize: number,
  ): Promise<{ events: number; rejectedDeliveries: number }> {
    const events = await this.deleteInBatches(
      `DELETE FROM webhook_events WHERE id IN (
         SELECT id FROM webhook_events WHERE received_at < $1 AND processing_status <> 'pending' LIMIT $2)`,
      cutoff,
      batchSize,
    );
    const rejectedDeliveries = await this.deleteInBatches(
      `DELETE FROM rejected_deliveries WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM rejected_deliveries WHERE bucket < $1 LIMIT $2))`,
      cutoff,
      batchSize,
    );
    return { events, rejectedDeliveries };
  }

  private async deleteInBatches(sql: string, cutoff: Date, batchSize: number): Promise<number> {
    let total = 0;
    for (;;) {
      // For DELETE, TypeORM's postgres driver answers [rows, affectedCount].
      const [, affected]: [unknown[], number] = await this.dataSource.query(sql, [cutoff, batchSize]);
      total += affected;
      if (affected < batchSize) return total;
    }
  }

  /** The page and the bounded count of the diagnostics list (see `event-search.ts`), side by side. */
  async search<Row>(
    page: { text: string; values: unknown[] },
    count: { text: string; values: unknown[] },
  ): Promise<{ rows: Row[]; matched: number }> {
    const [rows, counted] = await Promise.all([
      this.reader.query<Row[]>(page.text, page.values),
      this.reader.query<{ n: number }[]>(count.text, count.values),
    ]);
    return { rows, matched: counted[0]?.n ?? 0 };
  }

  /** The payloads of a page's events (already sized and cut to the budget), in one query. */
  async payloadsOf(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    if (ids.length === 0) return new Map();
    const rows: { id: string; payload: Record<string, unknown> }[] = await this.reader.query(
      `SELECT id, payload FROM webhook_events WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.payload]));
  }

  async windowSpan<Row>(statement: { text: string; values: unknown[] }): Promise<Row> {
    const rows = await this.reader.query<Row[]>(statement.text, statement.values);
    return rows[0];
  }

  /**
   * One event by the service's id or the sender's `event_id` (stored under the idempotency key `id:<event_id>`);
   * the service's id wins when both name an event. Read on the primary: one indexed row, and an event answered
   * 202 a moment ago must not be 404 because a replica has not applied it yet.
   */
  async findEvent(ref: string): Promise<StoredEventDetailRow | null> {
    const uuid = isUuid(ref) ? ref.toLowerCase() : null;
    const rows: StoredEventDetailRow[] = await this.dataSource.query(
      `SELECT id, sequence, source_event_id, event_type, raw_event_type, workflow_ref, sync_id, workflow_name,
              agent_id, status, execution_status, correlation_id, error_message, occurred_at, received_at,
              processed_at, processing_status, processing_time_ms, processing_error, payload
         FROM webhook_events
        WHERE id = $1::uuid OR idempotency_key = $2
        ORDER BY (id = $1::uuid) DESC NULLS LAST
        LIMIT 1`,
      [uuid, SENDER_KEY_PREFIX + ref],
    );
    return rows[0] ?? null;
  }

  /** A page of unmatched or failed events, newest first (keyset on `sequence`; one row more than the page). */
  deadLetterEvents(
    status: DeadLetterStatus,
    limit: number,
    before: string | null,
  ): Promise<DeadLetterEventRow[]> {
    return this.reader.query(
      `SELECT id, sequence, source_event_id, event_type, workflow_ref, sync_id, agent_id, correlation_id,
              received_at, processed_at, processing_status, processing_error
         FROM webhook_events
        WHERE processing_status = $1 AND ($2::bigint IS NULL OR sequence < $2::bigint)
        ORDER BY sequence DESC
        LIMIT $3`,
      [status, before, limit + 1],
    );
  }

  /** A page of refused-delivery counters, newest first (keyset on the primary key; one row more than the page). */
  rejectedDeliveries(
    limit: number,
    before: { bucket: Date; reason: string; clientIp: string } | null,
  ): Promise<RejectedDeliveryRow[]> {
    return this.reader.query(
      `SELECT bucket, reason, client_ip, count, first_at, last_at, last_detail
         FROM rejected_deliveries
        WHERE $1::timestamptz IS NULL OR (bucket, reason, client_ip) < ($1::timestamptz, $2::text, $3::text)
        ORDER BY bucket DESC, reason DESC, client_ip DESC
        LIMIT $4`,
      [before?.bucket ?? null, before?.reason ?? null, before?.clientIp ?? null, limit + 1],
    );
  }

  /** How many dead letters a requeue selects; with `cap`, counted up to `cap` + 1. */
  async countRequeue(selection: RequeueSelection, cap: number | null): Promise<number> {
    const [where, values] = requeueWhere(selection);
    const limit = cap === null ? '' : `LIMIT ${Math.floor(cap) + 1}`;
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM webhook_events WHERE ${where} ${limit}) selected`,
      values,
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Puts the selected dead letters back into processing (`pending`; the last error stays until they are
   * processed again). Rows the processor holds are skipped: they are being processed already.
   */
  async requeue(selection: RequeueSelection): Promise<number> {
    const [where, values] = requeueWhere(selection);
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE webhook_events SET processing_status = 'pending'
        WHERE id IN (SELECT id FROM webhook_events WHERE ${where} FOR UPDATE SKIP LOCKED)`,
      values,
    );
    return affected;
  }

  /** One batch of the export (see `buildExportBatchQuery`). */
  exportBatch<Row>(statement: { text: string; values: unknown[] }): Promise<Row[]> {
    return this.reader.query<Row[]>(statement.text, statement.values);
  }

  /** The payloads of a batch of exported events, in one query. */
  async exportPayloads(ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    if (ids.length === 0) return new Map();
    const rows: { id: string; payload: Record<string, unknown> }[] = await this.reader.query(
      `SELECT id, payload FROM webhook_events WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, row.payload]));
  }
}

function requeueWhere(selection: RequeueSelection): [string, unknown[]] {
  const values: unknown[] = [selection.statuses];
  let where = `processing_status = ANY($1::text[])`;
  if (selection.refs !== null) {
    const uuids = selection.refs.filter((ref) => isUuid(ref)).map((ref) => ref.toLowerCase());
    values.push(
      uuids,
      selection.refs.map((ref) => SENDER_KEY_PREFIX + ref),
    );
    where += ` AND (id = ANY($2::uuid[]) OR idempotency_key = ANY($3::text[]))`;
  }
  return [where, values];
}
