import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Min,
  Validate,
  ValidateNested,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { IsStorableTime, storableTimeMs } from '../../../common/validation';
import { OPAL_AGENTS } from '../../../domain/opal';
import { WORKFLOW_STATUSES } from '../../../domain/workflow';

export class ReplayOptionsDto {
  /**
   * false (default): re-apply only events whose processing failed or that are unmatched; true: every selected event.
   * @example false
   */
  @IsOptional()
  @IsBoolean()
  force_reprocess?: boolean;
}

@ValidatorConstraint({ name: 'windowNotEmpty' })
class WindowNotEmpty implements ValidatorConstraintInterface {
  validate(to: unknown, args: ValidationArguments): boolean {
    const from = (args.object as ReplaySelectionDto).from;
    if (typeof to !== 'string' || typeof from !== 'string') return true;
    const fromMs = storableTimeMs(from);
    const toMs = storableTimeMs(to);
    return fromMs === null || toMs === null || fromMs < toMs;
  }
  defaultMessage(): string {
    return 'to must be after from (the window [from, to) is empty or inverted)';
  }
}

/** Which workflows a bulk replay covers: all conditions given, combined with AND. */
export class ReplaySelectionDto {
  /**
   * Workflow statuses; omitted or empty = any status.
   * @example ["failed","partially_completed"]
   */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus', isArray: true, required: false })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(WORKFLOW_STATUSES.length)
  @IsIn(WORKFLOW_STATUSES, {
    each: true,
    message: `each value in status must be one of: ${WORKFLOW_STATUSES.join(', ')}`,
  })
  status?: string[];

  /**
   * Workflows created at or after this ISO-8601 time.
   * @example "2026-03-02T00:00:00Z"
   */
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsStorableTime()
  from?: string;

  /**
   * Workflows created before this ISO-8601 time (after `from`).
   * @example "2026-03-03T00:00:00Z"
   */
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsStorableTime()
  @Validate(WindowNotEmpty)
  to?: string;
}

/**
 * Body of `POST /api/orchestrations/replay`: one workflow (`workflow_id`), or every workflow of a `selection`
 * (a bulk replay), never both.
 */
export class ReplayRequestDto {
  /**
   * The workflow: its sync id, OPAL workflow id or correlation id. Required unless `selection` is given.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  @IsOptional()
  @IsString()
  @Length(1, 200)
  workflow_id?: string;

  /**
   * Bulk replay: the workflows created in the window with these statuses, each replayed as `workflow_id` would
   * be. With `dry_run`, a preview of every status change; otherwise a durable job (202 with its `status_url`).
   */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ReplaySelectionDto)
  selection?: ReplaySelectionDto;

  /**
   * Only these agents' events are (re)applied; omitted or empty = every event.
   * @example ["content_review"]
   */
  @ApiProperty({ enum: OPAL_AGENTS, enumName: 'OpalAgent', isArray: true, required: false })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(OPAL_AGENTS.length)
  @IsIn(OPAL_AGENTS, {
    each: true,
    message: `each value in agent_filter must be one of: ${OPAL_AGENTS.join(', ')}`,
  })
  agent_filter?: string[];

  /**
   * 0-based position in the workflow's stored event stream (receive order) to start from.
   * @example 0
   */
  @IsOptional()
  @IsInt()
  @Min(0)
  from_offset?: number;

  /**
   * Compute and return the resulting state without writing anything.
   * @example true
   */
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;

  /** How events already processed are treated. */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ReplayOptionsDto)
  replay_options?: ReplayOptionsDto;
}
