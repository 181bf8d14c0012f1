import { ApiProperty, OmitType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
} from 'class-validator';
import { EVENT_STATUSES, EVENT_TYPES, EXECUTION_STATUSES } from '../../../domain/events';
import { WORKFLOW_STATUSES } from '../../../domain/workflow';
import { DEAD_LETTER_KINDS } from '../../webhooks/webhook-events.service';
import { LastWebhookQueryDto } from './last-webhook-query.dto';

function toInt({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && /^-?\d{1,9}$/.test(value.trim()) ? Number(value) : value;
}

/** The workflow a stored event was linked to. */
export class LinkedWorkflowDto {
  /**
   * The workflow's sync id.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  sync_id: string;
  /** Its status now. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus' })
  status: string;
  /**
   * Its correlation id.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  correlation_id: string;
  /**
   * OPAL's id for it.
   * @example "opal-wf-7f3c2a91"
   */
  opal_workflow_id: string | null;
  /**
   * Where it is read.
   * @example "/api/opal/sync/0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  status_url: string;
}

/** `GET /api/events/{event_id}`: one stored event in full. */
export class StoredEventDto {
  /**
   * The service's id of the event.
   * @example "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"
   */
  event_id: string;
  /**
   * The sender's `event_id`, when it sent one.
   * @example "evt_01HQ3K4Z9V"
   */
  source_event_id: string | null;
  /**
   * Global receive order.
   * @example 1042
   */
  sequence: number;
  /** The event's type (normalised). */
  @ApiProperty({ enum: EVENT_TYPES, enumName: 'EventType' })
  event_type: string;
  /**
   * The `event_type` as received, before normalisation.
   * @example "agent.completed"
   */
  raw_event_type: string | null;
  /**
   * The `workflow_id` field as received.
   * @example "opal-wf-7f3c2a91"
   */
  workflow_id: string;
  /**
   * The workflow the event was linked to; null while unmatched.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  sync_id: string | null;
  /**
   * The `workflow_name` field as received.
   * @example "strategy_workflow"
   */
  workflow_name: string | null;
  /**
   * The agent of an `agent_*` event.
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
   * The event's correlation id.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  correlation_id: string | null;
  /**
   * The failure OPAL reported.
   * @example "content_review failed: upstream timeout"
   */
  error_message: string | null;
  /**
   * When the event happened, as sent (ISO-8601).
   * @example "2026-03-02T10:15:29.500Z"
   */
  occurred_at: string;
  /**
   * When it was stored (ISO-8601).
   * @example "2026-03-02T10:15:30.000Z"
   */
  received_at: string;
  /**
   * When it was applied, or when its processing failed (ISO-8601).
   * @example "2026-03-02T10:15:30.042Z"
   */
  processed_at: string | null;
  /** Whether the event was applied to a workflow (`pending`, `processed`, `unmatched`, `failed`). */
  @ApiProperty({ enum: ['pending', 'processed', 'unmatched', 'failed'], enumName: 'ProcessingStatus' })
  processing_status: string;
  /**
   * Milliseconds from receipt until applied.
   * @example 42
   */
  processing_time_ms: number | null;
  /**
   * Why its processing failed (kept until it is processed again).
   * @example "deadlock detected"
   */
  processing_error: string | null;
  /**
   * The stored body.
   * @example {"event_type":"agent_completed","agent_id":"content_review","workflow_id":"opal-wf-7f3c2a91"}
   */
  payload: Record<string, unknown>;
  /** The workflow it was linked to; null while unmatched. */
  workflow: LinkedWorkflowDto | null;
}

/** Query of `GET /api/diagnostics/dead-letters`. */
export class DeadLettersQueryDto {
  /** `unmatched`: events that match no workflow; `failed`: events whose processing failed; `rejected`: refused deliveries. */
  @ApiProperty({ enum: DEAD_LETTER_KINDS, enumName: 'DeadLetterKind' })
  @IsIn(DEAD_LETTER_KINDS)
  kind: (typeof DEAD_LETTER_KINDS)[number];

  /**
   * Entries per page, newest first.
   * @example 25
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number = 25;

  /**
   * Cursor from the previous page's `pagination.next_before` (of the same kind).
   * @example "1042"
   */
  @IsOptional()
  @IsString()
  @Length(1, 300)
  before?: string;
}

/** An event of the dead-letter inbox. */
export class DeadLetterEventDto {
  /**
   * The service's id of the event (`GET /api/events/{event_id}` shows it in full).
   * @example "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"
   */
  event_id: string;
  /**
   * The sender's `event_id`.
   * @example "evt_01HQ3K4Z9V"
   */
  source_event_id: string | null;
  /**
   * Global receive order.
   * @example 1042
   */
  sequence: number;
  /** The event's type. */
  @ApiProperty({ enum: EVENT_TYPES, enumName: 'EventType' })
  event_type: string;
  /**
   * The `workflow_id` field as received.
   * @example "opal-wf-unknown"
   */
  workflow_id: string;
  /**
   * The workflow it matched (failed events); null for unmatched ones.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  sync_id: string | null;
  /**
   * The agent of an `agent_*` event.
   * @example "content_review"
   */
  agent_id: string | null;
  /**
   * The event's correlation id.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  correlation_id: string | null;
  /**
   * When it was stored (ISO-8601).
   * @example "2026-03-02T10:15:30.000Z"
   */
  received_at: string;
  /**
   * When its processing failed (ISO-8601); null for unmatched events.
   * @example "2026-03-02T10:15:30.042Z"
   */
  processed_at: string | null;
  /** `unmatched` or `failed`. */
  @ApiProperty({ enum: ['unmatched', 'failed'], enumName: 'DeadLetterStatus' })
  processing_status: string;
  /**
   * Why processing failed (failed events).
   * @example "deadlock detected"
   */
  processing_error: string | null;
}

/** Refused deliveries of one minute, reason and client address. Never a body or a signature. */
export class DeadLetterRejectionDto {
  /**
   * The minute.
   * @example "2026-03-02T10:15:00.000Z"
   */
  minute: string;
  /**
   * Why they were refused.
   * @example "signature_invalid"
   */
  reason: string;
  /**
   * The client address.
   * @example "203.0.113.7"
   */
  client_ip: string;
  /**
   * How many were refused in that minute.
   * @example 12
   */
  count: number;
  /**
   * The first refusal of the minute.
   * @example "2026-03-02T10:15:03.120Z"
   */
  first_seen: string;
  /**
   * The last refusal of the minute.
   * @example "2026-03-02T10:15:58.004Z"
   */
  last_seen: string;
  /**
   * The last refusal's short reason.
   * @example "X-OSA-Signature is missing, stale or wrong"
   */
  detail: string | null;
}

export class DeadLetterPaginationDto {
  /**
   * Entries per page.
   * @example 25
   */
  limit: number;
  /**
   * Pass as `before` for the next page; null on the last page.
   * @example "1017"
   */
  next_before: string | null;
}

/** `GET /api/diagnostics/dead-letters`: one page of the inbox; `events` or `rejected` by kind. */
export class DeadLettersResponseDto {
  /** The list of this page. */
  @ApiProperty({ enum: DEAD_LETTER_KINDS, enumName: 'DeadLetterKind' })
  kind: string;
  /** With kind `unmatched` or `failed`. */
  events?: DeadLetterEventDto[];
  /** With kind `rejected`. */
  rejected?: DeadLetterRejectionDto[];
  /** Where the next page starts. */
  pagination: DeadLetterPaginationDto;
}

/** Body of `POST /api/diagnostics/dead-letters/requeue`. */
export class RequeueRequestDto {
  /**
   * These events (the service's ids or the senders' event ids); only those unmatched or failed are requeued.
   * @example ["9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"]
   */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(10_000)
  @IsString({ each: true })
  @Length(1, 200, { each: true })
  event_ids?: string[];

  /** Only events of this kind. Without `event_ids` and `kind`: every unmatched and failed event (at most 10,000). */
  @ApiProperty({ enum: ['unmatched', 'failed'], enumName: 'DeadLetterStatus', required: false })
  @IsOptional()
  @IsIn(['unmatched', 'failed'])
  kind?: 'unmatched' | 'failed';

  /**
   * Count what would be requeued, change nothing.
   * @example true
   */
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;
}

/** Answer of a requeue. */
export class RequeueResponseDto {
  /**
   * True: the request was carried out.
   * @example true
   */
  success: boolean;
  /**
   * True: nothing was changed.
   * @example false
   */
  dry_run: boolean;
  /**
   * Dead letters the request selected.
   * @example 12
   */
  matched: number;
  /**
   * Of those, put back into processing (0 on a dry run; fewer when some were being processed meanwhile).
   * @example 12
   */
  requeued: number;
}

export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;

/** Query of `GET /api/diagnostics/events/export`: the filters of the diagnostics list, and the format. */
export class ExportEventsQueryDto extends OmitType(LastWebhookQueryDto, ['limit'] as const) {
  /** `ndjson` (one JSON event per line) or `csv` (a header line, then one event per line). */
  @ApiProperty({ enum: EXPORT_FORMATS, enumName: 'ExportFormat', required: false, default: 'ndjson' })
  @IsOptional()
  @IsIn(EXPORT_FORMATS)
  format?: (typeof EXPORT_FORMATS)[number] = 'ndjson';
}
