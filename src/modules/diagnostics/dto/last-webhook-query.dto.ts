import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  Validate,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { IsStorableTime, storableTimeMs } from '../../../common/validation';
import { OPAL_AGENTS } from '../../../domain/opal';
import { normalizeEventTypeFilter } from '../../../domain/event-type';
import { EVENT_TYPES } from '../../../domain/events';
import { parseEventCursor } from '../../webhooks/dto/event-cursor';

export const EVENT_STATUS_FILTERS = ['success', 'failed', 'pending', 'all'] as const;
export type EventStatusFilter = (typeof EVENT_STATUS_FILTERS)[number];

// Query values arrive as strings; anything that is not a plain integer is left as is so that @IsInt reports it.
function toInt({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && /^-?\d{1,9}$/.test(value.trim()) ? Number(value) : value;
}

function toBoolean({ value }: { value: unknown }): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

function toEventType({ value }: { value: unknown }): unknown {
  return typeof value === 'string' ? (normalizeEventTypeFilter(value) ?? value) : value;
}

@ValidatorConstraint({ name: 'notBeforeStartDate' })
class NotBeforeStartDate implements ValidatorConstraintInterface {
  validate(endDate: unknown, args: ValidationArguments): boolean {
    const start = (args.object as LastWebhookQueryDto).start_date;
    if (typeof endDate !== 'string' || typeof start !== 'string') return true;
    const startMs = storableTimeMs(start);
    const endMs = storableTimeMs(endDate);
    if (startMs === null || endMs === null) return true;
    return startMs <= endMs;
  }
  defaultMessage(): string {
    return 'end_date must not be before start_date';
  }
}

@ValidatorConstraint({ name: 'eventCursor' })
class IsEventCursor implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && parseEventCursor(value) !== null;
  }
  defaultMessage(): string {
    return 'before must be the next_before cursor of a previous page';
  }
}

/** Filters of `GET /api/diagnostics/last-webhook`; all optional and combined with AND. */
export class LastWebhookQueryDto {
  /**
   * Events per page, newest first.
   * @example 25
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number = 25;

  /** Event status: `failed` = workflow_failed or an agent that finished unsuccessfully; `pending` = agent_started sent as pending. */
  @ApiProperty({ enum: EVENT_STATUS_FILTERS, enumName: 'EventStatusFilter', required: false, default: 'all' })
  @IsOptional()
  @IsIn(EVENT_STATUS_FILTERS)
  status?: EventStatusFilter = 'all';

  /**
   * `strategy_workflow` (the workflow name: every stored event, since it is the only workflow accepted), or a
   * sync id / OPAL workflow id / correlation id: the events of that workflow.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  workflow?: string;

  /**
   * A sync id, OPAL workflow id or correlation id: the events of that workflow (or with that `workflow_id` as received).
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  workflow_id?: string;

  /** One of the nine OPAL agents. */
  @ApiProperty({ enum: OPAL_AGENTS, enumName: 'OpalAgent', required: false })
  @IsOptional()
  @IsIn(OPAL_AGENTS)
  agent_id?: string;

  /** Event type; dotted forms and aliases are accepted (`agent.completed`, `agent_failed`, `workflow.triggered`). */
  @ApiProperty({ enum: EVENT_TYPES, enumName: 'EventType', required: false })
  @IsOptional()
  @Transform(toEventType)
  @IsIn(EVENT_TYPES, {
    message: `event_type must be one of: ${EVENT_TYPES.join(', ')} (dotted forms accepted)`,
  })
  event_type?: string;

  /**
   * The event's correlation id.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  correlation_id?: string;

  /**
   * Received at or after this ISO-8601 time (years 0001–9999, offset within ±15:59; without an offset, UTC).
   * @example "2026-03-01T00:00:00Z"
   */
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsStorableTime()
  start_date?: string;

  /**
   * Received at or before this ISO-8601 time (not before `start_date`).
   * @example "2026-03-02T23:59:59Z"
   */
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsStorableTime()
  @Validate(NotBeforeStartDate)
  end_date?: string;

  /**
   * Received within the last N hours (1–720).
   * @example 24
   */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(720)
  hours?: number;

  /**
   * Cursor from the previous page's `pagination.next_before`: events older than it.
   * @example "1042"
   */
  @IsOptional()
  @Validate(IsEventCursor)
  before?: string;

  /**
   * Include each event's stored body (`true`/`false`). A page with bodies holds at most 100 events and at most
   * 8 MiB of bodies: one that would hold more ends early, with `pagination.next_before` set.
   * @example false
   */
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  include_payload?: boolean = false;
}
