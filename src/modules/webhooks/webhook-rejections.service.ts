import { Injectable, Logger } from '@nestjs/common';
import type { ErrorRequestHandler } from 'express';
import type { RejectionReason } from '../../domain/events';
import { WEBHOOK_PATH } from '../../domain/routes';
import { MetricsService } from '../../metrics/metrics.service';
import { WebhookEventsRepository } from './webhook-events.repository';

/**
 * Refused deliveries to the receiver: counted (`webhook_events_total{result="rejected",reason}`) and recorded
 * as one counter row per minute, reason and client address, with a short reason and never a body or a
 * signature. Refusals inside Nest come through `WebhookRejectionFilter`; a body too large is refused before
 * Nest's router (while it is read) and comes through `oversizedBodies`.
 */
@Injectable()
export class WebhookRejectionsService {
  private readonly logger = new Logger('WebhookReceiver');

  constructor(
    private readonly repo: WebhookEventsRepository,
    private readonly metrics: MetricsService,
  ) {}

  /** Counts and records one refused delivery; never throws (a failed record is logged). */
  async record(reason: RejectionReason, clientIp: string | undefined, detail: string | null): Promise<void> {
    this.metrics.webhookEvents.inc({ result: 'rejected', reason });
    await this.repo
      .recordRejection(reason, clientIp, detail)
      .catch((error: unknown) =>
        this.logger.error({ msg: 'Could not record a rejected delivery', reason, error }),
      );
  }

  /**
   * Express error middleware, installed before the one that answers errors: a delivery to the receiver whose
   * body is over its limit is recorded (`payload_too_large`) before the 413 is sent.
   */
  oversizedBodies(): ErrorRequestHandler {
    return (error: unknown, req, _res, next) => {
      const type = (error as { type?: unknown } | null)?.type;
      if (req.path !== WEBHOOK_PATH || type !== 'entity.too.large') return next(error);
      void this.record('payload_too_large', req.ip, 'PAYLOAD_TOO_LARGE').finally(() => next(error));
    };
  }
}
