import { ApiProperty } from '@nestjs/swagger';

export class SignatureSchemeDto {
  /**
   * The header that carries the signature.
   * @example "X-OSA-Signature"
   */
  header: string;
  /**
   * Its format.
   * @example "t=<unix ms>,v1=<hex HMAC-SHA256 of t + raw body>"
   */
  format: string;
  /**
   * Maximum age of the signed timestamp (`WEBHOOK_TOLERANCE_SECONDS`).
   * @example 300
   */
  tolerance_seconds: number;
}

export class ReceiverActivityDto {
  /**
   * Events stored in the last 24 hours.
   * @example 240
   */
  events_24h: number;
  /**
   * Events of the last 24 hours whose processing failed.
   * @example 0
   */
  failed_24h: number;
  /**
   * Deliveries refused in the last 24 hours (signature, body, content type, workflow name).
   * @example 2
   */
  rejected_24h: number;
  /**
   * When the last event was received (ISO-8601), or null.
   * @example "2026-03-02T10:15:30.000Z"
   */
  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  last_event_at: string | null;
  /**
   * Failed signatures in the last hour, percent of the hour's deliveries (stored events and refused deliveries);
   * the same figure as diagnostics' `signature_failure_rate`.
   * @example 0
   */
  signature_failure_rate_1h: number;
}

/** The receiver's status: counts only, no event content. */
export class WebhookReceiverStatusDto {
  /**
   * `unhealthy` when at least half of the last hour's deliveries failed their signature or half of its events
   * failed processing; `degraded` when the signature failure rate is above ALERT_SIGNATURE_FAILURE_RATE, an
   * event failed processing in the last hour, or an event waits unprocessed for more than 60 s.
   */
  @ApiProperty({ enum: ['healthy', 'degraded', 'unhealthy'], enumName: 'ReceiverHealth' })
  status: 'healthy' | 'degraded' | 'unhealthy';
  /** How callbacks must be signed. */
  signature_scheme: SignatureSchemeDto;
  /** Counts of recent deliveries. */
  recent_activity: ReceiverActivityDto;
}
