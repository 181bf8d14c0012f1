import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../common/app-error';
import { GroupCommitter, type ItemOutcome } from '../../common/group-commit';
import { RequestContext } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import type { WebhookAcceptedDto } from './dto/webhook-accepted.dto';
import type { WebhookReceiverStatusDto } from './dto/webhook-receiver-status.dto';
import { EventProcessorService } from './event-processor.service';
import { signatureFailureRate } from './webhook-events.service';
import { WebhookEventsRepository, type NewEventRow } from './webhook-events.repository';
import type { ParsedWebhookEvent } from './webhook-event.parser';

/** Above this share of failed signatures (percent, last hour) the receiver reports itself unhealthy. */
const UNHEALTHY_SIGNATURE_FAILURE_PERCENT = 50;
/** Above this share of events whose processing failed (percent, last hour) the receiver is unhealthy. */
const UNHEALTHY_PROCESSING_FAILURE_PERCENT = 50;

/** Most events written in one INSERT, and most payload bytes (a payload may be up to 1 MiB). */
const INSERT_BATCH_MAX_EVENTS = 64;
const INSERT_BATCH_MAX_BYTES = 4 * 1024 * 1024;

/** What became of one delivery: stored now, or a duplicate of a stored event (its id, when known). */
type StoredEvent = { stored: true; sequence: string } | { stored: false; storedId: string | null };

/** Stores signed callbacks (idempotently, before answering) and reports on the receiver. */
@Injectable()
export class WebhooksService {
  private readonly logger = new Logger('WebhookReceiver');

  private readonly inserts: GroupCommitter<NewEventRow, StoredEvent>;

  constructor(
    private readonly repo: WebhookEventsRepository,
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
    if (!stored.stored) {
      this.metrics.webhookEvents.inc({ result: 'duplicate' });
      // Known from the insert, unless another transaction stored the event while the insert ran.
      const storedId = stored.storedId ?? (await this.repo.idOfKey(event.idempotencyKey));
      this.logger.log({
        msg: 'Duplicate webhook event',
        event_type: event.eventType,
        stored_event_id: storedId,
      });
      throw new AppError('WEBHOOK_DUPLICATE_EVENT', 'This event was already received', [
        { event_id: storedId },
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
   * event with a key is inserted and the later ones are duplicates of it. If the statement fails, each event is
   * written on its own, so one unstorable event (e.g. text PostgreSQL refuses) fails alone.
   */
  private async insertBatch(items: readonly NewEventRow[]): Promise<ItemOutcome<StoredEvent>[]> {
    const firstWithKey = new Map<string, number>();
    const unique: NewEventRow[] = [];
    items.forEach((item, index) => {
      if (!firstWithKey.has(item.event.idempotencyKey)) {
        firstWithKey.set(item.event.idempotencyKey, index);
        unique.push(item);
      }
    });
    let written: Awaited<ReturnType<WebhookEventsRepository['insert']>>;
    try {
      written = await this.repo.insert(unique);
    } catch (error) {
      if (items.length === 1) return [{ ok: false, error }];
      return Promise.all(items.map(async (item) => (await this.insertBatch([item]))[0]));
    }
    return items.map((item, index) => {
      const key = item.event.idempotencyKey;
      const firstIndex = firstWithKey.get(key) ?? index;
      const sequence = written.sequences.get(item.id);
      if (firstIndex === index && sequence !== undefined)
        return { ok: true, value: { stored: true, sequence } };
      const first = items[firstIndex];
      const storedId = written.sequences.has(first.id)
        ? first.id
        : (written.storedIdsOfSkippedKeys.get(key) ?? null);
      return { ok: true, value: { stored: false, storedId } };
    });
  }

  /** Counts only (no event content): the delivery figures of the last hour and the counts of the last day. */
  async receiverStatus(): Promise<WebhookReceiverStatusDto> {
    const [hour, day] = await Promise.all([this.repo.deliveryFigures(), this.repo.dayFigures()]);
    const signatureRate = signatureFailureRate(hour);
    const processingFailureRate =
      hour.eventsLastHour === 0 ? 0 : (100 * hour.processingFailedLastHour) / hour.eventsLastHour;

    let status: WebhookReceiverStatusDto['status'] = 'healthy';
    if (
      signatureRate >= UNHEALTHY_SIGNATURE_FAILURE_PERCENT ||
      processingFailureRate >= UNHEALTHY_PROCESSING_FAILURE_PERCENT
    ) {
      status = 'unhealthy';
    } else if (
      signatureRate > this.config.alerts.signatureFailureRatePercent ||
      hour.processingFailedLastHour > 0 ||
      hour.stalePending > 0
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
        events_24h: day.events,
        failed_24h: day.failed,
        rejected_24h: day.rejected,
        last_event_at: hour.lastWebhookAt ? new Date(hour.lastWebhookAt).toISOString() : null,
        signature_failure_rate_1h: signatureRate,
      },
    };
  }
}
