import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestContext } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { JobLeaseService } from '../../database/job-lease.service';
import { OpalClientService } from '../opal/opal-client.service';
import { OpalConfigurationService } from '../opal/opal-configuration.service';
import type { OpalAttemptResult } from '../opal/opal-client.service';
import { retryDelayMs, shouldRetry } from '../opal/retry-policy';
import type { BackoffPolicy } from '../opal/retry-policy';
import {
  WorkflowStateService,
  type TriggerAttemptRecord,
  type TriggerClaim,
  type TriggerSnapshot,
} from '../workflows/workflow-state.service';
import { IdempotencyService } from './idempotency.service';

/** The workflow's trigger state after an attempt was recorded. */
export type DispatchState = TriggerSnapshot;

export interface DispatchResult {
  attempt: OpalAttemptResult;
  state: DispatchState;
}

/** How long an attempt's claim outlives its timeout before another instance may take the trigger over. */
const LEASE_MARGIN_MS = 5000;
const POLL_INTERVAL_MS = 250;
const MAX_IN_FLIGHT = 10;
const CLEANUP_JOB = 'idempotency_keys_cleanup';
const CLEANUP_INTERVAL_MS = 60 * 60 * 1000;
const CLEANUP_CHECK_MS = 60 * 1000;

/**
 * Durable delivery of triggers to OPAL. The `workflows` row is the queue: a `pending` workflow whose next call
 * is due is claimed by exactly one instance (`WorkflowStateService.claimDueTriggers`: `FOR UPDATE SKIP LOCKED`,
 * the row held past the call's timeout), which then sends it and records the outcome through the same write
 * path. A crash mid-call therefore leaves the trigger due again once the lease ends, a restart picks up whatever
 * is pending, and two instances never send the same trigger at the same time. OPAL deduplicates repeats by
 * Idempotency-Key (the sync id), which covers a call whose answer was lost.
 *
 * Polling for due triggers is a loop of its own rather than a scheduled job under a job lease: every instance
 * sends triggers (the rows carry their own leases), and a retry is due within a fraction of a second.
 */
@Injectable()
export class TriggerDispatcherService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('TriggerDispatcher');
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private lastCleanupCheck = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly opal: OpalClientService,
    private readonly opalConfig: OpalConfigurationService,
    private readonly workflowState: WorkflowStateService,
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
   * The creating request's own first call, made right after the workflow was committed already holding that
   * call's claim (see `initialLeaseMs`); its answer time is recorded with it.
   */
  async attemptNow(syncId: string, timeoutMs: number, requestStartedAt: number): Promise<DispatchResult> {
    const request = await this.workflowState.outboundRequest(syncId);
    if (!request) throw new Error(`workflow ${syncId} vanished after creation`);
    return this.send({ ...request, attempt: 1 }, timeoutMs, undefined, requestStartedAt);
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
    const leaseMs = this.config.opal.timeoutMs + LEASE_MARGIN_MS;
    for (const claim of await this.workflowState.claimDueTriggers(capacity, leaseMs)) {
      const context = { correlationId: claim.correlationId, workflowCorrelationId: claim.correlationId };
      const attempt: Promise<void> = RequestContext.run(context, () =>
        this.send(claim, this.config.opal.timeoutMs, this.stopping.signal),
      )
        .then(() => undefined)
        .catch((error: unknown) => {
          this.logger.error({ msg: 'Could not record a trigger attempt', sync_id: claim.syncId, error });
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
    claim: TriggerClaim,
    timeoutMs: number,
    signal?: AbortSignal,
    requestStartedAt?: number,
  ): Promise<DispatchResult> {
    const metadata = (claim.payload.metadata ?? {}) as Record<string, unknown>;
    const result = await this.opal.send({
      syncId: claim.syncId,
      correlationId: claim.correlationId,
      spanId: typeof metadata.span_id === 'string' ? metadata.span_id : '',
      payload: claim.payload,
      timeoutMs,
      signal,
    });
    // A call cut short by shutdown is tried again at once (by another instance, or after the restart).
    const interrupted = signal?.aborted === true && result.outcome !== 'accepted';
    const responseTimeMs =
      requestStartedAt === undefined ? null : Math.round(performance.now() - requestStartedAt);
    let decision: TriggerAttemptRecord['decision'];
    if (result.outcome === 'accepted') decision = { kind: 'accepted' };
    else if (interrupted) decision = { kind: 'retry', retryInMs: 0 };
    else if (shouldRetry(claim.attempt, result.outcome, this.policy)) {
      decision = { kind: 'retry', retryInMs: retryDelayMs(claim.attempt, this.policy, result.retryAfterMs) };
    } else decision = { kind: 'give_up' };
    const state = await this.workflowState.recordTriggerAttempt({
      syncId: claim.syncId,
      attempt: claim.attempt,
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode,
      outcome: result.outcome,
      error: interrupted ? 'interrupted: service shutting down' : result.error,
      opalWorkflowId: result.workflowId,
      sessionId: result.sessionId,
      decision,
      responseTimeMs,
    });
    return { attempt: result, state };
  }
}
