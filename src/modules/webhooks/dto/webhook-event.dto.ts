import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { IsStorableTime } from '../../../common/validation';
import { OPAL_AGENTS } from '../../../domain/opal';
import { EXECUTION_STATUSES } from '../../../domain/events';

/** The failure OPAL reports with an unsuccessful event. */
export class WebhookEventErrorDto {
  /**
   * OPAL's error code.
   * @example "AGENT_TIMEOUT"
   */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  code?: string;

  /**
   * What went wrong; stored as the event's `error_message` and shown on the failed agent.
   * @example "content_review did not finish within 10 minutes"
   */
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  message?: string;
}

/**
 * One callback from OPAL (contract section 5). Fields not listed here are accepted and kept in the stored
 * payload: OPAL may add fields, and refusing them would lose events that are otherwise valid.
 */
export class WebhookEventDto {
  /**
   * `workflow_started` | `agent_started` | `agent_completed` | `workflow_completed` | `workflow_failed`, or an
   * alias (`agent.completed`, `workflow_triggered`, `agent_failed`, …). May be absent when `agent_id` and
   * `execution_status` are present (OPAL's tool callback).
   */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  @ApiProperty({ example: 'agent_completed', required: false })
  event_type?: string;

  /**
   * OPAL's workflow id, or the service's `sync_id`.
   * @example "opal-wf-7f3c2a91"
   */
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  workflow_id: string;

  /**
   * When present, must be `strategy_workflow` (anything else: 400 `WORKFLOW_NOT_ALLOWED`).
   * @example "strategy_workflow"
   */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  workflow_name?: string;

  /** Required for `agent_*` events: one of the nine agents of strategy_workflow. */
  @IsOptional()
  @IsIn(OPAL_AGENTS)
  @ApiProperty({ enum: OPAL_AGENTS, enumName: 'OpalAgent', required: false })
  agent_id?: string;

  /** The agent's execution status. */
  @IsOptional()
  @IsIn(EXECUTION_STATUSES)
  @ApiProperty({ enum: EXECUTION_STATUSES, enumName: 'ExecutionStatus', required: false })
  execution_status?: string;

  /**
   * The sender's id of this event; a repeat with the same id is a duplicate (409).
   * @example "evt-7f3c2a91-content_review-completed"
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  event_id?: string;

  /**
   * The agent's output.
   * @example {"summary":"12 pages reviewed"}
   */
  @IsOptional()
  @IsObject()
  agent_data?: Record<string, unknown>;

  /**
   * Position of the event in OPAL's stream, when it sends one.
   * @example 4
   */
  @IsOptional()
  @IsInt()
  @Min(0)
  @ApiProperty({ type: 'integer', nullable: true, required: false, minimum: 0 })
  offset?: number | null;

  /**
   * When the event happened (ISO-8601; years 0001–9999, offset within ±15:59; without an offset, UTC);
   * defaults to the time of receipt.
   * @example "2026-03-02T10:15:30.000Z"
   */
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsStorableTime()
  timestamp?: string;

  /**
   * The correlation id of the workflow (`force-sync-…`); also read from `metadata.correlation_id`.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  correlation_id?: string;

  /**
   * OPAL's environment name.
   * @example "production"
   */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  environment?: string;

  /** The failure, for unsuccessful events. */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => WebhookEventErrorDto)
  error?: WebhookEventErrorDto;

  /**
   * Free-form metadata; `correlation_id` in it is used to match the workflow.
   * @example {"correlation_id":"force-sync-1732800000000-k3j9x2a1"}
   */
  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}
