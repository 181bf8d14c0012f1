import { Catch, Injectable, Logger, type ArgumentsHost } from '@nestjs/common';
import { AllExceptionsFilter } from '../../common/all-exceptions.filter';
import { AppError, type ErrorCode } from '../../common/app-error';
import type { RejectionReason } from '../../domain/events';
import { MetricsService } from '../../metrics/metrics.service';
import { WebhookEventsRepository } from './webhook-events.repository';
import type { WebhookRequest } from './webhook-signature.guard';

/**
 * The receiver's error filter: a delivery refused for its signature or its body (too large included: the
 * signature guard reads it) is counted and recorded (bounded, no body) before the usual error body is sent.
 * Everything else answers as everywhere else.
 */
@Catch()
@Injectable()
export class WebhookRejectionFilter extends AllExceptionsFilter {
  private readonly rejectionLogger = new Logger('WebhookReceiver');

  constructor(
    private readonly events: WebhookEventsRepository,
    private readonly metrics: MetricsService,
  ) {
    super();
  }

  override catch(exception: unknown, host: ArgumentsHost): void {
    const reason = rejectionReasonOf(exception);
    if (reason === null) return super.catch(exception, host);
    const req = host.switchToHttp().getRequest<WebhookRequest>();
    this.metrics.webhookEvents.inc({ result: 'rejected', reason });
    void this.events
      .recordRejection(reason, req.ip, detailOf(exception, req))
      .catch((error: unknown) =>
        this.rejectionLogger.error({ msg: 'Could not record a rejected delivery', reason, error }),
      )
      .finally(() => super.catch(exception, host));
  }
}

const REJECTION_REASONS: Partial<Record<ErrorCode, RejectionReason>> = {
  WEBHOOK_SIGNATURE_INVALID: 'signature_invalid',
  INVALID_JSON: 'body_invalid',
  VALIDATION_FAILED: 'body_invalid',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported_media_type',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  WORKFLOW_NOT_ALLOWED: 'workflow_not_allowed',
};

function rejectionReasonOf(exception: unknown): RejectionReason | null {
  if (!(exception instanceof AppError)) return null;
  return REJECTION_REASONS[exception.code] ?? null;
}

/** A short reason: the failed signature check, or the invalid field names. Never body or header values. */
function detailOf(exception: unknown, req: WebhookRequest): string {
  if (!(exception instanceof AppError)) return 'rejected';
  if (exception.code === 'WEBHOOK_SIGNATURE_INVALID') return req.signatureFailure ?? 'signature_invalid';
  const fields = [
    ...new Set((exception.details ?? []).map((d) => d.field).filter((f) => typeof f === 'string')),
  ];
  return fields.length > 0 ? `${exception.code}: ${fields.join(', ')}` : exception.code;
}
