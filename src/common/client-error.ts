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
    // An answer already under way cannot be replaced: the connection is only closed.
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const correlationId = newCorrelationId('req');
    const mapped = mapError(errorFor(error.code), correlationId);
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

function errorFor(code: string | undefined): AppError {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new AppError('PAYLOAD_TOO_LARGE', 'The request line or headers are too large');
  }
  // The server's headers timeout (10 s) or request timeout (30 s) passed before the request was received.
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new AppError('REQUEST_TIMEOUT', 'The request was not received in time');
  }
  return new AppError('VALIDATION_FAILED', 'The request could not be parsed as HTTP');
}
