import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { mapError } from './error-mapping';
import { RequestContext } from './request-context';

/** The one global filter: every error leaves the service in the contract's body, never with a stack or SQL. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const correlationId =
      RequestContext.correlationId() ?? String(res.getHeader('X-Correlation-ID') ?? 'unknown');
    const mapped = mapError(exception, correlationId);
    if (mapped.unexpected) {
      this.logger.error({ msg: 'Unexpected error', method: req.method, path: req.path, error: exception });
    }
    if (res.headersSent) return;
    for (const [name, value] of Object.entries(mapped.headers)) res.setHeader(name, value);
    res.status(mapped.status).json(mapped.body);
  }
}
