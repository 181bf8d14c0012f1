import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ErrorResponseDto } from './common/error-response.dto';
import { Public } from './policy/policy';
import { apiPath } from './domain/routes';
import { MetricsServer } from './metrics/metrics-server';
import { ServiceIndexDto } from './service-index.dto';
import { SERVICE_VERSION } from './domain/version';

@ApiTags('meta')
@Controller()
@Public()
export class RootController {
  constructor(private readonly metricsServer: MetricsServer) {}

  /** A small index: name, version, links to docs and health. */
  @Get()
  @ApiOkResponse({ description: 'Name, version and links', type: ServiceIndexDto })
  getIndex(): ServiceIndexDto {
    return {
      name: 'opal-force-sync',
      version: SERVICE_VERSION,
      links: {
        docs: '/docs',
        openapi: '/docs-json',
        health: apiPath('health'),
        liveness: apiPath('health/live'),
        readiness: apiPath('health/ready'),
        metrics: '/metrics',
      },
    };
  }

  /** Prometheus text format. With `METRICS_PORT` set it is served on that port instead, and here answers 404. */
  @Get('metrics')
  @ApiOkResponse({
    description: 'Prometheus exposition format',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiNotFoundResponse({ description: 'NOT_FOUND: served on METRICS_PORT instead', type: ErrorResponseDto })
  @Header('Cache-Control', 'no-store')
  async getMetrics(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metricsServer.forApiPort();
    res.setHeader('Content-Type', contentType);
    res.send(body);
  }

  @Get('favicon.ico')
  @ApiExcludeEndpoint()
  getFavicon(@Res() res: Response): void {
    res.status(204).end();
  }
}
