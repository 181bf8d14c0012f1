import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { WORKFLOW_STATUSES } from '../../workflows/workflow-state';
import type { WorkflowStatus } from '../../workflows/workflow-state';

/** Filters and paging of `GET /api/opal/syncs`. */
export class ListSyncsQueryDto {
  /** Only workflows in this status. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, required: false })
  @IsOptional()
  @IsIn(WORKFLOW_STATUSES)
  status?: WorkflowStatus;

  /** Page size, 1–100 (default 20). */
  @ApiProperty({ required: false, minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  /** The `next_before` of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  before?: string;
}
