import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ApiMaintenanceModeResponse } from '../../common/maintenance-response';
import { OperatorAuth } from '../../policy/policy';
import { CurrentActor, type AuditActor } from '../../common/audit-actor';
import { ReplayRequestDto } from './dto/replay-request.dto';
import { ReplayResponseDto } from './dto/replay-response.dto';
import { ReplayService } from './replay.service';
import { ThrottleGroup } from '../../policy/throttling';

@ApiTags('replay')
@Controller('orchestrations/replay')
export class ReplayController {
  constructor(private readonly replayService: ReplayService) {}

  /**
   * Rebuilds a workflow's and its agents' state from the stored events, in receive order, with the same state
   * machine as live processing. Never calls OPAL, never creates events; `dry_run` writes nothing. Audited.
   */
  @Post()
  @HttpCode(200)
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiOperation({ summary: "Replay a workflow's stored events" })
  @ApiOkResponse({ description: 'The replay report and the resulting state', type: ReplayResponseDto })
  @ApiBadRequestResponse({
    description: 'Invalid body, e.g. an unknown agent in agent_filter',
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
  ): Promise<ReplayResponseDto> {
    return this.replayService.replay(body, actor);
  }
}
