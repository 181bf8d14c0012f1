import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { RequestContext } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { OpalBreakerService, type BreakerPermit } from '../opal/opal-breaker.service';
import { OpalClientService } from '../opal/opal-client.service';
import { OpalConfigurationService } from '../opal/opal-configuration.service';
import type { OpalAttemptResult } from '../opal/opal-client.service';
import {
  WorkflowStateService,
  type TriggerAttemptRecord,
  type TriggerClaim,
  type TriggerSnapshot,
} from '../workflows/workflow-state.service';

/** The workflow's trigger state after an attempt was recorded. */
export type DispatchState = TriggerSnapshot;

export interface DispatchResult {
  attempt: OpalAttemptResult;
  state: DispatchState;
}

/** How long an attempt's claim outlives its timeout before another instance may take the trigger over. */
const LEASE_MARGIN_MS = 5000;
const MAX_IN_FLIGHT = 10;

/**
 * Durable delivery of triggers to OPAL. The `workflows` row is the queue: a `pending` workflow whose next call
 * is due is claimed by exactly one instance (`WorkflowStateService.claimDueTriggers`: `FOR UPDATE SKIP LOCKED`,
 * the row held past the call's timeout), which then sends it and records the outcome through the same write
 * path. A crash mid-call therefore leaves the trigger due again once the lease ends, a restart picks up whatever
 * is pending, and two instances never send the same trigger at the same time. OPAL deduplicates repeats by
 * Idempotency-Key (the sync id), which covers a call whose answer was lost.
 *
 * The scheduler calls `dispatchDue` every 250 ms on every instance, without a job lease: the rows carry their
 * own claims, and every instance may send triggers. Calls run in the background, up to 10 at once; on shutdown
 * the calls in flight are cut short and recorded as interrupted (due again at once, for another instance).
 */
@Injectable()
export class TriggerDispatcherService implements OnModuleDestroy {
  private readonly logger = new Logger('TriggerDispatcher');
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly config: AppConfig,
    private readonly opal: OpalClientService,
    private readonly opalConfig: OpalConfigurationService,
    private readonly workflowState: WorkflowStateService,
    private readonly breaker: OpalBreakerService,
  ) {}

  /** The claim a new workflow starts with, so the background loop leaves it to the request that created it. */
  get initialLeaseMs(): number {
    return this.config.opal.timeoutMs + LEASE_MARGIN_MS;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * The creating request's own first call, made right after the workflow was committed already holding that
   * call's claim (see `initialLeaseMs`), under the breaker's `permit`; its answer time is recorded with it.
   */
  async attemptNow(
    claim: TriggerClaim,
    permit: BreakerPermit,
    timeoutMs: number,
    requestStartedAt: number,
  ): Promise<DispatchResult> {
    return this.send(claim, permit, timeoutMs, undefined, requestStartedAt);
  }

  /** Claims the calls to OPAL that are due (as many as there is room for) and starts them. */
  async dispatchDue(): Promise<void> {
    const room = MAX_IN_FLIGHT - this.inFlight.size;
    if (room <= 0 || this.stopping.signal.aborted) return;
    // With invalid OPAL settings every attempt would fail; pending triggers wait until the settings are fixed.
    if (!this.opalConfig.report().valid) return;
    // An open breaker lets nothing out; a half-open one lets one probe out.
    const { calls: capacity, permit } = this.breaker.admit(room);
    if (capacity === 0) return;
    const leaseMs = this.config.opal.timeoutMs + LEASE_MARGIN_MS;
    let claims: TriggerClaim[] = [];
    try {
      claims = await this.workflowState.claimDueTriggers(capacity, leaseMs);
    } finally {
      if (claims.length === 0) this.breaker.release(permit);
    }
    for (const claim of claims) {
      const context = { correlationId: claim.correlationId, workflowCorrelationId: claim.correlationId };
      const attempt: Promise<void> = RequestContext.run(context, () =>
        this.send(claim, permit, this.config.opal.timeoutMs, this.stopping.signal),
      )
        .then(() => undefined)
        .catch((error: unknown) => {
          this.logger.error({ msg: 'Could not record a trigger attempt', sync_id: claim.syncId, error });
        })
        .finally(() => this.inFlight.delete(attempt));
      this.inFlight.add(attempt);
    }
  }

  /** `requestStartedAt` (performance.now()): the attempt of a request, whose response time is recorded with it. */
  private async send(
    claim: TriggerClaim,
    permit: BreakerPermit,
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
    if (interrupted) this.breaker.release(permit);
    else this.breaker.record(permit, result.outcome);
    const responseTimeMs =
      requestStartedAt === undefined ? null : Math.round(performance.now() - requestStartedAt);
    const decision: TriggerAttemptRecord['decision'] = interrupted
      ? { kind: 'retry', retryInMs: 0 }
      : this.opal.nextStep(claim.attempt, result);
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
