import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { AppError } from '../../common/app-error';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ApiMaintenanceModeResponse } from '../../common/maintenance-response';
import { OperatorAuth } from '../../policy/policy';
import { CurrentActor, type AuditActor } from '../../common/audit-actor';
import { ReplayRequestDto } from './dto/replay-request.dto';
import {
  BulkReplayAcceptedDto,
  BulkReplayPreviewDto,
  BulkReplayProgressDto,
  ReplayResponseDto,
} from './dto/replay-response.dto';
import { BulkReplayService } from './bulk-replay.service';
import { ReplayService } from './replay.service';
import { ThrottleGroup } from '../../policy/throttling';

@ApiTags('replay')
@Controller('orchestrations/replay')
export class ReplayController {
  constructor(
    private readonly replayService: ReplayService,
    private readonly bulkReplay: BulkReplayService,
  ) {}

  /**
   * Rebuilds a workflow's and its agents' state from the stored events, in receive order, with the same state
   * machine as live processing. Never calls OPAL, never creates events; `dry_run` writes nothing. Audited.
   *
   * With `selection` instead of `workflow_id`, a bulk replay: every workflow created in the window with the given
   * statuses. `dry_run: true` answers 200 with every status change it would make; otherwise 202 with the job's
   * `status_url`: the job is durable, runs on one instance at a time and resumes after a restart.
   */
  @Post()
  @HttpCode(200)
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiOperation({ summary: "Replay a workflow's stored events, or every workflow of a selection" })
  @ApiExtraModels(ReplayResponseDto, BulkReplayPreviewDto)
  @ApiOkResponse({
    description:
      'The replay report and the resulting state (ReplayResponseDto), or a bulk dry run (BulkReplayPreviewDto)',
    schema: {
      oneOf: [{ $ref: getSchemaPath(ReplayResponseDto) }, { $ref: getSchemaPath(BulkReplayPreviewDto) }],
    },
  })
  @ApiAcceptedResponse({ description: 'Bulk replay stored; follow status_url', type: BulkReplayAcceptedDto })
  @ApiBadRequestResponse({
    description:
      'Invalid body: neither or both of workflow_id and selection, an unknown agent or status, an empty or ' +
      'inverted window, a selection of more than 10,000 workflows',
    type: ErrorResponseDto,
  })
  @ApiNotFoundResponse({
    description: 'No workflow with this id (WORKFLOW_NOT_FOUND)',
    type: ErrorResponseDto,
  })
  @ApiMaintenanceModeResponse()
  replayWorkflow(
    @Body() body: ReplayRequestDto,
    @CurrentActor() actor: AuditActor,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ReplayResponseDto | BulkReplayPreviewDto | BulkReplayAcceptedDto> {
    const { workflow_id: workflowId, selection } = body;
    if ((workflowId === undefined) === (selection === undefined)) {
      throw new AppError('VALIDATION_FAILED', 'Invalid request: give either workflow_id or selection', [
        { field: 'workflow_id', message: 'exactly one of workflow_id and selection is required' },
      ]);
    }
    if (workflowId !== undefined)
      return this.replayService.replay({ ...body, workflow_id: workflowId }, actor);
    if (body.dry_run === true) return this.bulkReplay.preview(body, actor);
    res.status(202);
    return this.bulkReplay.start(body, actor);
  }

  /** A bulk replay's progress: status, workflows done, and every status change so far. */
  @Get(':replay_id')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOperation({ summary: "A bulk replay's progress" })
  @ApiParam({
    name: 'replay_id',
    description: 'The id answered when the bulk replay was requested',
    example: 'replay-1732800000000-x7y8z9',
  })
  @ApiOkResponse({ description: 'The progress', type: BulkReplayProgressDto })
  @ApiNotFoundResponse({
    description: 'No bulk replay with this id (REPLAY_NOT_FOUND)',
    type: ErrorResponseDto,
  })
  getReplayProgress(@Param('replay_id') replayId: string): Promise<BulkReplayProgressDto> {
    return this.bulkReplay.progress(replayId);
  }
}
