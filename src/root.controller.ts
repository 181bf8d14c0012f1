import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from './policy/policy';
import { apiPath } from './domain/routes';
import { MetricsService } from './metrics/metrics.service';
import { ServiceIndexDto } from './service-index.dto';
import { SERVICE_VERSION } from './domain/version';

@ApiTags('meta')
@Controller()
@Public()
export class RootController {
  constructor(private readonly metrics: MetricsService) {}

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

  /** Prometheus text format. */
  @Get('metrics')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus exposition format', schema: { type: 'string' } })
  @Header('Cache-Control', 'no-store')
  async getMetrics(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }

  @Get('favicon.ico')
  @ApiExcludeEndpoint()
  getFavicon(@Res() res: Response): void {
    res.status(204).end();
  }
}
