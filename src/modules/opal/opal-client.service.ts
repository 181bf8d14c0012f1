import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { KeepAliveAgents, postBytes } from '../../common/http-post';
import { AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import { SERVICE_VERSION } from '../../domain/version';
import { STRATEGY_WORKFLOW } from '../../domain/opal';
import { OpalTargetService } from './opal-target.service';
import { OpalConfigurationService } from './opal-configuration.service';
import { classifyOpalStatus, parseRetryAfterMs, retryDelayMs, shouldRetry } from './retry-policy';
import type { AttemptOutcome, BackoffPolicy } from './retry-policy';
import {
  buildTriggerPayload,
  newSpanId,
  triggerInputsOf,
  type TriggerInputs,
  type TriggerPayload,
  type TriggerPayloadInput,
} from './trigger-payload';

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

/** What follows a call: OPAL accepted; retry after a delay; or give up (refused for good, or out of attempts). */
export type NextStep = { kind: 'accepted' } | { kind: 'retry'; retryInMs: number } | { kind: 'give_up' };

/**
 * The call to OPAL's strategy_workflow webhook (contract section 4): the request to store for a workflow, one
 * call, and what to do after it (retry classification and backoff). Making the retries is the dispatcher's job.
 */
@Injectable()
export class OpalClientService implements OnApplicationShutdown {
  private readonly logger = new Logger('OpalClient');
  private readonly agents = new KeepAliveAgents();

  constructor(
    private readonly config: AppConfig,
    private readonly target: OpalTargetService,
    private readonly opalConfig: OpalConfigurationService,
    private readonly metrics: MetricsService,
  ) {}

  /** The backoff of OPAL_RETRY_BASE_DELAY_MS, OPAL_RETRY_MAX_DELAY_MS and OPAL_MAX_ATTEMPTS. */
  get policy(): BackoffPolicy {
    return {
      baseDelayMs: this.config.opal.retryBaseDelayMs,
      maxDelayMs: this.config.opal.retryMaxDelayMs,
      maxAttempts: this.config.opal.maxAttempts,
    };
  }

  /**
   * The body of a workflow's trigger, built once (it is stored, and every call sends it unchanged), with a new
   * span id, the callback URL and the workspace id of the configuration.
   */
  buildRequest(input: Omit<TriggerPayloadInput, 'spanId' | 'callbackUrl' | 'workspaceId'>): TriggerPayload {
    return buildTriggerPayload({
      ...input,
      spanId: newSpanId(),
      callbackUrl: this.opalConfig.callbackUrl(),
      workspaceId: this.config.opal.workspaceId,
    });
  }

  /** The caller's choices in a stored trigger body (what a rerun sends again); see `triggerInputsOf`. */
  inputsOf(
    payload: unknown,
    fallback: Pick<TriggerInputs, 'clientName' | 'syncScope' | 'triggeredBy' | 'sessionId'>,
  ): TriggerInputs {
    return triggerInputsOf(payload, fallback);
  }

  /** After call number `attempt` (1-based): accepted, retry (full-jitter backoff, Retry-After honoured), or give up. */
  nextStep(attempt: number, result: Pick<OpalAttemptResult, 'outcome' | 'retryAfterMs'>): NextStep {
    if (result.outcome === 'accepted') return { kind: 'accepted' };
    if (!shouldRetry(attempt, result.outcome, this.policy)) return { kind: 'give_up' };
    return { kind: 'retry', retryInMs: retryDelayMs(attempt, this.policy, result.retryAfterMs) };
  }

  /** After every module's destroy hook, so attempts still in flight during shutdown finish first. */
  onApplicationShutdown(): void {
    this.agents.destroy();
  }

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
      const response = await postBytes(
        this.target.url(),
        Buffer.from(JSON.stringify(request.payload), 'utf8'),
        {
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
          agents: this.agents,
          signal,
          maxAnswerBytes: MAX_ANSWER_BYTES,
        },
      );
      statusCode = response.status;
      const retryAfter = response.headers['retry-after'];
      retryAfterMs = parseRetryAfterMs(typeof retryAfter === 'string' ? retryAfter : null, Date.now());
      answer = jsonObjectOf(response.body);
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

function jsonObjectOf(body: Buffer | null): Record<string, unknown> {
  if (body === null || body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
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
 * Names the kind of failure only: error messages carry host and port of the target. Duck-typed, so that an
 * error from another realm is described the same way.
 */
function describeFailure(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timeout after ${timeoutMs} ms`;
  const error = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    cause?: unknown;
  };
  if (error.name === 'AbortError') return 'aborted (service shutting down)';
  const cause = (typeof error.cause === 'object' && error.cause !== null ? error.cause : {}) as {
    code?: unknown;
  };
  const code = typeof error.code === 'string' ? error.code : cause.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)
    ? `network error (${code})`
    : 'network error';
}
