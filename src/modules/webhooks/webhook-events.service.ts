import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { WorkflowsService, type WorkflowRef } from '../workflows/workflows.service';
import {
  MATCHED_COUNT_CAP,
  PAYLOAD_PAGE_MAX_EVENTS,
  rowsWithinPayloadBudget,
  buildEventQueries,
  buildWindowSpanQuery,
  refsOf,
  windowSpanOf,
  workflowRefsOf,
  type EventFilter,
  type SequenceSpan,
  type WindowSpanRow,
} from './event-search';
import { eventCursorOf, parseEventCursor } from './dto/event-cursor';
import { AppError } from '../../common/app-error';
import { buildExportBatchQuery } from './event-search';
import {
  WebhookEventsRepository,
  type DeadLetterEventRow,
  type DeadLetterStatus,
  type DeliveryFigures,
  type RejectedDeliveryRow,
  type StoredEventDetailRow,
  type WorkflowEventRow,
} from './webhook-events.repository';

export type { EventFilter } from './event-search';
export type {
  DeadLetterEventRow,
  DeadLetterStatus,
  DeliveryFigures,
  RejectedDeliveryRow,
  StoredEventDetailRow,
  WorkflowEventRow,
} from './webhook-events.repository';

/** One event of the diagnostics list, as stored. */
export interface StoredEventRow {
  id: string;
  sequence: string;
  event_type: string;
  workflow_ref: string;
  sync_id: string | null;
  workflow_name: string | null;
  agent_id: string | null;
  status: string;
  execution_status: string | null;
  received_at: Date;
  processed_at: Date | null;
  processing_status: string;
  processing_time_ms: number | null;
  correlation_id: string | null;
  error_message: string | null;
  /** With include_payload: the size of the payload's JSON text, read instead of the payload itself. */
  payload_bytes?: number;
  payload?: Record<string, unknown>;
}

export interface EventPage {
  rows: StoredEventRow[];
  nextBefore: string | null;
  /** Matching events, counted up to MATCHED_COUNT_CAP + 1. */
  matched: number;
  matchedCapped: boolean;
}

/** The dead-letter inbox's lists. */
export const DEAD_LETTER_KINDS = ['unmatched', 'failed', 'rejected'] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_KINDS)[number];

export type DeadLetterPage =
  | { kind: DeadLetterStatus; rows: DeadLetterEventRow[]; nextBefore: string | null }
  | { kind: 'rejected'; rows: RejectedDeliveryRow[]; nextBefore: string | null };

/**
 * A requeue without an explicit list of events or a kind selects every dead letter; past this many it is refused,
 * so that a mistaken call cannot put a whole table back into processing.
 */
export const REQUEUE_UNSCOPED_MAX = 10_000;

/** Rows per export batch: without payloads, and the most with them (the payload page budget applies as well). */
const EXPORT_BATCH = 250;

/** Rows per DELETE: small enough that each statement holds its locks briefly and never hits the statement timeout. */
export const CLEANUP_BATCH_SIZE = 5000;

/**
 * The share of the last hour's deliveries whose signature failed, in percent: signature failures ÷ (stored
 * events + refused deliveries). The one definition, used by the receiver status, diagnostics and alerts.
 */
export function signatureFailureRate(
  f: Pick<DeliveryFigures, 'signatureRejectedLastHour' | 'eventsLastHour' | 'rejectedLastHour'>,
): number {
  const deliveries = f.eventsLastHour + f.rejectedLastHour;
  return deliveries === 0 ? 0 : Math.round((10000 * f.signatureRejectedLastHour) / deliveries) / 100;
}

/**
 * The stored events, for the other modules: the diagnostics list, the delivery figures (backlog, failure and
 * signature rates), retention, a workflow's events for replay, and relinking events that matched no workflow
 * when they were processed. The receiver (`WebhooksService`) and the processing loop live beside it.
 */
@Injectable()
export class WebhookEventsService {
  private readonly logger = new Logger('WebhookEvents');

  constructor(
    private readonly dataSource: DataSource,
    private readonly repo: WebhookEventsRepository,
    private readonly workflows: WorkflowsService,
  ) {}

  /** Stored events not yet applied to their workflow. */
  backlog(): Promise<number> {
    return this.repo.backlog();
  }

  /** Every delivery figure of the last hour, in one statement. */
  deliveryFigures(): Promise<DeliveryFigures> {
    return this.repo.deliveryFigures();
  }

  /** A page of the diagnostics list (keyset on `sequence`, newest first) and the bounded count. */
  async search(filter: EventFilter, limit: number): Promise<EventPage> {
    const workflows = new Map<string, WorkflowRef | null>();
    for (const ref of workflowRefsOf(filter)) workflows.set(ref, await this.workflows.resolve(ref));
    let span: SequenceSpan | null = null;
    const spanSql = buildWindowSpanQuery(filter);
    if (spanSql) {
      const found = windowSpanOf(await this.repo.windowSpan<WindowSpanRow>(spanSql));
      if (found === 'empty') return { rows: [], nextBefore: null, matched: 0, matchedCapped: false };
      span = found;
    }
    const includePayload = filter.include_payload === true;
    const pageLimit = includePayload ? Math.min(limit, PAYLOAD_PAGE_MAX_EVENTS) : limit;
    const sql = buildEventQueries(filter, pageLimit, workflows, span);
    const { rows, matched } = await this.repo.search<StoredEventRow>(sql.page, sql.count);
    let pageRows = rows.slice(0, pageLimit);
    let hasMore = rows.length > pageLimit;
    if (includePayload) {
      const fitting = rowsWithinPayloadBudget(pageRows);
      hasMore ||= fitting < pageRows.length;
      pageRows = pageRows.slice(0, fitting);
      const payloads = await this.repo.payloadsOf(pageRows.map((row) => row.id));
      for (const row of pageRows) row.payload = payloads.get(row.id);
    }
    return {
      rows: pageRows,
      nextBefore: hasMore ? eventCursorOf(pageRows[pageRows.length - 1].sequence) : null,
      matched: Math.min(matched, MATCHED_COUNT_CAP),
      matchedCapped: matched > MATCHED_COUNT_CAP,
    };
  }

  /**
   * Deletes (or, with `dryRun`, counts) processed events received more than `retentionDays` ago and the refused
   * deliveries' counters of the same age; events still waiting to be processed are kept whatever their age.
   */
  async deleteOlderThan(
    retentionDays: number,
    dryRun: boolean,
  ): Promise<{ olderThan: Date; events: number; rejectedDeliveries: number }> {
    const rows: { cutoff: Date }[] = await this.dataSource.query(
      `SELECT now() - $1::int * interval '1 day' AS cutoff`,
      [retentionDays],
    );
    const olderThan = rows[0].cutoff;
    const counts = dryRun
      ? await this.repo.countOlderThan(olderThan)
      : await this.repo.deleteOlderThan(olderThan, CLEANUP_BATCH_SIZE);
    return { olderThan, ...counts };
  }

  /**
   * Puts unmatched events whose workflow is now known back in the queue, with the same matching rules as
   * processing (so a re-queued event is matched on its next pass). With `since`, only the workflows created or
   * written since then are considered (a workflow's references only become known when it is written), and the
   * unmatched events naming them are found by index: the cost follows the workflows written, not the unmatched
   * events kept (which anyone holding the secret can make many of, for workflows that never exist). Without it,
   * every unmatched event is considered (the job's first run on a database).
   */
  async relinkUnmatched(since: Date | null): Promise<number> {
    const refs =
      since === null ? await this.repo.unmatchedRefs() : await this.unmatchedRefsWrittenSince(since);
    if (refs.length === 0) return 0;
    const matches = await this.workflows.matchCallbacks(refs);
    const known = refs.filter((_, i) => matches[i] !== null);
    const requeued = await this.repo.requeueUnmatched(known);
    if (requeued > 0) this.logger.log({ msg: 'Unmatched events linked to their workflow', count: requeued });
    return requeued;
  }

  private async unmatchedRefsWrittenSince(
    since: Date,
  ): Promise<{ workflowRef: string; correlationId: string | null }[]> {
    const written = await this.workflows.refsWrittenSince(since);
    // A sync id may be sent in upper case (it is matched without regard to case).
    const texts = written.flatMap((w) => [
      w.id,
      w.id.toUpperCase(),
      w.correlationId,
      ...(w.opalWorkflowId === null ? [] : [w.opalWorkflowId]),
    ]);
    return this.repo.unmatchedRefsNaming(texts);
  }

  /**
   * A workflow's stored events in receive order (linked to it, or naming it and not linked yet), read in the
   * caller's transaction; with `lock`, locked as live processing locks them, before their workflow.
   */
  eventsOfWorkflow(
    manager: EntityManager,
    workflow: WorkflowRef,
    options: { lock: boolean },
  ): Promise<WorkflowEventRow[]> {
    return this.repo.eventsOfWorkflow(manager, workflow.id, refsOf(workflow), options);
  }

  /** Marks replayed events processed and linked to their workflow, in the caller's transaction. */
  markReplayed(manager: EntityManager, ids: readonly string[], syncId: string): Promise<void> {
    return this.repo.markReplayed(manager, ids, syncId);
  }

  /** One event by the service's id or the sender's `event_id`, or null. */
  findEvent(ref: string): Promise<StoredEventDetailRow | null> {
    return this.repo.findEvent(ref);
  }

  /** A page of the dead-letter inbox, newest first; `before` is the previous page's `next_before`. */
  async deadLetters(kind: DeadLetterKind, limit: number, before: string | null): Promise<DeadLetterPage> {
    const invalidCursor = () =>
      new AppError('VALIDATION_FAILED', 'Invalid request: before', [
        { field: 'before', message: 'before must be the next_before cursor of a previous page of this kind' },
      ]);
    if (kind === 'rejected') {
      const cursor = before === null ? null : rejectedCursorOf(before);
      if (before !== null && cursor === null) throw invalidCursor();
      const rows = await this.repo.rejectedDeliveries(limit, cursor);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        kind,
        rows: page,
        nextBefore: rows.length > limit && last ? rejectedCursor(last) : null,
      };
    }
    const sequence = before === null ? null : parseEventCursor(before);
    if (before !== null && sequence === null) throw invalidCursor();
    const rows = await this.repo.deadLetterEvents(kind, limit, sequence);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      kind,
      rows: page,
      nextBefore: rows.length > limit && last ? eventCursorOf(last.sequence) : null,
    };
  }

  /**
   * Puts dead letters (unmatched or failed events) back into processing: those of `eventIds` (service ids or
   * senders' event ids) and/or of `kind`; neither selects every dead letter, refused past
   * {@link REQUEUE_UNSCOPED_MAX}. `matched`: dead letters selected; `requeued`: put back (0 on a dry run).
   */
  async requeue(request: {
    eventIds: readonly string[] | null;
    kind: DeadLetterStatus | null;
    dryRun: boolean;
  }): Promise<{ matched: number; requeued: number }> {
    const selection = {
      statuses: request.kind === null ? (['unmatched', 'failed'] as const) : [request.kind],
      refs: request.eventIds,
    };
    const unscoped = request.eventIds === null && request.kind === null;
    const matched = await this.repo.countRequeue(selection, unscoped ? REQUEUE_UNSCOPED_MAX : null);
    if (unscoped && matched > REQUEUE_UNSCOPED_MAX) {
      throw new AppError(
        'VALIDATION_FAILED',
        `More than ${REQUEUE_UNSCOPED_MAX} events would be requeued: name them in event_ids or choose a kind`,
        [
          {
            field: 'event_ids',
            message: `give event_ids or kind to requeue more than ${REQUEUE_UNSCOPED_MAX}`,
          },
        ],
      );
    }
    if (request.dryRun) return { matched, requeued: 0 };
    const requeued = await this.repo.requeue(selection);
    // Every instance's processor polls for pending events, so they are picked up without a wake-up.
    if (requeued > 0) this.logger.log({ msg: 'Dead letters requeued', count: requeued });
    return { matched, requeued };
  }

  /**
   * Every event matching the list's filters, oldest first, handed to `write` in batches read one after the other
   * (keyset on `sequence`): memory holds one batch, and `write` resolving is the backpressure (the next batch is
   * read only once the previous one is written). Stops early when `write` returns false.
   */
  async exportEvents(
    filter: EventFilter,
    write: (rows: StoredEventRow[]) => Promise<boolean>,
  ): Promise<number> {
    const workflows = new Map<string, WorkflowRef | null>();
    for (const ref of workflowRefsOf(filter)) workflows.set(ref, await this.workflows.resolve(ref));
    const includePayload = filter.include_payload === true;
    const batchSize = includePayload ? PAYLOAD_PAGE_MAX_EVENTS : EXPORT_BATCH;
    let after: string | null = null;
    let total = 0;
    for (;;) {
      let rows: StoredEventRow[] = await this.repo.exportBatch<StoredEventRow>(
        buildExportBatchQuery(filter, workflows, after, batchSize),
      );
      if (rows.length === 0) return total;
      const fetched = rows.length;
      if (includePayload) {
        rows = rows.slice(0, rowsWithinPayloadBudget(rows));
        const payloads = await this.repo.exportPayloads(rows.map((row) => row.id));
        for (const row of rows) row.payload = payloads.get(row.id);
      }
      total += rows.length;
      after = rows[rows.length - 1].sequence;
      if (!(await write(rows))) return total;
      if (fetched < batchSize && rows.length === fetched) return total;
    }
  }
}

/** The rejected list's cursor: the last row's key, as base64url JSON. */
function rejectedCursor(row: RejectedDeliveryRow): string {
  return Buffer.from(JSON.stringify([row.bucket.toISOString(), row.reason, row.client_ip])).toString(
    'base64url',
  );
}

export function rejectedCursorOf(value: string): { bucket: Date; reason: string; clientIp: string } | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((v) => typeof v === 'string'))
      return null;
    const [bucket, reason, clientIp] = parsed;
    const time = new Date(bucket);
    // Only a time PostgreSQL stores (years 1–9999), so a crafted cursor is a 400, never a database error.
    const year = time.getUTCFullYear();
    if (Number.isNaN(time.getTime()) || year < 1 || year > 9999) return null;
    return { bucket: time, reason, clientIp };
  } catch {
    return null;
  }
}
