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
import { OPAL_AGENTS } from '../../opal/agents';

export class ReplayOptionsDto {
  /** false (default): re-apply only events whose processing failed or that are unmatched; true: every selected event. */
  @IsOptional()
  @IsBoolean()
  force_reprocess?: boolean;
}

/** Body of `POST /api/orchestrations/replay`. */
export class ReplayRequestDto {
  /** The workflow: its sync id, OPAL workflow id or correlation id. */
  @IsString()
  @Length(1, 200)
  workflow_id: string;

  /** Only these agents' events are (re)applied; omitted or empty = every event. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(OPAL_AGENTS.length)
  @IsIn(OPAL_AGENTS, {
    each: true,
    message: `each value in agent_filter must be one of: ${OPAL_AGENTS.join(', ')}`,
  })
  agent_filter?: string[];

  /** 0-based position in the workflow's stored event stream (receive order) to start from. */
  @IsOptional()
  @IsInt()
  @Min(0)
  from_offset?: number;

  /** Compute and return the resulting state without writing anything. */
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ReplayOptionsDto)
  replay_options?: ReplayOptionsDto;
}
