import type { Server } from 'node:http';
import { Logger, RequestMethod, type INestApplication, type NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import createExpressApp, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { ADMIN_ASSET_NAMES } from './admin/admin-assets.service';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { AppError } from './common/app-error';
import { clientErrorHandler } from './common/client-error';
import { answerCompression } from './common/compression';
import { enableGracefulShutdown, ShutdownState } from './common/graceful-shutdown';
import { expressErrorHandler, requestBodyGate, requestContextMiddleware } from './common/http-pipeline';
import { JsonLogger, type LogFormat } from './common/json-logger';
import { registerSecrets } from './common/redact';
import { routeFirst } from './common/route-order';
import { RequestBodyPipe } from './common/request-body.pipe';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { secretValuesOf } from './config/settings';
import { API_PREFIX, WEBHOOK_PATH } from './domain/routes';
import { MetricsService } from './metrics/metrics.service';
import { LiveStreamsService } from './modules/live/live-streams.service';
import { setupOpenApi } from './openapi';

/** Options for NestFactory.create and for the e2e tests' app: bodies are read by the routes (configureApp). */
export function appOptions(
  debug: boolean,
  write?: (line: string) => void,
  format: LogFormat = 'json',
): NestApplicationOptions {
  return { bodyParser: false, logger: new JsonLogger({ debug, write, format }) };
}

/**
 * The Express adapter for NestFactory.create and the e2e tests' app. Routes match exactly: case-sensitive, no
 * trailing-slash variants (`/API/Webhooks/Opal-Workflow/` is a 404, not the receiver with some other route's
 * rules). Express's router takes these settings when it is created, which the adapter's constructor does, so
 * they are set on the Express app before the adapter exists.
 */
export function createHttpAdapter(): ExpressAdapter {
  const instance = createExpressApp();
  instance.enable('case sensitive routing');
  instance.enable('strict routing');
  return new ExpressAdapter(instance);
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
      // The console's files only: `/api/admin/session` (what the console asks first) stays under the prefix.
      ...ADMIN_ASSET_NAMES.map((name) => ({ path: `admin/${name}`, method: RequestMethod.GET })),
    ],
  });
}

/**
 * Everything main.ts and the e2e tests share: middleware, prefix, pipes, filter, OpenAPI, graceful shutdown;
 * then the app is initialised (routes registered) and the receiver's routes are put first.
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
  // Beyond this many open connections Node closes new ones at once, so that no number of (slow) clients can
  // hold more memory than this many connections' worth.
  server.maxConnections = config.maxConnections;

  const router = (
    express.getHttpAdapter().getInstance() as { router?: { caseSensitive?: boolean; strict?: boolean } }
  ).router;
  if (!router?.caseSensitive || !router.strict) {
    throw new Error(
      'Create the app with createHttpAdapter(): routes must match case-sensitively and strictly',
    );
  }

  express.disable('x-powered-by');
  // API answers are not served conditionally; an ETag would hash every body (static files keep their own).
  express.set('etag', false);
  express.set('trust proxy', config.trustProxy);
  // First of the middleware: once shutting down, every answer closes its connection.
  enableGracefulShutdown(app, config.shutdownGraceMs);
  // Streams never finish by themselves: shutdown ends them, so that their clients reconnect to another instance.
  app.get(ShutdownState).onDrain(() => app.get(LiveStreamsService).endAll());
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
  express.use(requestBodyGate());
  // Answers over 1 KiB compressed when the client accepts it; never streams, never the receiver's tiny answers.
  express.use(answerCompression([WEBHOOK_PATH]));
  express.use(expressErrorHandler());
  express.getHttpServer().on('clientError', clientErrorHandler());

  applyGlobalPrefix(app);
  // In this order: the body is read (after the guards) before it is validated.
  app.useGlobalPipes(new RequestBodyPipe(), createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  setupOpenApi(app);

  if (config.operatorApiKeys.length === 0 && !config.isProduction) {
    new Logger('Security').warn(
      `OPERATOR_API_KEYS is not set: operator routes are open (allowed outside production only); listening on ${
        config.host ?? 'every interface (HOST)'
      }`,
    );
  }
  await app.init();
  routeFirst(express.getHttpAdapter().getInstance(), [WEBHOOK_PATH]);
  // Nest answers unknown paths under the prefix (and at the excluded ones); every other path gets the same 404.
  express.use(
    (_req: Request, _res: Response, next: NextFunction) =>
      next(new AppError('NOT_FOUND', 'No such route or resource')),
    expressErrorHandler(),
  );
  return app;
}
