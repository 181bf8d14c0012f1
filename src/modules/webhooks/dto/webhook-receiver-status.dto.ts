import { ApiProperty } from '@nestjs/swagger';

export class SignatureSchemeDto {
  /** The header that carries the signature. */
  header: string;
  /** Its format. */
  format: string;
  /** Maximum age of the signed timestamp (`WEBHOOK_TOLERANCE_SECONDS`). */
  tolerance_seconds: number;
}

export class ReceiverActivityDto {
  /** Events stored in the last 24 hours. */
  events_24h: number;
  /** Events of the last 24 hours whose processing failed. */
  failed_24h: number;
  /** Deliveries refused in the last 24 hours (signature, body, content type, workflow name). */
  rejected_24h: number;
  /** When the last event was received (ISO-8601), or null. */
  @ApiProperty({ type: String, nullable: true, format: 'date-time' })
  last_event_at: string | null;
  /** Failed signatures in the last hour, percent of all signed deliveries (stored events + failures). */
  signature_failure_rate_1h: number;
}

/** The receiver's status: counts only, no event content. */
export class WebhookReceiverStatusDto {
  /**
   * `unhealthy` when at least half of the last hour's deliveries failed their signature or half of its events
   * failed processing; `degraded` when the signature failure rate is above ALERT_SIGNATURE_FAILURE_RATE, an
   * event failed processing in the last hour, or an event waits unprocessed for more than 60 s.
   */
  @ApiProperty({ enum: ['healthy', 'degraded', 'unhealthy'] })
  status: 'healthy' | 'degraded' | 'unhealthy';
  signature_scheme: SignatureSchemeDto;
  recent_activity: ReceiverActivityDto;
}
