import type { EntityManager } from 'typeorm';
import type { WorkflowChanged } from './workflow-events.service';
import { isAwaitingFirstCallback, outcomeOf, type WorkflowOutcome } from './workflow-outcomes';
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
import type { LoadedWorkflow, WorkflowWrite, WorkflowsRepository } from './workflows.repository';

/** A stored callback with its receipt time (replay puts a sweep's timeout back where it happened). */
export interface ReceivedCallback extends StoredCallback {
  receivedAt: Date;
}

interface PendingWrite extends WorkflowWrite {
  base: LoadedWorkflow;
  /** OPAL's first callback for the workflow is part of this change: when it was received ('now' = unknown). */
  firstCallbackAt?: Date | 'now';
}

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
    private readonly stored: Map<string, WorkflowChanged>,
    /** The service-level outcomes of what it stored (workflow-outcomes.ts): recorded once it commits. */
    private readonly outcomes: WorkflowOutcome[] = [],
  ) {}

  /** Loads workflows into the transaction; with `lock`, locks their rows in id order until it ends. */
  async load(syncIds: readonly string[], options: { lock: boolean }): Promise<Map<string, LoadedWorkflow>> {
    // Changes not written yet would be lost by reading the rows again.
    if (syncIds.some((id) => this.pending.has(id))) await this.flush();
    const rows = await this.repo.load(this.manager, syncIds, options);
    for (const [id, workflow] of rows) this.loaded.set(id, workflow);
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

  /** Applies one of OPAL's stored callbacks (with its receipt time, when known, for the first-callback time). */
  applyCallback(
    syncId: string,
    callback: StoredCallback & { receivedAt?: Date },
  ): { state: WorkflowState; changed: boolean } {
    const waiting = isAwaitingFirstCallback(this.stateOf(syncId).status);
    const result = this.apply(syncId, callbackEventOf(callback));
    if (waiting && result.changed && !isAwaitingFirstCallback(result.state.status)) {
      const write = this.pending.get(syncId);
      if (write) write.firstCallbackAt = callback.receivedAt ?? 'now';
    }
    return result;
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
      const firstCallbackAt = write.firstCallbackAt === 'now' ? await this.now() : write.firstCallbackAt;
      const outcome = outcomeOf(write.previous, write.next, base.createdAt, firstCallbackAt ?? null);
      if (outcome) this.outcomes.push(outcome);
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
    const outcomes = this.outcomes.length;
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
      this.outcomes.length = outcomes;
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
