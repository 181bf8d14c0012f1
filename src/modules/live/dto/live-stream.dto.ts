import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { WORKFLOW_STATUSES, type WorkflowStatus } from '../../../domain/workflow';
import { WorkflowResponseDto } from '../../workflows/dto/workflow-response.dto';

export const SYNC_STREAM_EVENTS = ['snapshot', 'progress', 'end'] as const;
export const LIST_STREAM_EVENTS = ['workflow'] as const;

/**
 * One frame of `GET /api/opal/sync/{sync_id}/events`. On the wire: `event: <event>`, `id: <version>`,
 * `data: <the workflow as JSON, one line>`, then a blank line; a `: keep-alive` comment comes between frames.
 */
export class SyncStreamFrameDto {
  /**
   * `snapshot` first (none when `Last-Event-ID` is the current version; again after any gap in the service's
   * change feed), `progress` for each stored change (intermediate ones may be coalesced), `end` with the final
   * state, after which the stream closes.
   */
  @ApiProperty({ enum: SYNC_STREAM_EVENTS, enumName: 'SyncStreamEvent', example: 'progress' })
  event: string;
  /** The `id:` line: the workflow's version. Send the last one back as `Last-Event-ID` to resume. */
  @ApiProperty({ type: 'integer', minimum: 1, example: 7 })
  id: number;
  /** The `data:` line: the workflow object of `GET /api/opal/sync/{sync_id}`. */
  data: WorkflowResponseDto;
}

/**
 * One frame of `GET /api/opal/syncs/events`. On the wire: `event: workflow`, `data: <the workflow as JSON, one
 * line>`, then a blank line (no `id:`: each workflow has versions of its own, in `data.version`).
 */
export class ListStreamFrameDto {
  /** Always `workflow`. */
  @ApiProperty({ enum: LIST_STREAM_EVENTS, enumName: 'ListStreamEvent', example: 'workflow' })
  event: string;
  /** The workflow object of `GET /api/opal/sync/{sync_id}`, as stored by the change. */
  data: WorkflowResponseDto;
}

/** Filter of `GET /api/opal/syncs/events`. */
export class ListStreamQueryDto {
  /** Only changes that leave a workflow in this status. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus', required: false })
  @IsOptional()
  @IsIn(WORKFLOW_STATUSES)
  status?: WorkflowStatus;
}
