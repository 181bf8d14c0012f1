import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Min,
  ValidateNested,
} from 'class-validator';
import { OPAL_AGENTS } from '../../../domain/opal';

export class ReplayOptionsDto {
  /**
   * false (default): re-apply only events whose processing failed or that are unmatched; true: every selected event.
   * @example false
   */
  @IsOptional()
  @IsBoolean()
  force_reprocess?: boolean;
}

/** Body of `POST /api/orchestrations/replay`. */
export class ReplayRequestDto {
  /**
   * The workflow: its sync id, OPAL workflow id or correlation id.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  @IsString()
  @Length(1, 200)
  workflow_id: string;

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
