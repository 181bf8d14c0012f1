import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { SERVICE_VERSION } from '../../version';
import { STRATEGY_WORKFLOW } from './agents';
import { OpalTargetService } from './opal-target.service';
import { classifyOpalStatus, parseRetryAfterMs } from './retry-policy';
import type { AttemptOutcome } from './retry-policy';

export interface OpalAttemptRequest {
  syncId: string;
  correlationId: string;
  spanId: string;
  /** The stored body, sent unchanged on every attempt. */
  payload: Record<string, unknown>;
  timeoutMs: number;
  /** Aborts the attempt early (service shutdown). */
  signal?: AbortSignal;
}

export interface OpalAttemptResult {
  /** null: no answer (network error, timeout, aborted). */
  statusCode: number | null;
  outcome: AttemptOutcome;
  startedAt: Date;
  durationMs: number;
  /** A short description for operators; never contains the key, the URL or OPAL's body. */
  error: string | null;
  workflowId: string | null;
  sessionId: string | null;
  retryAfterMs: number | null;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/** One call to OPAL's strategy_workflow webhook (contract section 4). Retrying is the dispatcher's job. */
@Injectable()
export class OpalClientService {
  private readonly logger = new Logger('OpalClient');

  constructor(
    private readonly config: AppConfig,
    private readonly target: OpalTargetService,
    private readonly metrics: MetricsService,
  ) {}

  async send(request: OpalAttemptRequest): Promise<OpalAttemptResult> {
    const startedAt = new Date();
    const started = performance.now();
    const timeout = AbortSignal.timeout(request.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let statusCode: number | null;
    let error: string | null = null;
    let answer: Record<string, unknown> = {};
    let retryAfterMs: number | null = null;
    try {
      const response = await fetch(this.target.url(), {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${this.config.opal.authKey}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'User-Agent': `opal-force-sync/${SERVICE_VERSION}`,
          'X-Correlation-ID': request.correlationId,
          'X-Span-ID': request.spanId,
          'X-Workflow-Name': STRATEGY_WORKFLOW,
          'Idempotency-Key': request.syncId,
        },
        body: JSON.stringify(request.payload),
        redirect: 'manual',
        signal,
      });
      statusCode = response.status;
      retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), Date.now());
      answer = await readJsonObject(response);
      if (classifyOpalStatus(statusCode) !== 'accepted') error = `OPAL answered HTTP ${statusCode}`;
    } catch (err) {
      statusCode = null;
      error = describeFailure(err, timeout.aborted, request.timeoutMs);
    }
    const durationMs = Math.round(performance.now() - started);
    const outcome = classifyOpalStatus(statusCode);
    this.metrics.opalAttempts.inc({
      outcome,
      status_code: statusCode === null ? 'none' : String(statusCode),
    });
    this.metrics.opalDuration.observe(durationMs / 1000);

    const workflowId = stringField(answer.workflow_id) ?? stringField(answer.id);
    const sessionId = stringField(answer.session_id);
    const line = {
      msg: 'OPAL trigger attempt',
      sync_id: request.syncId,
      outcome,
      status_code: statusCode,
      duration_ms: durationMs,
      opal_workflow_id: workflowId,
      error,
    };
    if (outcome === 'accepted') this.logger.log(line);
    else this.logger.warn(line);

    return {
      statusCode,
      outcome,
      startedAt,
      durationMs,
      error,
      workflowId: outcome === 'accepted' ? workflowId : null,
      sessionId: outcome === 'accepted' ? sessionId : null,
      retryAfterMs,
    };
  }
}

async function readJsonObject(response: Response): Promise<Record<string, unknown>> {
  try {
    const buffer = await response.arrayBuffer();
    if (buffer.byteLength === 0 || buffer.byteLength > MAX_ANSWER_BYTES) return {};
    const parsed: unknown = JSON.parse(Buffer.from(buffer).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function stringField(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : null;
}

/**
 * Names the kind of failure only: error messages of fetch carry host and port of the target. Duck-typed, as
 * fetch's errors may come from another realm (so `instanceof Error` cannot be relied on).
 */
function describeFailure(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timeout after ${timeoutMs} ms`;
  const error = (typeof err === 'object' && err !== null ? err : {}) as { name?: unknown; cause?: unknown };
  if (error.name === 'AbortError') return 'aborted (service shutting down)';
  const cause = (typeof error.cause === 'object' && error.cause !== null ? error.cause : {}) as {
    code?: unknown;
  };
  return typeof cause.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(cause.code)
    ? `network error (${cause.code})`
    : 'network error';
}
