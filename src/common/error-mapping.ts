import { HttpException } from '@nestjs/common';
import { AppError, statusOf, type ErrorCode, type ErrorDetail } from './app-error';

export interface MappedError {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  /** True for unexpected errors: logged in full, answered generically. */
  unexpected: boolean;
}

const DB_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300',
]);
const DB_UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection is not established',
  'the database system is',
  'terminating connection',
];

// PostgreSQL refuses these characters in text (NUL, invalid UTF-8): always the caller's input, never our fault.
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

function isUnstorableText(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' && UNSTORABLE_TEXT_CODES.has(code);
}

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const e = error as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && DB_UNAVAILABLE_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && DB_UNAVAILABLE_MESSAGES.some((m) => (e.message as string).includes(m)))
    return true;
  if (e.driverError && e.driverError !== error) return isDatabaseUnavailable(e.driverError);
  if (e.cause && e.cause !== error) return isDatabaseUnavailable(e.cause);
  return false;
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'VALIDATION_FAILED';
    case 401:
      return 'AUTHENTICATION_FAILED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 408:
      return 'REQUEST_TIMEOUT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'RATE_LIMITED';
    case 503:
      return 'SERVICE_UNAVAILABLE';
    default:
      return 'INTERNAL_ERROR';
  }
}

function body(code: ErrorCode, message: string, correlationId: string, details?: ErrorDetail[]) {
  const { title } = statusOf(code);
  const out: Record<string, unknown> = { success: false, error: title, code, message };
  if (details && details.length > 0) out.details = details;
  out.correlation_id = correlationId;
  return out;
}

/** Turns anything thrown while serving a request into the contract's error body. */
export function mapError(error: unknown, correlationId: string): MappedError {
  if (error instanceof AppError) {
    return {
      status: statusOf(error.code).status,
      body: body(error.code, error.message, correlationId, error.details),
      headers: error.headers ?? {},
      unexpected: false,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    // Terminus answers its own report (status/info/error/details) on 503; health probes keep that body.
    if (typeof response === 'object' && response !== null && 'status' in response && 'details' in response) {
      return { status, body: response, headers: {}, unexpected: false };
    }
    const code = codeForStatus(status);
    const message =
      status === 404
        ? 'No such route or resource'
        : status === 429
          ? 'Too many requests; retry after the time given in Retry-After'
          : status >= 500
            ? 'An unexpected error occurred'
            : error.message;
    return { status, body: body(code, message, correlationId), headers: {}, unexpected: status >= 500 };
  }
  // Errors raised by Express middleware (body reading) carry a status and a type.
  const e = error as { status?: unknown; statusCode?: unknown; type?: unknown } | null;
  const expressStatus =
    typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : null;
  if (expressStatus !== null && expressStatus >= 400 && expressStatus < 500) {
    const code = codeForStatus(expressStatus);
    const message =
      e?.type === 'entity.too.large'
        ? 'Request body too large'
        : e?.type === 'encoding.unsupported' || expressStatus === 415
          ? 'Unsupported content encoding or type'
          : 'The request could not be read';
    return {
      status: expressStatus,
      body: body(code, message, correlationId),
      headers: {},
      unexpected: false,
    };
  }
  if (isUnstorableText(error)) {
    return {
      status: 400,
      body: body(
        'VALIDATION_FAILED',
        'The request contains characters that cannot be stored (NUL or invalid UTF-8)',
        correlationId,
      ),
      headers: {},
      unexpected: false,
    };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      body: body('DATABASE_UNAVAILABLE', 'The database is unavailable; retry later', correlationId),
      headers: { 'Retry-After': '5' },
      unexpected: true,
    };
  }
  return {
    status: 500,
    body: body('INTERNAL_ERROR', 'An unexpected error occurred', correlationId),
    headers: {},
    unexpected: true,
  };
}
