import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../../common/error-response.dto';
import { ApiMaintenanceModeResponse } from '../../common/maintenance-response';
import { OperatorAuth } from '../../policy/policy';
import { CurrentActor, type AuditActor } from '../../common/audit-actor';
import { DiagnosticsService } from './diagnostics.service';
import { DiagnosticsActionDto } from './dto/diagnostics-action.dto';
import { CleanupResponseDto, ConfigurationTestResponseDto } from './dto/diagnostics-action-response.dto';
import { LastWebhookQueryDto } from './dto/last-webhook-query.dto';
import { LastWebhookResponseDto } from './dto/last-webhook-response.dto';
import { MaintenanceService } from './maintenance.service';
import { ThrottleGroup } from '../../policy/throttling';

@ApiTags('diagnostics')
@Controller('diagnostics')
export class DiagnosticsController {
  constructor(
    private readonly diagnostics: DiagnosticsService,
    private readonly maintenance: MaintenanceService,
  ) {}

  /**
   * Recent webhook events (newest first, filtered, paged by `before`), system health figures and the alerts
   * firing now. Answers 200 with `database: "down"` and a critical alert when the database is unreachable.
   */
  @Get('last-webhook')
  @OperatorAuth()
  @ThrottleGroup('read')
  @ApiOperation({ summary: 'Recent webhook events, system health and alerts' })
  @ApiOkResponse({ description: 'Events, system health and alerts', type: LastWebhookResponseDto })
  @ApiBadRequestResponse({
    description: 'Invalid filter values (each listed in details)',
    type: ErrorResponseDto,
  })
  getLastWebhook(@Query() query: LastWebhookQueryDto): Promise<LastWebhookResponseDto> {
    return this.diagnostics.lastWebhook(query);
  }

  /**
   * Maintenance actions: `test_configuration` (configuration, database, migrations, a TCP connection to OPAL's
   * host — never a trigger) and `cleanup_old_events` (batched delete of events older than `retention_days`).
   */
  @Post('last-webhook')
  @HttpCode(200)
  @OperatorAuth()
  @ThrottleGroup('admin')
  @ApiOperation({ summary: 'Run a maintenance action: test_configuration or cleanup_old_events' })
  @ApiExtraModels(ConfigurationTestResponseDto, CleanupResponseDto)
  @ApiOkResponse({
    description: "The action's report: ConfigurationTestResponseDto or CleanupResponseDto",
    schema: {
      oneOf: [
        { $ref: getSchemaPath(ConfigurationTestResponseDto) },
        { $ref: getSchemaPath(CleanupResponseDto) },
      ],
    },
  })
  @ApiBadRequestResponse({ description: 'Unknown action or invalid retention_days', type: ErrorResponseDto })
  @ApiMaintenanceModeResponse()
  runDiagnosticsAction(
    @Body() body: DiagnosticsActionDto,
    @CurrentActor() actor: AuditActor,
  ): Promise<ConfigurationTestResponseDto | CleanupResponseDto> {
    return body.action === 'test_configuration'
      ? this.maintenance.testConfiguration(actor)
      : this.maintenance.cleanup(body.retention_days!, body.dry_run ?? false, {
          ...actor,
          trigger: 'request',
        });
  }
}
