import type { Server } from 'node:http';
import { Logger, type INestApplication, type NestApplicationOptions } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import helmet from 'helmet';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { BodyProblemPipe } from './common/body-problem.pipe';
import { clientErrorHandler } from './common/client-error';
import { bodyMiddlewares, expressErrorHandler, requestContextMiddleware } from './common/http-pipeline';
import { JsonLogger, type LogFormat } from './common/json-logger';
import { registerSecrets } from './common/redact';
import { createValidationPipe } from './common/validation';
import { AppConfig } from './config/app-config';
import { secretValuesOf } from './config/settings';
import { MetricsService } from './metrics/metrics.service';
import { setupOpenApi } from './openapi';

/** Options for NestFactory.create and for the e2e tests' app: body parsing is done by configureApp. */
export function appOptions(
  debug: boolean,
  write?: (line: string) => void,
  format: LogFormat = 'json',
): NestApplicationOptions {
  return { bodyParser: false, logger: new JsonLogger({ debug, write, format }) };
}

/** Everything main.ts and the e2e tests share: middleware, pipes, filter, OpenAPI, shutdown hooks. */
export function configureApp(app: INestApplication): INestApplication {
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
  express.use(helmet());
  express.enableCors({
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    exposedHeaders: ['X-Correlation-ID', 'Retry-After', 'Idempotent-Replayed'],
  });
  express.use(requestContextMiddleware(app.get(MetricsService)));
  express.use(...bodyMiddlewares());
  express.use(expressErrorHandler());
  express.getHttpServer().on('clientError', clientErrorHandler());

  // In this order: a body that could not be decoded is reported before it is validated.
  app.useGlobalPipes(new BodyProblemPipe(), createValidationPipe());
  app.useGlobalFilters(new AllExceptionsFilter());
  setupOpenApi(app);
  app.enableShutdownHooks();

  if (config.operatorApiKeys.length === 0 && !config.isProduction) {
    new Logger('Security').warn(
      'OPERATOR_API_KEYS is not set: operator routes are open (allowed outside production only)',
    );
  }
  return app;
}
