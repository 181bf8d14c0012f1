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
import { eventCursorOf } from './dto/event-cursor';
import {
  WebhookEventsRepository,
  type DeliveryFigures,
  type WorkflowEventRow,
} from './webhook-events.repository';

export type { EventFilter } from './event-search';
export type { DeliveryFigures, WorkflowEventRow } from './webhook-events.repository';

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
}
