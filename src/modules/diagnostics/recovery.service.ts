import { Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { AppError } from '../../common/app-error';
import type { AuditActor } from '../../common/audit-actor';
import { AuditService } from '../../audit/audit.service';
import { syncStatusPath } from '../../domain/routes';
import {
  WebhookEventsService,
  type DeadLetterEventRow,
  type RejectedDeliveryRow,
  type StoredEventRow,
} from '../webhooks/webhook-events.service';
import { WorkflowsService } from '../workflows/workflows.service';
import { toDiagnosticEvent } from './diagnostics.service';
import type {
  DeadLettersQueryDto,
  DeadLettersResponseDto,
  ExportEventsQueryDto,
  RequeueRequestDto,
  RequeueResponseDto,
  StoredEventDto,
} from './dto/recovery.dto';

/** The columns of the CSV export, in order: the fields of a diagnostics event. */
const CSV_COLUMNS = [
  'event_id',
  'sequence',
  'event_type',
  'workflow_id',
  'sync_id',
  'workflow_name',
  'agent_id',
  'status',
  'execution_status',
  'received_at',
  'processed_at',
  'processing_status',
  'processing_time_ms',
  'signature_valid',
  'correlation_id',
  'error_message',
] as const;

/**
 * The runbook's recovery tools, through the owners' services: an event by either of its ids, the dead-letter
 * inbox and its requeue, and the export of the diagnostics selection.
 */
@Injectable()
export class RecoveryService {
  private readonly logger = new Logger('Recovery');

  constructor(
    private readonly events: WebhookEventsService,
    private readonly workflows: WorkflowsService,
    private readonly audit: AuditService,
  ) {}

  /** One stored event by the service's id or the sender's `event_id`; 404 EVENT_NOT_FOUND. */
  async event(ref: string): Promise<StoredEventDto> {
    const row = await this.events.findEvent(ref);
    if (!row) throw new AppError('EVENT_NOT_FOUND', 'No stored event with this id');
    const workflow = row.sync_id === null ? null : await this.workflows.brief(row.sync_id);
    return {
      event_id: row.id,
      source_event_id: row.source_event_id,
      sequence: Number(row.sequence),
      event_type: row.event_type,
      raw_event_type: row.raw_event_type,
      workflow_id: row.workflow_ref,
      sync_id: row.sync_id,
      workflow_name: row.workflow_name,
      agent_id: row.agent_id,
      status: row.status,
      execution_status: row.execution_status,
      correlation_id: row.correlation_id,
      error_message: row.error_message,
      occurred_at: row.occurred_at.toISOString(),
      received_at: row.received_at.toISOString(),
      processed_at: row.processed_at ? row.processed_at.toISOString() : null,
      processing_status: row.processing_status,
      processing_time_ms: row.processing_time_ms,
      processing_error: row.processing_error,
      payload: row.payload,
      workflow: workflow && {
        sync_id: workflow.id,
        status: workflow.status,
        correlation_id: workflow.correlationId,
        opal_workflow_id: workflow.opalWorkflowId,
        status_url: syncStatusPath(workflow.id),
      },
    };
  }

  /** One page of the dead-letter inbox. */
  async deadLetters(query: DeadLettersQueryDto): Promise<DeadLettersResponseDto> {
    const limit = query.limit ?? 25;
    const page = await this.events.deadLetters(query.kind, limit, query.before ?? null);
    const pagination = { limit, next_before: page.nextBefore };
    return page.kind === 'rejected'
      ? { kind: page.kind, rejected: page.rows.map(toRejection), pagination }
      : { kind: page.kind, events: page.rows.map(toDeadLetterEvent), pagination };
  }

  /** Puts dead letters back into processing (or counts them, with dry_run). Audited. */
  async requeue(body: RequeueRequestDto, actor: AuditActor): Promise<RequeueResponseDto> {
    const dryRun = body.dry_run ?? false;
    const result = await this.events.requeue({
      eventIds: body.event_ids ?? null,
      kind: body.kind ?? null,
      dryRun,
    });
    await this.audit.record({
      action: 'requeue',
      ...actor,
      details: {
        kind: body.kind ?? null,
        event_ids: body.event_ids?.length ?? null,
        dry_run: dryRun,
        matched: result.matched,
        requeued: result.requeued,
      },
    });
    return { success: true, dry_run: dryRun, ...result };
  }

  /**
   * Streams every event matching the filters, oldest first, as NDJSON or CSV. Batches are read one after the
   * other and the next is read only once the previous one is handed to the socket (backpressure), so memory holds
   * one batch whatever the size. An error before the first byte is answered with the error body; after it, the
   * connection is cut (the caller sees an incomplete download, never a partial file passed off as whole).
   * Audited when it ends, with the number of events sent.
   */
  async exportEvents(query: ExportEventsQueryDto, res: Response, actor: AuditActor): Promise<void> {
    const format = query.format ?? 'ndjson';
    const includePayload = query.include_payload === true;
    const columns = includePayload ? [...CSV_COLUMNS, 'payload'] : [...CSV_COLUMNS];
    let started = false;
    let exported = 0;
    const start = () => {
      if (started) return;
      started = true;
      res.status(200);
      res.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
      res.setHeader('Content-Disposition', `attachment; filename="events.${format}"`);
      res.setHeader('Cache-Control', 'no-store');
      if (format === 'csv') res.write(`${columns.join(',')}\r\n`);
    };
    const record = (complete: boolean) =>
      this.audit
        .record({
          action: 'export',
          ...actor,
          details: { format, filters: filtersOf(query), exported, complete },
        })
        .catch((error: unknown) => this.logger.warn({ msg: 'Export audit record failed', error }));
    try {
      exported = await this.events.exportEvents(query, (rows: StoredEventRow[]) => {
        start();
        let chunk = '';
        for (const row of rows) {
          const event = toDiagnosticEvent(row, includePayload) as unknown as Record<string, unknown>;
          chunk +=
            format === 'csv'
              ? `${columns.map((c) => csvCell(event[c])).join(',')}\r\n`
              : `${JSON.stringify(event)}\n`;
        }
        return writeWithBackpressure(res, chunk);
      });
    } catch (error) {
      await record(false);
      if (!started) throw error;
      this.logger.error({ msg: 'Export cut short', error, exported });
      res.destroy();
      return;
    }
    start();
    // Recorded before the end of the answer, so that the record exists once the caller has the whole file.
    await record(!res.destroyed);
    res.end();
  }
}

function filtersOf(query: ExportEventsQueryDto): Record<string, unknown> {
  const { format: _format, ...filters } = query;
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined));
}

/** Resolves true once the chunk is handed over (at once, or after `drain`); false when the client went away. */
function writeWithBackpressure(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (value: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(value);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. Text that a spreadsheet would run
 * as a formula (starting with = + - @, tab or carriage return) gets a leading apostrophe.
 */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function toDeadLetterEvent(row: DeadLetterEventRow): NonNullable<DeadLettersResponseDto['events']>[number] {
  return {
    event_id: row.id,
    source_event_id: row.source_event_id,
    sequence: Number(row.sequence),
    event_type: row.event_type,
    workflow_id: row.workflow_ref,
    sync_id: row.sync_id,
    agent_id: row.agent_id,
    correlation_id: row.correlation_id,
    received_at: row.received_at.toISOString(),
    processed_at: row.processed_at ? row.processed_at.toISOString() : null,
    processing_status: row.processing_status,
    processing_error: row.processing_error,
  };
}

function toRejection(row: RejectedDeliveryRow): NonNullable<DeadLettersResponseDto['rejected']>[number] {
  return {
    minute: row.bucket.toISOString(),
    reason: row.reason,
    client_ip: row.client_ip,
    count: row.count,
    first_seen: row.first_at.toISOString(),
    last_seen: row.last_at.toISOString(),
    detail: row.last_detail,
  };
}
