import { Body, Controller, Get, Headers, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiHeader,
  ApiInternalServerErrorResponse,
  ApiOkResponse,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ApiMaintenanceModeResponse } from '../../common/maintenance-response';
import { CallerScope } from '../../policy/operator-auth.guard';
import { OperatorAuth } from '../../policy/policy';
import {
  OrchestrationTriggerInfoDto,
  OrchestrationTriggerRequestDto,
  OrchestrationTriggerResponseDto,
} from './dto/orchestration-trigger.dto';
import { IDEMPOTENCY_KEY_HEADER_DOC } from './force-sync.controller';
import { ForceSyncService } from './force-sync.service';
import { writeAnswer } from './write-answer';
import { ThrottleGroup } from '../../policy/throttling';

@ApiTags('orchestrations')
@Controller('orchestrations')
export class OrchestrationTriggerController {
  constructor(private readonly sync: ForceSyncService) {}

  /**
   * Triggers OPAL's strategy_workflow for a session (the only workflow that may be triggered), with the same
   * machinery and answers as the force sync.
   */
  @Post('trigger')
  @OperatorAuth()
  @ThrottleGroup('sync')
  @ApiHeader(IDEMPOTENCY_KEY_HEADER_DOC)
  @ApiOkResponse({ description: 'OPAL accepted the trigger', type: OrchestrationTriggerResponseDto })
  @ApiAcceptedResponse({
    description: 'OPAL has not accepted yet; a retry is scheduled (status = retry_scheduled)',
    type: OrchestrationTriggerResponseDto,
  })
  @ApiBadRequestResponse({
    description: 'VALIDATION_FAILED, or WORKFLOW_NOT_ALLOWED for any workflow but strategy_workflow',
    type: ErrorResponseDto,
  })
  @ApiConflictResponse({
    description: 'IDEMPOTENCY_KEY_IN_USE or IDEMPOTENCY_KEY_REUSED',
    type: ErrorResponseDto,
  })
  @ApiResponse({
    status: 502,
    description: 'OPAL_TRIGGER_REJECTED: OPAL refused for good (details: [{ sync_id, opal_status }])',
    type: ErrorResponseDto,
  })
  @ApiInternalServerErrorResponse({ description: 'CONFIGURATION_ERROR', type: ErrorResponseDto })
  @ApiMaintenanceModeResponse()
  async triggerOrchestration(
    @Body() body: OrchestrationTriggerRequestDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CallerScope() caller: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OrchestrationTriggerResponseDto> {
    return writeAnswer(res, await this.sync.triggerOrchestration(body, idempotencyKey, caller));
  }

  /** Describes the trigger endpoint and whether the configuration is ready for it. */
  @Get('trigger')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOkResponse({ description: 'The trigger route and its readiness', type: OrchestrationTriggerInfoDto })
  describeOrchestrationTrigger(): OrchestrationTriggerInfoDto {
    return this.sync.describeTrigger();
  }
}
