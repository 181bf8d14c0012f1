import { ApiProperty } from '@nestjs/swagger';
import { EVENT_STATUSES, EVENT_TYPES, EXECUTION_STATUSES } from '../../../domain/events';

/** One stored OPAL callback, as diagnostics shows it. */
export class DiagnosticEventDto {
  /**
   * The stored event's id (also answered by the receiver as `event_id`).
   * @example "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"
   */
  event_id: string;
  /**
   * Global receive order; the pagination cursor.
   * @example 1042
   */
  sequence: number;
  /** The event's type. */
  @ApiProperty({ enum: EVENT_TYPES, enumName: 'EventType' })
  event_type: string;
  /**
   * The `workflow_id` field as received: OPAL's workflow id or the service's sync id.
   * @example "opal-wf-7f3c2a91"
   */
  workflow_id: string;
  /**
   * The workflow the event was matched to; null while unmatched.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  sync_id: string | null;
  /**
   * The `workflow_name` field as received.
   * @example "strategy_workflow"
   */
  workflow_name: string | null;
  /**
   * The agent of an `agent_*` event; null for workflow events.
   * @example "content_review"
   */
  agent_id: string | null;
  /** `success`, `failed` or `pending`, derived from the type and execution status. */
  @ApiProperty({ enum: EVENT_STATUSES, enumName: 'EventStatus' })
  status: string;
  /** The agent's execution status as received. */
  @ApiProperty({ enum: EXECUTION_STATUSES, nullable: true })
  execution_status: string | null;
  /**
   * When the event was stored (ISO-8601).
   * @example "2026-03-02T10:15:30.000Z"
   */
  received_at: string;
  /**
   * When the event was applied (ISO-8601); null while pending.
   * @example "2026-03-02T10:15:30.042Z"
   */
  processed_at: string | null;
  /** Whether the event was applied to a workflow. */
  @ApiProperty({ enum: ['pending', 'processed', 'unmatched', 'failed'], enumName: 'ProcessingStatus' })
  processing_status: string;
  /**
   * Milliseconds from receipt until the event was applied.
   * @example 42
   */
  processing_time_ms: number | null;
  /** Always true: only events whose signature verified are stored. */
  signature_valid: boolean;
  /**
   * The event's correlation id.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  correlation_id: string | null;
  /**
   * The failure reported by OPAL or met while processing.
   * @example "content_review did not finish within 10 minutes"
   */
  error_message: string | null;
  /**
   * The stored event body; only with `include_payload=true`.
   * @example {"event_type":"agent_completed","agent_id":"content_review"}
   */
  payload?: Record<string, unknown>;
}

export class DiagnosticsPaginationDto {
  /**
   * The page size used.
   * @example 25
   */
  limit: number;
  /**
   * Pass as `before` to get the next (older) page; null on the last page.
   * @example "1017"
   */
  next_before: string | null;
}

export class DiagnosticsSummaryDto {
  /**
   * Events matching the filters (all pages); null when the database is unreachable.
   * @example 132
   */
  matched_count: number | null;
  /** True when `matched_count` stopped counting at the cap (it is then a lower bound). */
  matched_count_capped: boolean;
  /**
   * Events on this page.
   * @example 25
   */
  returned_count: number;
}

export class SystemHealthDto {
  /** The receiver's overall state. */
  @ApiProperty({ enum: ['healthy', 'degraded', 'unhealthy'], enumName: 'ReceiverHealth' })
  webhook_status: 'healthy' | 'degraded' | 'unhealthy';
  /**
   * Percent of the last hour's events that failed (event status failed or processing failed).
   * @example 0
   */
  recent_failure_rate: number | null;
  /**
   * Mean processing time in ms of the last hour's processed events; null when there were none.
   * @example 38.5
   */
  avg_processing_time: number | null;
  /**
   * 95th percentile processing time in ms, same events.
   * @example 120
   */
  p95_processing_time: number | null;
  /**
   * When the last event was received (ISO-8601).
   * @example "2026-03-02T10:15:30.000Z"
   */
  last_webhook_at: string | null;
  /**
   * Events stored but not yet processed.
   * @example 0
   */
  processing_backlog: number | null;
  /**
   * Percent of the last hour's deliveries rejected for a bad signature.
   * @example 0
   */
  signature_failure_rate: number | null;
  /**
   * Percent of force syncs / triggers accepted by OPAL in the alert window (100 when none finished).
   * @example 100
   */
  force_sync_success_rate: number | null;
  /**
   * Percent of the workflows that finished in the last 24 hours that completed (failed, partially completed,
   * timed out and trigger_failed count against it); null when none finished.
   * @example 96.5
   */
  workflow_success_rate: number | null;
  /**
   * Percent of the agent runs that finished in the last 24 hours that completed (failed and timed out count
   * against it); null when none finished.
   * @example 98.9
   */
  agent_success_rate: number | null;
  /**
   * 95th percentile in ms of creation → terminal status, over the workflows that finished in the last 24 hours;
   * null when none finished.
   * @example 312000
   */
  p95_workflow_duration_ms: number | null;
  /** Whether the database answered. */
  @ApiProperty({ enum: ['up', 'down'], enumName: 'DatabaseState' })
  database: 'up' | 'down';
}

export class AlertDto {
  /** How urgent the alert is. */
  @ApiProperty({ enum: ['critical', 'warning'], enumName: 'AlertSeverity' })
  severity: 'critical' | 'warning';
  /** The alert rule (see the runbook). */
  @ApiProperty({
    enum: [
      'force_sync_success_rate',
      'no_webhook_events',
      'database_unreachable',
      'auth_failures',
      'force_sync_response_time',
      'processing_backlog',
      'signature_failure_rate',
      'workflow_success_rate',
      'agent_success_rate',
      'workflow_duration_p95',
      'event_processing_success_rate',
    ],
    enumName: 'AlertRule',
  })
  rule: string;
  /**
   * What is wrong, for a person.
   * @example "No webhook events received for 30 minutes"
   */
  message: string;
  /**
   * The measured value.
   * @example 35
   */
  @ApiProperty({
    anyOf: [
      { type: 'number', nullable: true },
      { type: 'string', nullable: true },
    ],
  })
  value: number | string | null;
  /**
   * The threshold crossed; null for rules without one.
   * @example 30
   */
  threshold: number | null;
}

export class LastWebhookResponseDto {
  /** Newest first. */
  events: DiagnosticEventDto[];
  /** Paging of `events`. */
  pagination: DiagnosticsPaginationDto;
  /** Counts for the filters. */
  summary: DiagnosticsSummaryDto;
  /** Figures of the last hour. */
  system_health: SystemHealthDto;
  /** Alert rules firing now. */
  alerts: AlertDto[];
}
