import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentActor, type AuditActor } from '../../common/audit-actor';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { OperatorAuth } from '../../policy/policy';
import { ThrottleGroup } from '../../policy/throttling';
import { MaintenanceStateDto, SetMaintenanceDto } from './dto/maintenance.dto';
import { MaintenanceModeService, toMaintenanceResponse } from './maintenance-mode.service';

@ApiTags('maintenance')
@Controller('maintenance')
export class MaintenanceController {
  constructor(private readonly maintenance: MaintenanceModeService) {}

  /** The maintenance mode every instance obeys. */
  @Get()
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOkResponse({ description: 'The current mode', type: MaintenanceStateDto })
  async getMaintenance(): Promise<MaintenanceStateDto> {
    return toMaintenanceResponse(await this.maintenance.current());
  }

  /**
   * Pauses write operations (`paused`) or resumes them (`normal`). While paused, force sync, trigger, rerun,
   * cancel, replay and the retention cleanup answer 503 MAINTENANCE_MODE with `Retry-After`; callbacks are
   * still stored (202) but not processed; reads, health and readiness keep working. Every instance obeys within a
   * second; the mode survives restarts. Back to `normal`, held events are processed in received order. Audited.
   */
  @Put()
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiOkResponse({ description: 'The mode as now stored', type: MaintenanceStateDto })
  @ApiBadRequestResponse({ description: 'VALIDATION_FAILED (e.g. an unknown mode)', type: ErrorResponseDto })
  async setMaintenance(
    @Body() body: SetMaintenanceDto,
    @CurrentActor() actor: AuditActor,
  ): Promise<MaintenanceStateDto> {
    return toMaintenanceResponse(await this.maintenance.set(body.mode, body.reason ?? null, actor));
  }
}
