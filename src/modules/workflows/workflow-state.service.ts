import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AppError } from '../../common/app-error';
import type { SyncScope } from '../../domain/opal';
import type { TriggerOutcome, WorkflowSource, WorkflowStatus } from '../../domain/workflow';
import { WorkflowEvents, type WorkflowChanged } from './workflow-events.service';
import {
  applyEvent,
  callbackEventOf,
  foldEvents,
  sameWorkflowState,
  stateBeforeCallbacks,
  type StateEvent,
  type StoredCallback,
  type WorkflowState,
} from './workflow-state';
import { WorkflowsRepository, type LoadedWorkflow, type WorkflowWrite } from './workflows.repository';

export type { AgentState, StoredCallback, WorkflowState } from './workflow-state';
export type { LoadedWorkflow, WorkflowRef } from './workflows.repository';

/** A stored callback with its receipt time (replay puts a sweep's timeout back where it happened). */
export interface ReceivedCallback extends StoredCallback {
  receivedAt: Date;
}

export interface NewWorkflow {
  id: string;
  correlationId: string;
  source: WorkflowSource;
  syncScope: SyncScope | null;
  clientName: string;
  triggeredBy: string;
  sessionId: string | null;
  outboundPayload: Record<string, unknown>;
  /** The request makes the first call itself and holds its claim this long. */
  firstAttemptLeaseMs: number;
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

interface PendingWrite extends WorkflowWrite {
  base: LoadedWorkflow;
}

const SWEEP_BATCH = 100;

/**
 * One transaction of the write path. Workflows are loaded (and locked) through it, changed only by state-machine
 * events applied through it, and written when it flushes (at the latest when the transaction's work returns):
 * each changed workflow in one UPDATE that bumps its `version`. `manager` runs the caller's own statements (on
 * its own tables) in the same transaction, so a change of workflow state and, say, the events that caused it
 * being marked processed commit together.
 */
export class WorkflowTransaction {
  private readonly loaded = new Map<string, LoadedWorkflow>();
  private pending = new Map<string, PendingWrite>();
  private dbNow: Date | null = null;

  constructor(
    readonly manager: EntityManager,
    private readonly repo: WorkflowsRepository,
    /** What this transaction stored, per workflow: published once it commits. */
    private stored: Map<string, WorkflowChanged>,
  ) {}

  /** Loads workflows into the transaction; with `lock`, locks their rows in id order until it ends. */
  async load(syncIds: readonly string[], options: { lock: boolean }): Promise<Map<string, LoadedWorkflow>> {
    const rows = await this.repo.load(this.manager, syncIds, options);
    for (const [id, workflow] of rows) {
      this.loaded.set(id, workflow);
      this.pending.delete(id);
    }
    return rows;
  }

  /** A loaded workflow's state with this transaction's changes so far. */
  stateOf(syncId: string): WorkflowState {
    const current = this.pending.get(syncId)?.next ?? this.loaded.get(syncId)?.state;
    if (!current) throw new Error(`workflow ${syncId} was not loaded in this transaction`);
    return current;
  }

  /** Applies one state-machine event to a loaded workflow; the change is written at the next flush. */
  apply(syncId: string, event: StateEvent): { state: WorkflowState; changed: boolean } {
    const result = applyEvent(this.stateOf(syncId), event);
    if (result.changed) this.queue(syncId, result.state);
    return result;
  }

  /** Applies one of OPAL's stored callbacks. */
  applyCallback(syncId: string, callback: StoredCallback): { state: WorkflowState; changed: boolean } {
    return this.apply(syncId, callbackEventOf(callback));
  }

  /**
   * The state a loaded workflow gets when rebuilt from its stored callbacks (replay): its delivery to OPAL as
   * stored, then the callbacks in receive order, with the sweep's timeout put back where it happened (before the
   * first callback received after it) so that a rebuild does not reopen a timed-out workflow. With `write`, it
   * replaces the stored state at the next flush.
   */
  rebuild(
    syncId: string,
    callbacks: readonly ReceivedCallback[],
    options: { write: boolean },
  ): WorkflowState {
    const current = this.stateOf(syncId);
    const events: StateEvent[] = [];
    const timedOutAt = current.status === 'timed_out' ? current.completedAt : null;
    let timeoutPlaced = timedOutAt === null;
    for (const callback of callbacks) {
      if (!timeoutPlaced && callback.receivedAt.getTime() > timedOutAt!.getTime()) {
        events.push({ type: 'timeout', occurredAt: timedOutAt! });
        timeoutPlaced = true;
      }
      events.push(callbackEventOf(callback));
    }
    if (!timeoutPlaced) events.push({ type: 'timeout', occurredAt: timedOutAt! });
    const next = foldEvents(stateBeforeCallbacks(current), events);
    if (options.write && !sameWorkflowState(current, next)) this.queue(syncId, next);
    return next;
  }

  /** Facts learned from OPAL (and the request's answer time) stored with the workflow's next write. */
  attach(
    syncId: string,
    facts: Pick<WorkflowWrite, 'opalWorkflowId' | 'sessionId' | 'responseTimeMs'>,
  ): void {
    const write = this.pending.get(syncId) ?? this.queue(syncId, this.stateOf(syncId));
    Object.assign(write, facts);
  }

  /** The database's clock (leases and due times are compared with `now()` in SQL). */
  async now(): Promise<Date> {
    this.dbNow ??= await this.repo.now(this.manager);
    return this.dbNow;
  }

  /** A workflow this transaction inserted (version 1), so that it is announced with the others. */
  created(change: WorkflowChanged): void {
    this.stored.set(change.syncId, change);
  }

  /** Writes every change so far (one UPDATE with the version bump, one agent upsert). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const writes = [...this.pending.values()];
    this.pending = new Map();
    const versions = await this.repo.save(this.manager, writes);
    for (const write of writes) {
      const base = write.base;
      const saved = versions.find((v) => v.id === write.syncId);
      if (!saved) continue;
      const ref = { ...base.ref, opalWorkflowId: saved.opalWorkflowId };
      this.loaded.set(write.syncId, { ...base, ref, version: saved.version, state: write.next });
      this.stored.set(write.syncId, { syncId: saved.id, version: saved.version, status: saved.status });
    }
  }

  /** The workflow's identity and stored version as of the last flush. */
  loadedOf(syncId: string): LoadedWorkflow | undefined {
    return this.loaded.get(syncId);
  }

  /**
   * Runs `work` under a savepoint: when it throws, its statements are rolled back and its changes forgotten (not
   * announced), and the rest of the transaction goes on.
   */
  async isolate<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    await this.flush();
    const loaded = new Map(this.loaded);
    const stored = new Map(this.stored);
    await this.manager.query('SAVEPOINT workflow_write');
    try {
      const value = await work();
      await this.flush();
      await this.manager.query('RELEASE SAVEPOINT workflow_write');
      return { ok: true, value };
    } catch (error) {
      await this.manager.query('ROLLBACK TO SAVEPOINT workflow_write');
      this.pending = new Map();
      this.loaded.clear();
      for (const [id, w] of loaded) this.loaded.set(id, w);
      this.stored.clear();
      for (const [id, c] of stored) this.stored.set(id, c);
      return { ok: false, error };
    }
  }

  private queue(syncId: string, next: WorkflowState): PendingWrite {
    const base = this.loaded.get(syncId);
    if (!base) throw new Error(`workflow ${syncId} was not loaded in this transaction`);
    const existing = this.pending.get(syncId);
    if (existing) {
      existing.next = next;
      return existing;
    }
    const write: PendingWrite = { syncId, previous: base.state, next, base };
    this.pending.set(syncId, write);
    return write;
  }
}

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
  ) {}

  /**
   * Runs `work` in one database transaction with the write path's `WorkflowTransaction`; announces the changed
   * workflows after the commit (nothing when it rolls back).
   */
  async transaction<T>(work: (tx: WorkflowTransaction) => Promise<T>): Promise<T> {
    const stored = new Map<string, WorkflowChanged>();
    const result = await this.dataSource.transaction(async (manager) => {
      const tx = new WorkflowTransaction(manager, this.repo, stored);
      const value = await work(tx);
      await tx.flush();
      return value;
    });
    this.events.publish(stored.values());
    return result;
  }

  /**
   * Creates a workflow (pending, nine pending agents, its first call to OPAL claimed by the creating request).
   * Throws SYNC_ALREADY_ACTIVE (with the active workflow's id) when single flight applies and one is active.
   */
  async create(input: NewWorkflow): Promise<void> {
    await this.transaction(async (tx) => {
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
      const version = await this.repo.insert(tx.manager, input);
      tx.created({ syncId: input.id, version, status: 'pending' });
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

  /** The stored request of a workflow's trigger (the creating request sends its first call with it). */
  async outboundRequest(syncId: string): Promise<Omit<TriggerClaim, 'attempt'> | null> {
    const request = (await this.repo.outboundOf([syncId])).get(syncId);
    return request ? { syncId, correlationId: request.correlationId, payload: request.payload } : null;
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
