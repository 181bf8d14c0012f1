import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  Injectable,
  Logger,
  NotFoundException,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { AppError } from '../common/app-error';
import { mapError } from '../common/error-mapping';
import { newCorrelationId } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { MetricsService } from './metrics.service';

export interface Exposition {
  contentType: string;
  body: string;
}

/**
 * Where GET /metrics is served. METRICS_PORT unset: on the API's port, as a route of the app. Set: by a plain
 * `node:http` server of its own on that port (all interfaces, like the API) that answers GET /metrics and 404 for
 * everything else, so a NetworkPolicy can open that port to Prometheus alone; the API's port then answers 404
 * for /metrics. The second server has no middleware, no rate limit and no access log: it serves Prometheus only.
 * It starts with the app (a taken port fails the start) and closes after the API server at shutdown, so the
 * last scrapes of a draining pod still succeed.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server: Server | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  /** GET /metrics on the API's port: the exposition, or 404 when the metrics have a port of their own. */
  async forApiPort(): Promise<Exposition> {
    if (this.config.metricsPort !== null) throw new AppError('NOT_FOUND', 'No such route or resource');
    return this.exposition();
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.metricsPort;
    if (port === null) return;
    const server = createServer((req, res) => void this.answer(req, res));
    // The same limits as the API's server: a slow client cannot hold a connection.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log({ msg: 'Metrics served on their own port', port, path: '/metrics' });
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async exposition(): Promise<Exposition> {
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const correlationId = newCorrelationId('req');
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD'))
        throw new NotFoundException();
      const { contentType, body } = await this.exposition();
      res.writeHead(200, {
        'Content-Type': contentType,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (error) {
      const mapped = mapError(error, correlationId);
      if (mapped.unexpected) this.logger.error({ msg: 'Metrics exposition failed', error });
      const body = JSON.stringify(mapped.body);
      res.writeHead(mapped.status, {
        ...mapped.headers,
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'X-Content-Type-Options': 'nosniff',
        'X-Correlation-ID': correlationId,
      });
      res.end(body);
    }
  }
}
