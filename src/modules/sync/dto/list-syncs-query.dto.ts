import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { WORKFLOW_STATUSES, type WorkflowStatus } from '../../../domain/workflow';

/** Filters and paging of `GET /api/opal/syncs`. */
export class ListSyncsQueryDto {
  /** Only workflows in this status. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus', required: false })
  @IsOptional()
  @IsIn(WORKFLOW_STATUSES)
  status?: WorkflowStatus;

  /** Page size, 1–100 (default 20). */
  @ApiProperty({ required: false, minimum: 1, maximum: 100, default: 20, example: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  /**
   * The `next_before` of the previous page.
   * @example "2026-03-02T10:15:30.000Z|0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  before?: string;
}
