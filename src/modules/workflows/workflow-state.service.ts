import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError } from '../../common/app-error';
import { MetricsService } from '../../metrics/metrics.service';
import type { TriggerOutcome, WorkflowStatus } from '../../domain/workflow';
import { WorkflowEvents, type WorkflowChanged } from './workflow-events.service';
import type { WorkflowOutcome } from './workflow-outcomes';
import { WorkflowTransaction } from './workflow-transaction';
import { WorkflowsRepository, type NewWorkflowRow } from './workflows.repository';

export type { AgentState, StoredCallback, WorkflowState } from './workflow-state';
export type { ReceivedCallback, WorkflowTransaction } from './workflow-transaction';
export type { LoadedWorkflow, WorkflowRef } from './workflows.repository';

export interface NewWorkflow extends NewWorkflowRow {
  /**
   * Refuse (409 SYNC_ALREADY_ACTIVE) while a workflow of the same scope and client is active and younger than
   * this many minutes; concurrent creations of one scope and client are serialised across instances.
   */
  singleFlightMinutes: number | null;
}

/** A call to OPAL claimed by this instance: the stored request to send. */
export interface TriggerClaim {
  syncId: string;
  attempt: number;
  correlationId: string;
  payload: Record<string, unknown>;
}

/** What one call to OPAL did, and what the caller decided about the trigger. */
export interface TriggerAttemptRecord {
  syncId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  outcome: TriggerOutcome;
  error: string | null;
  /** OPAL's ids from an accepting answer. */
  opalWorkflowId: string | null;
  sessionId: string | null;
  /** accepted; retry after `retryInMs`; or give up (trigger_failed). */
  decision: { kind: 'accepted' } | { kind: 'retry'; retryInMs: number } | { kind: 'give_up' };
  /** The creating request's answer time, recorded with its own first call. */
  responseTimeMs: number | null;
}

/** The trigger's delivery as stored after a call was recorded. */
export interface TriggerSnapshot {
  status: WorkflowStatus;
  attempts: number;
  opalWorkflowId: string | null;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
}

const SWEEP_BATCH = 100;

/**
 * The one write path of workflow state. Every change — creation, the trigger's delivery (claimed, accepted,
 * retry scheduled, given up), OPAL's callbacks applied, the timeout sweep, a replay's rebuild — is computed by
 * the pure state machine (`workflow-state.ts`) inside `transaction()`, stored with `version + 1` in the same
 * statement, and announced by `WorkflowEvents` once the transaction has committed: exactly one notification per
 * changed workflow, with the version it stored.
 *
 * A new transition (e.g. a cancel) is an event of the state machine plus a method here that loads the workflow
 * locked, applies the event and returns; storing, versioning and announcing come with `transaction()`.
 */
@Injectable()
export class WorkflowStateService {
  private readonly logger = new Logger('WorkflowState');

  constructor(
    private readonly dataSource: DataSource,
    private readonly repo: WorkflowsRepository,
    private readonly events: WorkflowEvents,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Runs `work` in one database transaction with the write path's `WorkflowTransaction`; announces the changed
   * workflows after the commit (nothing when it rolls back).
   */
  async transaction<T>(work: (tx: WorkflowTransaction) => Promise<T>): Promise<T> {
    const stored = new Map<string, WorkflowChanged>();
    const outcomes: WorkflowOutcome[] = [];
    const result = await this.dataSource.transaction(async (manager) => {
      const tx = new WorkflowTransaction(manager, this.repo, stored, outcomes);
      const value = await work(tx);
      await tx.flush();
      return value;
    });
    this.recordOutcomes(outcomes);
    this.events.publish(stored.values());
    return result;
  }

  /**
   * The service levels' series (contract section 15), from the committed changes of this instance: each
   * instance counts the transitions it stored, and Prometheus sums the instances.
   */
  private recordOutcomes(outcomes: readonly WorkflowOutcome[]): void {
    for (const outcome of outcomes) {
      if (outcome.finished) {
        this.metrics.workflowsFinished.inc({ status: outcome.finished.status });
        if (outcome.finished.durationSeconds !== null) {
          this.metrics.workflowDuration.observe(outcome.finished.durationSeconds);
        }
      }
      if (outcome.firstCallbackSeconds !== null) {
        this.metrics.workflowFirstCallback.observe(outcome.firstCallbackSeconds);
      }
      for (const { agent, status } of outcome.agentsFinished) {
        this.metrics.agentRunsFinished.inc({ agent, status });
      }
    }
  }

  /**
   * Creates a workflow (pending, nine pending agents, its first call to OPAL claimed by the creating request) and
   * answers that first call: the request as stored. Throws SYNC_ALREADY_ACTIVE (with the active workflow's id)
   * when single flight applies and one is active.
   */
  async create(input: NewWorkflow): Promise<TriggerClaim> {
    return this.transaction(async (tx) => {
      if (input.singleFlightMinutes !== null && input.syncScope !== null) {
        const active = await this.repo.lockScopeAndFindActive(
          tx.manager,
          input.syncScope,
          input.clientName,
          input.singleFlightMinutes,
        );
        if (active !== null) {
          throw new AppError(
            'SYNC_ALREADY_ACTIVE',
            'A sync with the same scope and client is still active; set allow_concurrent to start another',
            [{ sync_id: active }],
          );
        }
      }
      const stored = await this.repo.insert(tx.manager, input);
      tx.created({ syncId: input.id, version: stored.version, status: 'pending' });
      return {
        syncId: input.id,
        attempt: 1,
        correlationId: input.correlationId,
        payload: stored.outboundPayload,
      };
    });
  }

  /**
   * Claims up to `limit` due calls to OPAL for this instance: each workflow's next attempt is counted and its
   * row held for `leaseMs` (nextAttemptAt), so no other instance sends it meanwhile, and a crash leaves it due
   * again once the lease ends.
   */
  async claimDueTriggers(limit: number, leaseMs: number): Promise<TriggerClaim[]> {
    if (limit <= 0 || (await this.repo.dueTriggerIds(limit)).length === 0) return [];
    return this.transaction(async (tx) => {
      const due = await this.repo.lockDueTriggers(tx.manager, limit);
      if (due.length === 0) return [];
      const leaseUntil = new Date((await tx.now()).getTime() + leaseMs);
      const loaded = await tx.load(due, { lock: false });
      const outbound = await this.repo.outboundOf(due, tx.manager);
      const claims: TriggerClaim[] = [];
      for (const [syncId, workflow] of loaded) {
        const attempt = workflow.state.trigger.attempts + 1;
        const request = outbound.get(syncId);
        if (!request || !tx.apply(syncId, { type: 'trigger_claimed', attempt, leaseUntil }).changed) continue;
        claims.push({ syncId, attempt, correlationId: workflow.ref.correlationId, payload: request.payload });
      }
      return claims;
    });
  }

  /**
   * Records one call to OPAL and moves the trigger on: accepted → triggered; retry → due again after
   * `retryInMs`; give up → trigger_failed. A call that lost its claim (another instance took the trigger over)
   * is recorded but changes nothing.
   */
  async recordTriggerAttempt(call: TriggerAttemptRecord): Promise<TriggerSnapshot> {
    return this.transaction(async (tx) => {
      const workflow = (await tx.load([call.syncId], { lock: true })).get(call.syncId);
      if (!workflow) throw new Error(`workflow ${call.syncId} does not exist`);
      await this.repo.insertAttempt(tx.manager, call);
      const at = new Date(call.startedAt.getTime() + call.durationMs);
      const { syncId, attempt, statusCode, error } = call;
      switch (call.decision.kind) {
        case 'accepted':
          if (tx.apply(syncId, { type: 'trigger_accepted', attempt, occurredAt: at, statusCode }).changed) {
            tx.attach(syncId, { opalWorkflowId: call.opalWorkflowId, sessionId: call.sessionId });
          }
          break;
        case 'retry': {
          const nextAttemptAt = new Date((await tx.now()).getTime() + call.decision.retryInMs);
          tx.apply(syncId, {
            type: 'trigger_retry_scheduled',
            attempt,
            occurredAt: at,
            statusCode,
            error,
            nextAttemptAt,
          });
          break;
        }
        case 'give_up':
          if (
            tx.apply(syncId, { type: 'trigger_rejected', attempt, occurredAt: at, statusCode, error }).changed
          ) {
            this.logger.warn({
              msg: 'OPAL trigger failed for good',
              sync_id: syncId,
              attempts: attempt,
              status_code: statusCode,
              error,
            });
          }
          break;
      }
      if (call.responseTimeMs !== null) tx.attach(syncId, { responseTimeMs: call.responseTimeMs });
      await tx.flush();
      const state = tx.stateOf(syncId);
      return {
        status: state.status,
        attempts: state.trigger.attempts,
        opalWorkflowId: tx.loadedOf(syncId)?.ref.opalWorkflowId ?? null,
        nextAttemptAt: state.trigger.nextAttemptAt,
        lastStatusCode: state.trigger.lastStatusCode,
        lastError: state.trigger.lastError,
      };
    });
  }

  /**
   * Marks workflows that got no terminal event within `timeoutMinutes` (and their pending or running agents)
   * `timed_out`. Safe on every instance at once: rows locked by another sweep or by event processing are skipped
   * and picked up by the next run. Returns how many workflows timed out.
   */
  async sweepTimeouts(timeoutMinutes: number, now: Date = new Date()): Promise<number> {
    const createdBefore = new Date(now.getTime() - timeoutMinutes * 60_000);
    let total = 0;
    for (;;) {
      const swept = await this.transaction(async (tx) => {
        const due = await this.repo.lockTimedOut(tx.manager, createdBefore, SWEEP_BATCH);
        await tx.load(due, { lock: false });
        let count = 0;
        for (const id of due) if (tx.apply(id, { type: 'timeout', occurredAt: now }).changed) count++;
        return { count, full: due.length === SWEEP_BATCH };
      });
      total += swept.count;
      if (!swept.full || swept.count === 0) break;
    }
    if (total > 0) this.logger.warn({ msg: 'Workflows timed out', count: total });
    return total;
  }
}
