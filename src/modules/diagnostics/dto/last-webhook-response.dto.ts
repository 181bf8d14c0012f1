import { ApiProperty } from '@nestjs/swagger';

/** One stored OPAL callback, as diagnostics shows it. */
export class DiagnosticEventDto {
  /** The stored event's id (also answered by the receiver as `event_id`). */
  event_id: string;
  /** Global receive order; the pagination cursor. */
  sequence: number;
  @ApiProperty({
    enum: ['workflow_started', 'agent_started', 'agent_completed', 'workflow_completed', 'workflow_failed'],
  })
  event_type: string;
  /** The `workflow_id` field as received: OPAL's workflow id or the service's sync id. */
  workflow_id: string;
  /** The workflow the event was matched to; null while unmatched. */
  sync_id: string | null;
  workflow_name: string | null;
  agent_id: string | null;
  @ApiProperty({ enum: ['success', 'failed', 'pending'] })
  status: string;
  @ApiProperty({ enum: ['success', 'failure', 'pending', 'timeout'], nullable: true })
  execution_status: string | null;
  received_at: string;
  processed_at: string | null;
  @ApiProperty({ enum: ['pending', 'processed', 'unmatched', 'failed'] })
  processing_status: string;
  /** Milliseconds from receipt until the event was applied. */
  processing_time_ms: number | null;
  /** Always true: only events whose signature verified are stored. */
  signature_valid: boolean;
  correlation_id: string | null;
  error_message: string | null;
  /** The stored event body; only with `include_payload=true`. */
  payload?: Record<string, unknown>;
}

export class DiagnosticsPaginationDto {
  limit: number;
  /** Pass as `before` to get the next (older) page; null on the last page. */
  next_before: string | null;
}

export class DiagnosticsSummaryDto {
  /** Events matching the filters (all pages); null when the database is unreachable. */
  matched_count: number | null;
  /** True when `matched_count` stopped counting at the cap (it is then a lower bound). */
  matched_count_capped: boolean;
  returned_count: number;
}

export class SystemHealthDto {
  @ApiProperty({ enum: ['healthy', 'degraded', 'unhealthy'] })
  webhook_status: 'healthy' | 'degraded' | 'unhealthy';
  /** Percent of the last hour's events that failed (event status failed or processing failed). */
  recent_failure_rate: number | null;
  /** Mean processing time in ms of the last hour's processed events; null when there were none. */
  avg_processing_time: number | null;
  /** 95th percentile processing time in ms, same events. */
  p95_processing_time: number | null;
  last_webhook_at: string | null;
  /** Events stored but not yet processed. */
  processing_backlog: number | null;
  /** Percent of the last hour's deliveries rejected for a bad signature. */
  signature_failure_rate: number | null;
  /** Percent of force syncs / triggers accepted by OPAL in the alert window (100 when none finished). */
  force_sync_success_rate: number | null;
  @ApiProperty({ enum: ['up', 'down'] })
  database: 'up' | 'down';
}

export class AlertDto {
  @ApiProperty({ enum: ['critical', 'warning'] })
  severity: 'critical' | 'warning';
  @ApiProperty({
    enum: [
      'force_sync_success_rate',
      'no_webhook_events',
      'database_unreachable',
      'auth_failures',
      'force_sync_response_time',
      'processing_backlog',
      'signature_failure_rate',
    ],
  })
  rule: string;
  message: string;
  value: number | string | null;
  threshold: number | null;
}

export class LastWebhookResponseDto {
  /** Newest first. */
  events: DiagnosticEventDto[];
  pagination: DiagnosticsPaginationDto;
  summary: DiagnosticsSummaryDto;
  system_health: SystemHealthDto;
  /** Alert rules firing now. */
  alerts: AlertDto[];
}
