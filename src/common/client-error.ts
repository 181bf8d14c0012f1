import type { Duplex } from 'node:stream';
import { AppError } from './app-error';
import { mapError } from './error-mapping';
import { newCorrelationId } from './request-context';

/**
 * Requests Node's HTTP parser refuses (headers or URL over its limit, malformed request line) never reach
 * Express; Node would answer them with an empty body. This answers them in the contract's error body instead.
 */
export function clientErrorHandler() {
  return (error: NodeJS.ErrnoException, socket: Duplex): void => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const correlationId = newCorrelationId('req');
    const mapped = mapError(
      error.code === 'HPE_HEADER_OVERFLOW'
        ? new AppError('PAYLOAD_TOO_LARGE', 'The request line or headers are too large')
        : new AppError('VALIDATION_FAILED', 'The request could not be parsed as HTTP'),
      correlationId,
    );
    const text = JSON.stringify(mapped.body);
    socket.end(
      [
        `HTTP/1.1 ${mapped.status} ${String(mapped.body.error)}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(text)}`,
        `X-Correlation-ID: ${correlationId}`,
        'X-Content-Type-Options: nosniff',
        'Connection: close',
        '',
        text,
      ].join('\r\n'),
    );
  };
}
