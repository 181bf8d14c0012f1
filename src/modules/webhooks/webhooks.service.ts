import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError } from '../../common/app-error';
import { GroupCommitter, type ItemOutcome } from '../../common/group-commit';
import { RequestContext } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import type { WebhookAcceptedDto } from './dto/webhook-accepted.dto';
import type { WebhookReceiverStatusDto } from './dto/webhook-receiver-status.dto';
import { EventProcessorService } from './event-processor.service';
import type { ParsedWebhookEvent } from './webhook-event.parser';

/** Above this share of failed signatures (percent, last hour) the receiver reports itself unhealthy. */
const UNHEALTHY_SIGNATURE_FAILURE_PERCENT = 50;
/** Above this share of events whose processing failed (percent, last hour) the receiver is unhealthy. */
const UNHEALTHY_PROCESSING_FAILURE_PERCENT = 50;
/** An event still unprocessed after this long means processing is stuck or behind. */
const STALE_PENDING_SECONDS = 60;

/** Most events written in one INSERT, and most payload bytes (a payload may be up to 1 MiB). */
const INSERT_BATCH_MAX_EVENTS = 64;
const INSERT_BATCH_MAX_BYTES = 4 * 1024 * 1024;

interface PendingInsert {
  id: string;
  event: ParsedWebhookEvent;
  payloadJson: string;
}

/** null: a duplicate of a stored event. */
interface StoredEvent {
  sequence: string;
}

interface ActivityRow {
  events_24h: number;
  failed_24h: number;
  rejected_24h: number;
  last_event_at: Date | null;
  events_1h: number;
  failed_1h: number;
  signature_failures_1h: number;
  stale_pending: number;
}

/** Stores signed callbacks (idempotently, before answering) and reports on the receiver. */
@Injectable()
export class WebhooksService {
  private readonly logger = new Logger('WebhookReceiver');

  private readonly inserts: GroupCommitter<PendingInsert, StoredEvent | null>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly processor: EventProcessorService,
  ) {
    this.inserts = new GroupCommitter(
      {
        maxBatch: INSERT_BATCH_MAX_EVENTS,
        maxBatchBytes: INSERT_BATCH_MAX_BYTES,
        sizeOf: (item) => item.payloadJson.length,
        // Leaves connections for processing, dispatching and operators' reads.
        maxInFlight: Math.max(1, Math.floor(config.dbPoolSize / 5)),
      },
      (items) => this.insertBatch(items),
    );
  }

  /**
   * Stored and committed before the answer. Concurrent deliveries are written together (group commit: one
   * INSERT and one commit for every event that arrived while the previous batch was being written), which is
   * what lets one instance keep up with OPAL's bursts. The unique index on the idempotency key decides between
   * concurrent duplicates, on this instance or another, so at most one of them is stored and the others get 409
   * naming it.
   */
  async ingest(event: ParsedWebhookEvent): Promise<WebhookAcceptedDto> {
    const id = randomUUID();
    const stored = await this.inserts.submit({ id, event, payloadJson: JSON.stringify(event.payload) });
    if (stored === null) {
      this.metrics.webhookEvents.inc({ result: 'duplicate' });
      const existing: { id: string }[] = await this.dataSource.query(
        `SELECT id FROM webhook_events WHERE idempotency_key = $1`,
        [event.idempotencyKey],
      );
      this.logger.log({
        msg: 'Duplicate webhook event',
        event_type: event.eventType,
        stored_event_id: existing[0]?.id ?? null,
      });
      throw new AppError('WEBHOOK_DUPLICATE_EVENT', 'This event was already received', [
        { event_id: existing[0]?.id ?? null },
      ]);
    }
    this.metrics.webhookEvents.inc({ result: 'accepted' });
    // One log line per delivery: the request's access line (status 202) names the stored event.
    RequestContext.annotate({
      event_id: id,
      sequence: stored.sequence,
      event_type: event.eventType,
      agent_id: event.agentId,
      workflow_ref: event.workflowRef,
    });
    this.processor.kick();
    return {
      success: true,
      event_id: id,
      correlation_id: event.correlationId ?? RequestContext.correlationId() ?? null,
      processing: { status: 'queued' },
    };
  }

  /**
   * Writes a batch in one statement (rows in arrival order, so `sequence` follows it). Within a batch the first
   * event with a key is inserted and the later ones are duplicates. If the statement fails, each event is
   * written on its own, so one unstorable event (e.g. text PostgreSQL refuses) fails alone.
   */
  private async insertBatch(items: readonly PendingInsert[]): Promise<ItemOutcome<StoredEvent | null>[]> {
    const firstWithKey = new Map<string, number>();
    const unique: PendingInsert[] = [];
    items.forEach((item, index) => {
      if (!firstWithKey.has(item.event.idempotencyKey)) {
        firstWithKey.set(item.event.idempotencyKey, index);
        unique.push(item);
      }
    });
    let sequences: Map<string, string>;
    try {
      sequences = await this.insertRows(unique);
    } catch (error) {
      if (items.length === 1) return [{ ok: false, error }];
      return Promise.all(items.map(async (item) => (await this.insertBatch([item]))[0]));
    }
    return items.map((item, index) => {
      const sequence = sequences.get(item.id);
      const first = firstWithKey.get(item.event.idempotencyKey) === index;
      return { ok: true, value: first && sequence !== undefined ? { sequence } : null };
    });
  }

  /**
   * One INSERT … SELECT FROM unnest(…) for the rows; returns the sequence of each inserted row by id. The
   * payloads travel as one JSON array (their JSON texts joined) rather than a jsonb[] parameter, whose elements
   * the driver would have to escape character by character.
   */
  private async insertRows(items: readonly PendingInsert[]): Promise<Map<string, string>> {
    const column = <V>(pick: (event: ParsedWebhookEvent) => V): V[] => items.map((item) => pick(item.event));
    const rows: { id: string; sequence: string }[] = await this.dataSource.query(
      `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                                   workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                                   error_message, occurred_at, received_at, processing_status, payload)
       SELECT v.id, v.idempotency_key, v.source_event_id, v.event_type, v.raw_event_type, v.workflow_ref,
              v.workflow_name, NULL, v.agent_id, v.execution_status, v.status, v.correlation_id, v.error_message,
              COALESCE(v.occurred_at, now()), now(), 'pending', p.payload
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[])
              WITH ORDINALITY AS v(id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                                   workflow_name, agent_id, execution_status, status, correlation_id,
                                   error_message, occurred_at, ord)
         JOIN jsonb_array_elements($14::jsonb) WITH ORDINALITY AS p(payload, ord) ON p.ord = v.ord
        ORDER BY v.ord
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, sequence`,
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
    return new Map(rows.map((row) => [row.id, row.sequence]));
  }

  /** Counts only (no event content), computed in one query. */
  async receiverStatus(): Promise<WebhookReceiverStatusDto> {
    const [row]: ActivityRow[] = await this.dataSource.query(
      `SELECT
         (SELECT count(*)::int FROM webhook_events WHERE received_at > now() - interval '24 hours') AS events_24h,
         (SELECT count(*)::int FROM webhook_events
           WHERE received_at > now() - interval '24 hours' AND processing_status = 'failed') AS failed_24h,
         (SELECT coalesce(sum(count), 0)::int FROM rejected_deliveries
           WHERE bucket > now() - interval '24 hours') AS rejected_24h,
         (SELECT max(received_at) FROM webhook_events) AS last_event_at,
         (SELECT count(*)::int FROM webhook_events WHERE received_at > now() - interval '1 hour') AS events_1h,
         (SELECT count(*)::int FROM webhook_events
           WHERE received_at > now() - interval '1 hour' AND processing_status = 'failed') AS failed_1h,
         (SELECT coalesce(sum(count), 0)::int FROM rejected_deliveries
           WHERE bucket > now() - interval '1 hour' AND reason = 'signature_invalid') AS signature_failures_1h,
         (SELECT count(*)::int FROM webhook_events
           WHERE processing_status = 'pending' AND received_at < now() - ($1::int * interval '1 second'))
           AS stale_pending`,
      [STALE_PENDING_SECONDS],
    );
    const signatureAttempts = row.signature_failures_1h + row.events_1h;
    const signatureFailureRate =
      signatureAttempts === 0 ? 0 : round2((100 * row.signature_failures_1h) / signatureAttempts);
    const processingFailureRate = row.events_1h === 0 ? 0 : (100 * row.failed_1h) / row.events_1h;

    let status: WebhookReceiverStatusDto['status'] = 'healthy';
    if (
      signatureFailureRate >= UNHEALTHY_SIGNATURE_FAILURE_PERCENT ||
      processingFailureRate >= UNHEALTHY_PROCESSING_FAILURE_PERCENT
    ) {
      status = 'unhealthy';
    } else if (
      signatureFailureRate > this.config.alerts.signatureFailureRatePercent ||
      row.failed_1h > 0 ||
      row.stale_pending > 0
    ) {
      status = 'degraded';
    }
    return {
      status,
      signature_scheme: {
        header: 'X-OSA-Signature',
        format: 't=<ms>,v1=<hex hmac-sha256>',
        tolerance_seconds: this.config.webhook.toleranceSeconds,
      },
      recent_activity: {
        events_24h: row.events_24h,
        failed_24h: row.failed_24h,
        rejected_24h: row.rejected_24h,
        last_event_at: row.last_event_at ? new Date(row.last_event_at).toISOString() : null,
        signature_failure_rate_1h: signatureFailureRate,
      },
    };
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
