import type { OpenAPIObject } from '@nestjs/swagger';
import { ERROR_CODES, statusOf, type ErrorCode } from './common/app-error';

const EXAMPLE_MESSAGES: Record<ErrorCode, string> = {
  VALIDATION_FAILED: 'Request validation failed',
  INVALID_JSON: 'The request body is not valid JSON',
  WORKFLOW_NOT_ALLOWED: 'Only strategy_workflow may be triggered',
  AUTHENTICATION_FAILED: 'A valid operator API key is required',
  WEBHOOK_SIGNATURE_INVALID: 'X-OSA-Signature is missing, stale or wrong',
  FORBIDDEN: 'Not allowed',
  NOT_FOUND: 'No route GET /api/unknown',
  WORKFLOW_NOT_FOUND: 'No workflow with this id',
  SYNC_ALREADY_ACTIVE: 'A sync with the same scope and client is still active',
  WEBHOOK_DUPLICATE_EVENT: 'This event was already received',
  IDEMPOTENCY_KEY_IN_USE: 'A request with this Idempotency-Key is still in progress',
  IDEMPOTENCY_KEY_REUSED: 'This Idempotency-Key was used with a different body',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'The request body must be application/json',
  UNSUPPORTED_CONTENT_ENCODING: 'Request bodies are never decompressed: send them without Content-Encoding',
  REQUEST_TIMEOUT: 'The request was not received in time',
  RATE_LIMITED: 'Too many requests; retry after 12 seconds',
  INTERNAL_ERROR: 'Unexpected error',
  CONFIGURATION_ERROR: 'Environment validation failed',
  OPAL_TRIGGER_REJECTED: 'OPAL refused the trigger',
  DATABASE_UNAVAILABLE: 'The database is unavailable',
  SERVICE_UNAVAILABLE: 'The service is shutting down',
  TOO_MANY_STREAMS: 'This instance holds its most live progress streams; retry after 5 seconds',
};

const ERROR_SCHEMA_REF = '#/components/schemas/ErrorResponseDto';

/** Answers every route can give before it is reached, as shared response components. */
const TRANSPORT_RESPONSES: Record<string, { status: string; description: string; codes: ErrorCode[] }> = {
  RequestTimeout: {
    status: '408',
    description:
      'REQUEST_TIMEOUT: the request line and headers did not arrive within 10 s, or the whole request within 30 s',
    codes: ['REQUEST_TIMEOUT'],
  },
  UnsupportedContentEncoding: {
    status: '415',
    description:
      'UNSUPPORTED_CONTENT_ENCODING: a Content-Encoding other than identity (request bodies are never decompressed)',
    codes: ['UNSUPPORTED_CONTENT_ENCODING'],
  },
  UnsupportedBody: {
    status: '415',
    description:
      'UNSUPPORTED_MEDIA_TYPE: the body is not JSON (a form-encoded body is read as JSON, except from a browser); ' +
      'UNSUPPORTED_CONTENT_ENCODING: a Content-Encoding other than identity (bodies are never decompressed)',
    codes: ['UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_CONTENT_ENCODING'],
  },
};

/**
 * Every operation gets 408 (a request that does not arrive in time) and 415 (a compressed body; a body that is
 * not JSON where the operation takes one), as references to shared responses. An operation that documents its
 * own 415 gets the encoding code added to its description (and so to its examples).
 */
export function addTransportErrors(document: OpenAPIObject): OpenAPIObject {
  document.components ??= {};
  document.components.responses ??= {};
  for (const [name, response] of Object.entries(TRANSPORT_RESPONSES)) {
    document.components.responses[name] = {
      description: response.description,
      content: {
        'application/json': {
          schema: { $ref: ERROR_SCHEMA_REF },
          examples: Object.fromEntries(response.codes.map((code) => [code, { value: exampleBody(code) }])),
        },
      },
    };
  }
  const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });
  for (const pathItem of Object.values(document.paths)) {
    for (const operation of Object.values(pathItem)) {
      const responses = (operation as { responses?: Record<string, { description?: string; $ref?: string }> })
        .responses;
      if (!responses || typeof responses !== 'object') continue;
      responses['408'] ??= ref('RequestTimeout');
      const own = responses['415'];
      if (own)
        own.description = `${own.description ?? ''}; ${TRANSPORT_RESPONSES.UnsupportedContentEncoding.description}`;
      else {
        const takesBody = (operation as { requestBody?: unknown }).requestBody !== undefined;
        responses['415'] = ref(takesBody ? 'UnsupportedBody' : 'UnsupportedContentEncoding');
      }
    }
  }
  return document;
}

/**
 * Gives every error answer (an answer typed ErrorResponseDto) one example body per error code it can carry:
 * the codes its description names, else the first code of its status. Keeps the examples in step with the
 * single code → status mapping instead of repeating bodies in every decorator.
 */
export function addErrorExamples(document: OpenAPIObject): OpenAPIObject {
  for (const pathItem of Object.values(document.paths)) {
    for (const operation of Object.values(pathItem)) {
      const responses = (operation as { responses?: Record<string, unknown> }).responses;
      if (!responses || typeof responses !== 'object') continue;
      for (const [status, response] of Object.entries(responses)) {
        const content = (response as { content?: Record<string, Record<string, unknown>> }).content;
        const json = content?.['application/json'];
        if (!json || (json.schema as { $ref?: string } | undefined)?.$ref !== ERROR_SCHEMA_REF) continue;
        const codes = codesFor(Number(status), (response as { description?: string }).description ?? '');
        json.examples = Object.fromEntries(codes.map((code) => [code, { value: exampleBody(code) }]));
      }
    }
  }
  return document;
}

function codesFor(status: number, description: string): ErrorCode[] {
  const ofStatus = ERROR_CODES.filter((code) => statusOf(code).status === status);
  const named = ofStatus.filter((code) => new RegExp(`\\b${code}\\b`).test(description));
  return named.length > 0 ? named : ofStatus.slice(0, 1);
}

function exampleBody(code: ErrorCode): Record<string, unknown> {
  return {
    success: false,
    error: statusOf(code).title,
    code,
    message: EXAMPLE_MESSAGES[code],
    ...(code === 'VALIDATION_FAILED'
      ? { details: [{ field: 'sync_scope', message: 'sync_scope must be one of the allowed values' }] }
      : {}),
    correlation_id: 'req-1732800000000-a1b2c3',
  };
}
