import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiHeader,
  ApiInternalServerErrorResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor, type AuditActor } from '../../common/audit-actor';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ApiMaintenanceModeResponse } from '../../common/maintenance-response';
import { CallerScope } from '../../policy/operator-auth.guard';
import { OperatorAuth } from '../../policy/policy';
import { WorkflowListResponseDto, WorkflowResponseDto } from '../workflows/dto/workflow-response.dto';
import { WorkflowsService } from '../workflows/workflows.service';
import { ForceSyncRequestDto } from './dto/force-sync-request.dto';
import { ForceSyncResponseDto } from './dto/force-sync-response.dto';
import { ListSyncsQueryDto } from './dto/list-syncs-query.dto';
import { SyncConfigurationResponseDto } from './dto/sync-configuration.dto';
import { CancelSyncRequestDto, RerunResponseDto } from './dto/workflow-lifecycle.dto';
import { ForceSyncService } from './force-sync.service';
import { SyncCancelService } from './sync-cancel.service';
import { writeAnswer } from './write-answer';
import { ThrottleGroup } from '../../policy/throttling';

export const IDEMPOTENCY_KEY_HEADER_DOC = {
  name: 'Idempotency-Key',
  required: false,
  description:
    '1–200 printable ASCII characters, scoped to the caller (the operator key; one shared scope while operator ' +
    'routes are open). A repeat with the same key within 24 h returns the first answer again ' +
    '(same status and sync_id) with `Idempotent-Replayed: true` and triggers nothing; the same key with a ' +
    'different body answers 409 IDEMPOTENCY_KEY_REUSED, a repeat while the first is in flight 409 ' +
    'IDEMPOTENCY_KEY_IN_USE.',
  example: 'force-sync-2026-03-02-001',
};

const SYNC_ID_PARAM_DOC = {
  name: 'sync_id',
  description: 'The sync id answered by the force sync or the orchestration trigger',
  example: '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11',
};

@ApiTags('force-sync')
@Controller('opal')
export class ForceSyncController {
  constructor(
    private readonly sync: ForceSyncService,
    private readonly workflows: WorkflowsService,
    private readonly cancels: SyncCancelService,
  ) {}

  /**
   * Starts a force sync: creates the workflow, calls OPAL's strategy_workflow within the response budget,
   * and answers 200 (accepted), 202 (OPAL not reached yet; retried in the background) or 502 (refused).
   */
  @Post('sync')
  @OperatorAuth()
  @ThrottleGroup('sync')
  @ApiHeader(IDEMPOTENCY_KEY_HEADER_DOC)
  @ApiOkResponse({ description: 'OPAL accepted the trigger', type: ForceSyncResponseDto })
  @ApiAcceptedResponse({
    description: 'OPAL has not accepted yet; a retry is scheduled (external_opal.status = retry_scheduled)',
    type: ForceSyncResponseDto,
  })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED (each field in details)', type: ErrorResponseDto })
  @ApiConflictResponse({
    description:
      'SYNC_ALREADY_ACTIVE (details: [{ sync_id }]), IDEMPOTENCY_KEY_IN_USE or IDEMPOTENCY_KEY_REUSED',
    type: ErrorResponseDto,
  })
  @ApiResponse({
    status: 502,
    description: 'OPAL_TRIGGER_REJECTED: OPAL refused for good (details: [{ sync_id, opal_status }])',
    type: ErrorResponseDto,
  })
  @ApiInternalServerErrorResponse({
    description: 'CONFIGURATION_ERROR: the OPAL settings are invalid (details name each problem)',
    type: ErrorResponseDto,
  })
  @ApiMaintenanceModeResponse()
  async forceSync(
    @Body() body: ForceSyncRequestDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CallerScope() caller: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ForceSyncResponseDto> {
    return writeAnswer(res, await this.sync.forceSync(body, idempotencyKey, caller));
  }

  /** Configuration report: whether a force sync can run, with every check (secrets masked). */
  @Get('sync')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOkResponse({ description: 'The configuration is valid', type: SyncConfigurationResponseDto })
  @ApiInternalServerErrorResponse({
    description:
      'CONFIGURATION_ERROR: the same report plus the error fields (success, error, code, message, details)',
    type: SyncConfigurationResponseDto,
  })
  getSyncConfiguration(@Res({ passthrough: true }) res: Response): SyncConfigurationResponseDto {
    return writeAnswer(res, { ...this.sync.configurationReport(), replayed: false });
  }

  /** One workflow, live: status, progress, every call to OPAL and the nine agents. */
  @Get('sync/:sync_id')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiParam(SYNC_ID_PARAM_DOC)
  @ApiOkResponse({ description: 'The workflow with its nine agents', type: WorkflowResponseDto })
  @ApiNotFoundResponse({ description: 'WORKFLOW_NOT_FOUND', type: ErrorResponseDto })
  getSync(@Param('sync_id') syncId: string): Promise<WorkflowResponseDto> {
    return this.workflows.getResponse(syncId);
  }

  /**
   * Cancels a pending, triggered or running workflow: status `cancelled` (terminal), `cancelled_at`,
   * `cancel_reason`. Pending retries of the trigger stop; OPAL is not called (it has no cancel call), and
   * callbacks that arrive later are stored and listed in diagnostics but change nothing. Audited with the reason.
   */
  @Post('sync/:sync_id/cancel')
  @HttpCode(200)
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiParam(SYNC_ID_PARAM_DOC)
  @ApiOkResponse({ description: 'The cancelled workflow', type: WorkflowResponseDto })
  @ApiBadRequestResponse({
    description: 'VALIDATION_FAILED (e.g. a reason over 500 characters)',
    type: ErrorResponseDto,
  })
  @ApiNotFoundResponse({ description: 'WORKFLOW_NOT_FOUND', type: ErrorResponseDto })
  @ApiConflictResponse({
    description: 'WORKFLOW_ALREADY_FINISHED: the workflow is terminal (details: [{ sync_id, status }])',
    type: ErrorResponseDto,
  })
  @ApiMaintenanceModeResponse()
  cancelSync(
    @Param('sync_id') syncId: string,
    @Body() body: CancelSyncRequestDto,
    @CurrentActor() actor: AuditActor,
  ): Promise<WorkflowResponseDto> {
    return this.cancels.cancel(syncId, body.reason ?? null, actor);
  }

  /**
   * Runs a finished workflow again with its original inputs (scope, client context, trigger kind, session id): a
   * new workflow with `rerun_of`, answered exactly like a force sync (200 accepted, 202 retry scheduled, 502
   * refused; `Idempotency-Key` honoured). Audited.
   */
  @Post('sync/:sync_id/rerun')
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiParam(SYNC_ID_PARAM_DOC)
  @ApiHeader(IDEMPOTENCY_KEY_HEADER_DOC)
  @ApiOkResponse({ description: 'OPAL accepted the new workflow', type: RerunResponseDto })
  @ApiAcceptedResponse({
    description: 'OPAL has not accepted yet; a retry is scheduled (external_opal.status = retry_scheduled)',
    type: RerunResponseDto,
  })
  @ApiNotFoundResponse({ description: 'WORKFLOW_NOT_FOUND', type: ErrorResponseDto })
  @ApiConflictResponse({
    description:
      'WORKFLOW_STILL_ACTIVE: the workflow is not finished (details: [{ sync_id, status }]); SYNC_ALREADY_ACTIVE, ' +
      'IDEMPOTENCY_KEY_IN_USE or IDEMPOTENCY_KEY_REUSED as for a force sync',
    type: ErrorResponseDto,
  })
  @ApiResponse({
    status: 502,
    description: 'OPAL_TRIGGER_REJECTED: OPAL refused for good (details: [{ sync_id, opal_status }])',
    type: ErrorResponseDto,
  })
  @ApiInternalServerErrorResponse({
    description: 'CONFIGURATION_ERROR: the OPAL settings are invalid (details name each problem)',
    type: ErrorResponseDto,
  })
  @ApiMaintenanceModeResponse()
  async rerunSync(
    @Param('sync_id') syncId: string,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CallerScope() caller: string,
    @CurrentActor() actor: AuditActor,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RerunResponseDto> {
    return writeAnswer(res, await this.sync.rerun(syncId, idempotencyKey, caller, actor));
  }

  /** Workflows, newest first, with keyset paging (`before` = the previous page's `next_before`). */
  @Get('syncs')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOkResponse({ description: 'A page of workflows, newest first', type: WorkflowListResponseDto })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED', type: ErrorResponseDto })
  listSyncs(@Query() query: ListSyncsQueryDto): Promise<WorkflowListResponseDto> {
    return this.workflows.list({ status: query.status, limit: query.limit ?? 20, before: query.before });
  }
}
