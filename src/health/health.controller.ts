import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { Public } from '../policy/policy';
import { HealthReportDto } from './health-report.dto';
import { HealthIndicators } from './health.indicators';

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicators,
  ) {}

  /** Full report: database, event processing backlog and OPAL configuration. 503 when any is down. */
  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOkResponse({ description: 'All checks up', type: HealthReportDto })
  @ApiServiceUnavailableResponse({ description: 'At least one check down', type: HealthReportDto })
  checkHealth(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 3000 }),
      () => this.indicators.backlog('event_processing'),
      () => this.indicators.opalConfiguration('opal_configuration'),
      () => this.indicators.readReplica('read_replica'),
      () => this.indicators.opalCircuitBreaker('opal_circuit_breaker'),
    ]);
  }

  /** Liveness probe: the process answers. Checks no dependency. */
  @Get('live')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOkResponse({ description: 'The process answers', type: HealthReportDto })
  checkLiveness(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Readiness probe: database reachable and migrations applied; 503 otherwise and while shutting down. */
  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOkResponse({ description: 'Ready', type: HealthReportDto })
  @ApiServiceUnavailableResponse({ description: 'Not ready, or shutting down', type: HealthReportDto })
  checkReadiness(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.indicators.accepting('shutdown'),
      () => this.db.pingCheck('database', { timeout: 3000 }),
      () => this.indicators.migrations('migrations'),
    ]);
  }
}
