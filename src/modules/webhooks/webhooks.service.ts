import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError } from '../../common/app-error';
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

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly processor: EventProcessorService,
  ) {}

  /**
   * One INSERT, committed before the answer; the unique index on the idempotency key decides between
   * concurrent duplicates, so at most one of them is stored and the others get 409 naming it.
   */
  async ingest(event: ParsedWebhookEvent): Promise<WebhookAcceptedDto> {
    const id = randomUUID();
    const inserted: { id: string; sequence: string }[] = await this.dataSource.query(
      `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                                   workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                                   error_message, occurred_at, received_at, processing_status, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, COALESCE($13::timestamptz, now()), now(),
               'pending', $14::jsonb)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, sequence`,
      [
        id,
        event.idempotencyKey,
        event.sourceEventId,
        event.eventType,
        event.rawEventType,
        event.workflowRef,
        event.workflowName,
        event.agentId,
        event.executionStatus,
        event.status,
        event.correlationId,
        event.errorMessage,
        event.occurredAt,
        JSON.stringify(event.payload),
      ],
    );
    if (inserted.length === 0) {
      this.metrics.webhookEvents.inc({ result: 'duplicate' });
      const stored: { id: string }[] = await this.dataSource.query(
        `SELECT id FROM webhook_events WHERE idempotency_key = $1`,
        [event.idempotencyKey],
      );
      this.logger.log({
        msg: 'Duplicate webhook event',
        event_type: event.eventType,
        stored_event_id: stored[0]?.id ?? null,
      });
      throw new AppError('WEBHOOK_DUPLICATE_EVENT', 'This event was already received', [
        { event_id: stored[0]?.id ?? null },
      ]);
    }
    this.metrics.webhookEvents.inc({ result: 'accepted' });
    this.logger.log({
      msg: 'Webhook event stored',
      event_id: id,
      sequence: inserted[0].sequence,
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
