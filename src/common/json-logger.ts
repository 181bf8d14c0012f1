import type { LoggerService } from '@nestjs/common';
import { redact, redactString } from './redact';
import { RequestContext } from './request-context';

type Level = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * JSON-lines logger for Nest and for the service's own code: one object per line with level, time, context,
 * message and the correlation id of the request being served. Everything passes through `redact`.
 */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly options: { debug: boolean; write?: (line: string) => void } = { debug: false },
  ) {}

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (level === 'debug' && !this.options.debug) return;
    const rest = [...params];
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const line: Record<string, unknown> = { level, time: new Date().toISOString() };
    if (context) line.context = context;
    const correlationId = RequestContext.correlationId();
    if (correlationId) line.correlation_id = correlationId;
    const workflowCorrelationId = RequestContext.current()?.workflowCorrelationId;
    if (workflowCorrelationId) line.workflow_correlation_id = workflowCorrelationId;
    if (message instanceof Error) {
      line.msg = redactString(message.message);
      line.err = { name: message.name, stack: redactString(message.stack ?? '') };
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(line, redact(message));
    } else {
      line.msg = redactString(String(message));
    }
    for (const extra of rest) {
      if (typeof extra === 'string' && extra.includes('\n    at ')) line.stack = redactString(extra);
      else if (extra !== undefined) line.meta = redact(extra);
    }
    const text = JSON.stringify(line);
    if (this.options.write) this.options.write(text);
    else process.stdout.write(`${text}\n`);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
}
