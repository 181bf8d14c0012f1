/** Machine codes of the error body. Each maps to exactly one HTTP status in `statusOf`. */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'WORKFLOW_NOT_ALLOWED'
  | 'AUTHENTICATION_FAILED'
  | 'WEBHOOK_SIGNATURE_INVALID'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'WORKFLOW_NOT_FOUND'
  | 'SYNC_ALREADY_ACTIVE'
  | 'WEBHOOK_DUPLICATE_EVENT'
  | 'IDEMPOTENCY_KEY_IN_USE'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNSUPPORTED_CONTENT_ENCODING'
  | 'REQUEST_TIMEOUT'
  | 'RATE_LIMITED'
  | 'INTERNAL_ERROR'
  | 'CONFIGURATION_ERROR'
  | 'OPAL_TRIGGER_REJECTED'
  | 'DATABASE_UNAVAILABLE'
  | 'SERVICE_UNAVAILABLE'
  | 'TOO_MANY_STREAMS';

export const ERROR_CODES: readonly ErrorCode[] = [
  'VALIDATION_FAILED',
  'INVALID_JSON',
  'WORKFLOW_NOT_ALLOWED',
  'AUTHENTICATION_FAILED',
  'WEBHOOK_SIGNATURE_INVALID',
  'FORBIDDEN',
  'NOT_FOUND',
  'WORKFLOW_NOT_FOUND',
  'SYNC_ALREADY_ACTIVE',
  'WEBHOOK_DUPLICATE_EVENT',
  'IDEMPOTENCY_KEY_IN_USE',
  'IDEMPOTENCY_KEY_REUSED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNSUPPORTED_CONTENT_ENCODING',
  'REQUEST_TIMEOUT',
  'RATE_LIMITED',
  'INTERNAL_ERROR',
  'CONFIGURATION_ERROR',
  'OPAL_TRIGGER_REJECTED',
  'DATABASE_UNAVAILABLE',
  'SERVICE_UNAVAILABLE',
  'TOO_MANY_STREAMS',
];

export type ErrorDetail = Record<string, unknown>;

/** What services throw: a code, a message for a person, and optional field-level details. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** The single code → (status, title) mapping; the switch is exhaustive, so a new code cannot be forgotten. */
export function statusOf(code: ErrorCode): { status: number; title: string } {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'INVALID_JSON':
    case 'WORKFLOW_NOT_ALLOWED':
      return { status: 400, title: 'Bad Request' };
    case 'AUTHENTICATION_FAILED':
      // The title operators know from the runbook's "Authentication Failures" entry.
      return { status: 401, title: 'Authentication failed' };
    case 'WEBHOOK_SIGNATURE_INVALID':
      return { status: 401, title: 'Unauthorized' };
    case 'FORBIDDEN':
      return { status: 403, title: 'Forbidden' };
    case 'NOT_FOUND':
    case 'WORKFLOW_NOT_FOUND':
      return { status: 404, title: 'Not Found' };
    case 'SYNC_ALREADY_ACTIVE':
    case 'WEBHOOK_DUPLICATE_EVENT':
    case 'IDEMPOTENCY_KEY_IN_USE':
    case 'IDEMPOTENCY_KEY_REUSED':
      return { status: 409, title: 'Conflict' };
    case 'PAYLOAD_TOO_LARGE':
      return { status: 413, title: 'Payload Too Large' };
    case 'UNSUPPORTED_MEDIA_TYPE':
    case 'UNSUPPORTED_CONTENT_ENCODING':
      return { status: 415, title: 'Unsupported Media Type' };
    case 'REQUEST_TIMEOUT':
      return { status: 408, title: 'Request Timeout' };
    case 'RATE_LIMITED':
      return { status: 429, title: 'Too Many Requests' };
    case 'INTERNAL_ERROR':
      return { status: 500, title: 'Internal Server Error' };
    case 'CONFIGURATION_ERROR':
      return { status: 500, title: 'Configuration Error' };
    case 'OPAL_TRIGGER_REJECTED':
      return { status: 502, title: 'Bad Gateway' };
    case 'DATABASE_UNAVAILABLE':
    case 'SERVICE_UNAVAILABLE':
    case 'TOO_MANY_STREAMS':
      return { status: 503, title: 'Service Unavailable' };
  }
}
