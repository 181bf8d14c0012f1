import type { LoggerService } from '@nestjs/common';
import { redact, redactString } from './redact';
import { RequestContext } from './request-context';
import { StartupError } from './startup-error';

type Level = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** `json`: one JSON object per line (files, collectors); `pretty`: one readable line (a person at a terminal). */
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  debug: boolean;
  format?: LogFormat;
  /** Where lines go (tests); default stdout. */
  write?: (line: string) => void;
}

/**
 * The logger of Nest and of the service's own code: each line has level, time, context, message and the
 * correlation id of the request being served, written as JSON or as readable text. Everything passes through
 * `redact` before either format sees it, so both mask the same secrets.
 */
export class JsonLogger implements LoggerService {
  private readonly colors: boolean;

  constructor(private readonly options: LoggerOptions = { debug: false }) {
    this.colors = options.format === 'pretty' && !options.write && process.stdout.isTTY === true;
  }

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
    if (message instanceof StartupError) {
      // The message names the cause and the fix; the stack adds nothing for the person reading it.
      line.msg = redactString(message.message);
    } else if (message instanceof Error) {
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
    const text = this.options.format === 'pretty' ? prettyLine(line, this.colors) : JSON.stringify(line);
    if (this.options.write) this.options.write(text);
    else stdoutLines.write(text);
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

/** Lines waiting above this many characters are written at once rather than at the end of the loop turn. */
const MAX_BUFFERED_CHARS = 64 * 1024;

/**
 * The lines of one event-loop turn go to stdout in one write. Writes to a file or a pipe are synchronous system
 * calls in Node (on Linux), and a request's access line plus a few others per request made them a measurable
 * part of a request's cost under load. The buffer is written at the end of the turn (`setImmediate`), when it
 * grows past 64 KiB, and on exit (including `process.exit` after a fatal line); only a kill that gives the process
 * no chance to run (SIGKILL) can lose the lines of the turn it interrupted.
 */
class StdoutLines {
  private pending: string[] = [];
  private chars = 0;
  private scheduled: NodeJS.Immediate | null = null;

  constructor() {
    process.once('exit', () => this.flush());
  }

  write(line: string): void {
    this.pending.push(line, '\n');
    this.chars += line.length + 1;
    if (this.chars > MAX_BUFFERED_CHARS) this.flush();
    else if (this.scheduled === null) {
      this.scheduled = setImmediate(() => this.flush());
      // Never what keeps the process alive: exit writes what is left.
      this.scheduled.unref();
    }
  }

  flush(): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.chars = 0;
    process.stdout.write(text);
  }
}

const stdoutLines = new StdoutLines();

const LEVEL_COLORS: Record<string, string> = {
  debug: '\x1b[90m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[41;97m',
};

/**
 * `12:04:05.123 INFO  [Database] message key=value …`: local time, level, context, message, then the other
 * fields (correlation ids, request figures, metadata) and, on the next lines, a stack.
 */
export function prettyLine(line: Record<string, unknown>, colors = false): string {
  const { level, time, context, msg, err, stack, ...rest } = line as Record<string, unknown> & {
    level: string;
    time: string;
    context?: string;
    msg?: unknown;
    err?: { name: string; stack: string };
    stack?: string;
  };
  const when = new Date(time);
  const clock = [when.getHours(), when.getMinutes(), when.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
  const label = level.toUpperCase().padEnd(5);
  const parts = [
    `${clock}.${String(when.getMilliseconds()).padStart(3, '0')}`,
    colors ? `${LEVEL_COLORS[level] ?? ''}${label}\x1b[0m` : label,
  ];
  if (context) parts.push(colors ? `\x1b[36m[${context}]\x1b[0m` : `[${context}]`);
  if (msg !== undefined) parts.push(typeof msg === 'string' ? msg : JSON.stringify(msg));
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    parts.push(`${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
  }
  const trace = err?.stack ?? stack;
  return trace ? `${parts.join(' ')}\n${trace.replace(/^/gm, '    ')}` : parts.join(' ');
}
