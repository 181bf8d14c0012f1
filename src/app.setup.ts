import type { Server } from 'node:http';
import { Logger, RequestMethod, type INestApplication, type NestApplicationOptions } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { BodyProblemPipe } from './common/body-problem.pipe';
import { clientErrorHandler } from './common/client-error';
import { enableGracefulShutdown } from './common/graceful-shutdown';
import { bodyMiddlewares, expressErrorHandler, requestContextMiddleware } from './common/http-pipeline';
import { JsonLogger } from './common/json-logger';
import { routeFirst } from './common/route-order';
import { registerSecrets } from './common/redact';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { secretValuesOf } from './config/settings';
import { API_PREFIX, WEBHOOK_PATH } from './domain/routes';
import { MetricsService } from './metrics/metrics.service';
import { WebhookRejectionsService } from './modules/webhooks/webhook-rejections.service';
import { setupOpenApi } from './openapi';

/** Options for NestFactory.create and for the e2e tests' app: body parsing is done by configureApp. */
export function appOptions(debug: boolean, write?: (line: string) => void): NestApplicationOptions {
  return { bodyParser: false, logger: new JsonLogger({ debug, write }) };
}

/**
 * Every route lives under `/api` except the index, the Prometheus scrape, the docs (served by Swagger outside
 * Nest's router) and the operator console. Set on every app that serves or documents routes.
 */
export function applyGlobalPrefix(app: INestApplication): void {
  app.setGlobalPrefix(API_PREFIX, {
    exclude: [
      { path: '/', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
      { path: 'favicon.ico', method: RequestMethod.GET },
      { path: 'admin', method: RequestMethod.GET },
      { path: 'admin/{*asset}', method: RequestMethod.GET },
    ],
  });
}

/**
 * Everything main.ts and the e2e tests share: middleware, prefix, pipes, filter, OpenAPI, shutdown hooks; then
 * the app is initialised (routes registered) and the receiver's routes are put first.
 */
export async function configureApp(app: INestApplication): Promise<INestApplication> {
  const express = app as NestExpressApplication;
  const config = app.get(AppConfig);
  registerSecrets(secretValuesOf(config));

  // Slow clients (slowloris) must not hold connections: headers within 10 s, a whole request within 30 s (Node
  // enforces both on a 30 s check interval), idle keep-alive connections closed after 5 s. A proxy in front must
  // close idle connections to the service sooner than that.
  const server = app.getHttpServer() as Server;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  express.disable('x-powered-by');
  // API answers are not served conditionally; an ETag would hash every body (static files keep their own).
  express.set('etag', false);
  express.set('trust proxy', config.trustProxy);
  // First of the middleware: once shutting down, every answer closes its connection.
  enableGracefulShutdown(app, config.shutdownGraceMs);
  express.use(helmet());
  express.enableCors({
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    exposedHeaders: ['X-Correlation-ID', 'Retry-After', 'Idempotent-Replayed'],
  });
  const metrics = app.get(MetricsService);
  express.use(
    requestContextMiddleware((labels, seconds) => {
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
    }),
  );
  express.use(...bodyMiddlewares());
  express.use(app.get(WebhookRejectionsService).oversizedBodies());
  express.use(expressErrorHandler());
  express.getHttpServer().on('clientError', clientErrorHandler());

  applyGlobalPrefix(app);
  // In this order: a body that could not be decoded is reported before it is validated.
  app.useGlobalPipes(new BodyProblemPipe(), createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  setupOpenApi(app);

  if (config.operatorApiKeys.length === 0 && !config.isProduction) {
    new Logger('Security').warn(
      'OPERATOR_API_KEYS is not set: operator routes are open (allowed outside production only)',
    );
  }
  await app.init();
  routeFirst(express.getHttpAdapter().getInstance(), [WEBHOOK_PATH]);
  return app;
}
