import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ErrorResponseDto } from './common/error-response.dto';
import { OPERATOR_SECURITY_SCHEME } from './policy/policy';
import { addErrorExamples, addTransportErrors } from './openapi-examples';
import { SERVICE_VERSION } from './domain/version';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('OPAL Force Sync service')
    .setDescription(
      "Triggers OPAL's strategy_workflow (nine AI agents), receives OPAL's signed callbacks, tracks each workflow " +
        'and agent, and serves diagnostics, alerts, replay and health probes. Errors share one body: ' +
        '`{ success: false, error, code, message, details?, correlation_id }`.',
    )
    .setVersion(SERVICE_VERSION)
    .addServer('/', 'This service (paths are absolute from its base URL)')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'One of OPERATOR_API_KEYS' },
      OPERATOR_SECURITY_SCHEME,
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-OSA-Signature',
        description: 't=<unix ms>,v1=<hex HMAC-SHA256 of t + raw body> with OSA_WEBHOOK_SHARED_SECRET',
      },
      'osa_signature',
    )
    .build();
  config.info.license = { name: 'UNLICENSED' };
  return addErrorExamples(
    addTransportErrors(
      SwaggerModule.createDocument(app, config, {
        extraModels: [ErrorResponseDto],
        operationIdFactory: (_controllerKey, methodKey) => methodKey,
      }),
    ),
  );
}

export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'OPAL Force Sync API',
  });
}
