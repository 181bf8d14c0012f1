import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { RequestContext } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { JobLeaseService } from '../../database/job-lease.service';
import { OpalClientService } from '../opal/opal-client.service';
import { OpalConfigurationService } from '../opal/opal-configuration.service';
import type { OpalAttemptResult } from '../opal/opal-client.service';
import { retryDelayMs, shouldRetry } from '../opal/retry-policy';
import type { BackoffPolicy } from '../opal/retry-policy';
import { IdempotencyService } from './idempotency.service';

/** A pending trigger claimed by this instance for one attempt. */
interface Claim {
  id: string;
  attempt: number;
  correlation_id: string;
  outbound_payload: Record<string, unknown>;
}

/** The workflow's trigger state after an attempt was recorded. */
export interface DispatchState {
  status: string;
  attempts: number;
  opalWorkflowId: string | null;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
}

export interface DispatchResult {
  attempt: OpalAttemptResult;
  state: DispatchState;
}

interface StateRow {
  status: string;
  trigger_attempts: number;
  opal_workflow_id: string | null;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
}

const STATE_COLUMNS =
  'status, trigger_attempts, opal_workflow_id, next_attempt_at, last_status_code, last_error';
/** How long an attempt's claim outlives its timeout before another instance may take the trigger over. */
const LEASE_MARGIN_MS = 5000;
const POLL_INTERVAL_MS = 250;
const MAX_IN_FLIGHT = 10;
const CLEANUP_JOB = 'idempotency_keys_cleanup';
const CLEANUP_INTERVAL_MS = 60 * 60 * 1000;
const CLEANUP_CHECK_MS = 60 * 1000;

function toState(row: StateRow): DispatchState {
  return {
    status: row.status,
    attempts: row.trigger_attempts,
    opalWorkflowId: row.opal_workflow_id,
    nextAttemptAt: row.next_attempt_at,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
  };
}

/**
 * Durable delivery of triggers to OPAL. The `workflows` row is the queue: a `pending` workflow whose
 * `next_attempt_at` is due is claimed with `FOR UPDATE SKIP LOCKED` by exactly one instance, which moves
 * `next_attempt_at` past the attempt's timeout (the lease) before sending. A crash mid-attempt therefore
 * leaves the trigger due again once the lease ends, a restart picks up whatever is pending, and two
 * instances never send the same trigger at the same time. OPAL deduplicates repeats by Idempotency-Key
 * (the sync id), which covers an attempt whose answer was lost.
 */
@Injectable()
export class TriggerDispatcherService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('TriggerDispatcher');
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private lastCleanupCheck = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly opal: OpalClientService,
    private readonly opalConfig: OpalConfigurationService,
    private readonly jobs: JobLeaseService,
    private readonly idempotency: IdempotencyService,
  ) {}

  get policy(): BackoffPolicy {
    return {
      baseDelayMs: this.config.opal.retryBaseDelayMs,
      maxDelayMs: this.config.opal.retryMaxDelayMs,
      maxAttempts: this.config.opal.maxAttempts,
    };
  }

  /** The claim a new workflow starts with, so the background loop leaves it to the request that created it. */
  get initialLeaseMs(): number {
    return this.config.opal.timeoutMs + LEASE_MARGIN_MS;
  }

  onApplicationBootstrap(): void {
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.loop = null;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * The request's own first attempt, made right after the workflow was committed. Returns null when the
   * workflow is no longer pending (another instance or a callback got there first).
   */
  async attemptNow(
    workflowId: string,
    timeoutMs: number,
    requestStartedAt: number,
  ): Promise<DispatchResult | null> {
    const [claims]: [Claim[], number] = await this.dataSource.query(
      `UPDATE workflows
          SET next_attempt_at = now() + ($2::int * interval '1 millisecond'),
              trigger_attempts = trigger_attempts + 1, updated_at = now()
        WHERE id = $1 AND status = 'pending'
        RETURNING id, trigger_attempts AS attempt, correlation_id, outbound_payload`,
      [workflowId, timeoutMs + LEASE_MARGIN_MS],
    );
    const claim = claims[0];
    if (!claim) return null;
    return this.send(claim, timeoutMs, undefined, requestStartedAt);
  }

  /** Claims up to `limit` due triggers for this instance. */
  async claimDue(limit: number): Promise<Claim[]> {
    const [rows]: [Claim[], number] = await this.dataSource.query(
      `UPDATE workflows
          SET next_attempt_at = now() + ($1::int * interval '1 millisecond'),
              trigger_attempts = trigger_attempts + 1, updated_at = now()
        WHERE id IN (SELECT id FROM workflows
                      WHERE status = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at
                      LIMIT $2
                      FOR UPDATE SKIP LOCKED)
        RETURNING id, trigger_attempts AS attempt, correlation_id, outbound_payload`,
      [this.config.opal.timeoutMs + LEASE_MARGIN_MS, limit],
    );
    return rows;
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.logger.warn({ msg: 'Trigger dispatch round failed; retrying', error });
      }
      await sleep(POLL_INTERVAL_MS, undefined, { signal }).catch(() => undefined);
    }
  }

  private async tick(): Promise<void> {
    await this.cleanupIfDue();
    const capacity = MAX_IN_FLIGHT - this.inFlight.size;
    if (capacity <= 0 || this.stopping.signal.aborted) return;
    // With invalid OPAL settings every attempt would fail; pending triggers wait until the settings are fixed.
    if (!this.opalConfig.report().valid) return;
    for (const claim of await this.claimDue(capacity)) {
      const context = { correlationId: claim.correlation_id, workflowCorrelationId: claim.correlation_id };
      const attempt: Promise<void> = RequestContext.run(context, () =>
        this.send(claim, this.config.opal.timeoutMs, this.stopping.signal),
      )
        .then(() => undefined)
        .catch((error: unknown) => {
          this.logger.error({ msg: 'Could not record a trigger attempt', sync_id: claim.id, error });
        })
        .finally(() => this.inFlight.delete(attempt));
      this.inFlight.add(attempt);
    }
  }

  private async cleanupIfDue(): Promise<void> {
    if (Date.now() - this.lastCleanupCheck < CLEANUP_CHECK_MS) return;
    this.lastCleanupCheck = Date.now();
    if (!(await this.jobs.claim(CLEANUP_JOB, CLEANUP_INTERVAL_MS))) return;
    const deleted = await this.idempotency.deleteExpired();
    await this.jobs.recordResult(CLEANUP_JOB, { deleted });
  }

  /** `requestStartedAt` (performance.now()): the attempt of a request, whose response time is recorded with it. */
  private async send(
    claim: Claim,
    timeoutMs: number,
    signal?: AbortSignal,
    requestStartedAt?: number,
  ): Promise<DispatchResult> {
    const metadata = (claim.outbound_payload.metadata ?? {}) as Record<string, unknown>;
    const result = await this.opal.send({
      syncId: claim.id,
      correlationId: claim.correlation_id,
      spanId: typeof metadata.span_id === 'string' ? metadata.span_id : '',
      payload: claim.outbound_payload,
      timeoutMs,
      signal,
    });
    const interrupted = signal?.aborted === true && result.outcome !== 'accepted';
    const responseTimeMs =
      requestStartedAt === undefined ? null : Math.round(performance.now() - requestStartedAt);
    const state = await this.record(claim, result, interrupted, responseTimeMs);
    return { attempt: result, state };
  }

  /**
   * Records the attempt and moves the workflow on, unless a newer claim has taken the trigger over. One
   * statement (the attempt row is inserted by a data-modifying CTE), so it is atomic without a transaction.
   * `responseTimeMs`, given by the request that made its own first attempt, is stored with it.
   */
  private async record(
    claim: Claim,
    result: OpalAttemptResult,
    interrupted: boolean,
    responseTimeMs: number | null = null,
  ): Promise<DispatchState> {
    const error = interrupted ? 'interrupted: service shutting down' : result.error;
    const attemptCte = `WITH attempt AS (
         INSERT INTO trigger_attempts (workflow_id, attempt, started_at, duration_ms, status_code, outcome, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (workflow_id, attempt) DO NOTHING)`;
    const attemptValues = [
      claim.id,
      claim.attempt,
      result.startedAt,
      result.durationMs,
      result.statusCode,
      result.outcome,
      error,
    ];
    let rows: StateRow[];
    if (result.outcome === 'accepted') {
      [rows] = await this.dataSource.query(
        `${attemptCte}
         UPDATE workflows
            SET status = CASE WHEN status = 'pending' THEN 'triggered' ELSE status END,
                opal_workflow_id = CASE
                  WHEN opal_workflow_id IS NULL AND $8::text IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM workflows o WHERE o.opal_workflow_id = $8 AND o.id <> $1)
                  THEN $8 ELSE opal_workflow_id END,
                session_id = COALESCE(session_id, $9),
                triggered_at = COALESCE(triggered_at, now()),
                next_attempt_at = NULL, last_status_code = $5, last_error = NULL,
                trigger_attempts = GREATEST(trigger_attempts, $2),
                response_time_ms = COALESCE($10::int, response_time_ms), updated_at = now()
          WHERE id = $1 AND status <> 'trigger_failed'
          RETURNING ${STATE_COLUMNS}`,
        [...attemptValues, result.workflowId, result.sessionId, responseTimeMs],
      );
    } else {
      const retry = interrupted || shouldRetry(claim.attempt, result.outcome, this.policy);
      const delayMs = interrupted ? 0 : retryDelayMs(claim.attempt, this.policy, result.retryAfterMs);
      [rows] = await this.dataSource.query(
        `${attemptCte}
         UPDATE workflows
            SET status = CASE WHEN $8 THEN status ELSE 'trigger_failed' END,
                next_attempt_at = CASE WHEN $8 THEN now() + ($9::int * interval '1 millisecond') ELSE NULL END,
                completed_at = CASE WHEN $8 THEN completed_at ELSE now() END,
                last_status_code = $5, last_error = $7,
                response_time_ms = COALESCE($10::int, response_time_ms), updated_at = now()
          WHERE id = $1 AND status = 'pending' AND trigger_attempts = $2
          RETURNING ${STATE_COLUMNS}`,
        [...attemptValues, retry, delayMs, responseTimeMs],
      );
      if (rows.length > 0 && !retry) {
        this.logger.warn({
          msg: 'OPAL trigger failed for good',
          sync_id: claim.id,
          attempts: claim.attempt,
          status_code: result.statusCode,
          error,
        });
      }
    }
    if (rows.length > 0) return toState(rows[0]);
    const current: StateRow[] = await this.dataSource.query(
      `SELECT ${STATE_COLUMNS} FROM workflows WHERE id = $1`,
      [claim.id],
    );
    return toState(current[0]);
  }
}
