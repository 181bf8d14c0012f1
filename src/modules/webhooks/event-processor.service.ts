import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, type EntityManager } from 'typeorm';
import { MetricsService } from '../../metrics/metrics.service';
import { applyEvent } from '../workflows/workflow-state';
import { WorkflowStateService, dateOf, epochMs, type StateChange } from '../workflows/workflow-state.service';

/** Internal switch for tests that need committed events to stay unprocessed (a crash before processing). */
export const EVENT_PROCESSOR_OPTIONS = Symbol('EVENT_PROCESSOR_OPTIONS');
export interface EventProcessorOptions {
  enabled: boolean;
}

export const BATCH_SIZE = 200;
const POLL_INTERVAL_MS = 200;
/** Shortest time between the starts of two passes that were not full. */
const MIN_PASS_INTERVAL_MS = 50;
const ERROR_BACKOFF_MS = 1000;
const RELINK_INTERVAL_MS = 1000;
const TIMEOUT_SWEEP_INTERVAL_MS = 30_000;
const MAX_ERROR_LENGTH = 500;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_SQL_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

interface PendingEventRow {
  id: string;
  sequence: string;
  event_type: string;
  agent_id: string | null;
  status: string;
  workflow_ref: string;
  correlation_id: string | null;
  error_message: string | null;
  /** Epoch milliseconds. */
  occurred_at: number;
}

interface WorkflowKeyRow {
  id: string;
  opal_workflow_id: string | null;
  correlation_id: string;
}

/**
 * Applies stored events to the workflow and agent state, after the receiver has committed them. Runs on every
 * instance: batches are claimed with `FOR UPDATE SKIP LOCKED` and each workflow row is locked while its events
 * are applied, so instances share the work without applying an event twice. Events are only marked in the
 * transaction that applies them, so a crash leaves them `pending` for the next run (on any instance).
 */
@Injectable()
export class EventProcessorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EventProcessor');
  private readonly enabled: boolean;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private kicked = false;
  private wakeUp: (() => void) | null = null;
  private lastRelinkAt = 0;
  private lastSweepAt = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly workflowState: WorkflowStateService,
    private readonly metrics: MetricsService,
    @Optional() @Inject(EVENT_PROCESSOR_OPTIONS) options?: EventProcessorOptions,
  ) {
    this.enabled = options?.enabled ?? true;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) {
      this.logger.warn('Event processing loop is disabled');
      return;
    }
    this.stopping = false;
    this.loopDone = this.loop();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.loopDone;
  }

  /** Shortens the wait after an ingest. Only a latency optimisation: the poll finds the event anyway. */
  kick(): void {
    this.kicked = true;
    this.wakeUp?.();
  }

  /**
   * Claims up to BATCH_SIZE pending events in receive order and applies them, in one transaction: all at once
   * with a fixed number of statements, or, when that fails, in a new transaction workflow by workflow, so the
   * failure is confined to the workflow that caused it. Returns how many events were claimed.
   */
  async processBatch(): Promise<number> {
    try {
      return await this.claimAndApply('together');
    } catch (error) {
      if (this.stopping) throw error;
      this.logger.warn({
        msg: 'Batch could not be applied at once; applying it workflow by workflow',
        error,
      });
      return this.claimAndApply('one_by_one');
    }
  }

  private async claimAndApply(mode: 'together' | 'one_by_one'): Promise<number> {
    const lags: number[] = [];
    const claimed = await this.dataSource.transaction(async (manager) => {
      const events: PendingEventRow[] = await manager.query(
        `SELECT id, sequence, event_type, agent_id, status, workflow_ref, correlation_id, error_message,
                ${epochMs('occurred_at')}
           FROM webhook_events
          WHERE processing_status = 'pending'
          ORDER BY sequence
          LIMIT $1
          FOR UPDATE SKIP LOCKED`,
        [BATCH_SIZE],
      );
      if (events.length === 0) return 0;

      const syncIdOf = await this.resolveWorkflows(manager, events);
      const groups = new Map<string, PendingEventRow[]>();
      const unmatched: string[] = [];
      for (const event of events) {
        const syncId = syncIdOf.get(event.id);
        if (syncId === undefined) {
          unmatched.push(event.id);
          continue;
        }
        const group = groups.get(syncId) ?? [];
        group.push(event);
        groups.set(syncId, group);
      }

      if (mode === 'together') {
        const together = await this.applyTogether(manager, groups);
        unmatched.push(...together.gone);
        lags.push(...together.lags);
      } else {
        // A fixed lock order keeps two instances' batches from deadlocking on the same pair of workflows.
        for (const syncId of [...groups.keys()].sort()) {
          const group = groups.get(syncId) ?? [];
          const outcome = await this.applyToWorkflow(manager, syncId, group);
          if (outcome === 'gone') unmatched.push(...group.map((e) => e.id));
          else lags.push(...outcome);
        }
      }
      if (unmatched.length > 0) {
        await manager.query(
          `UPDATE webhook_events SET processing_status = 'unmatched' WHERE id = ANY($1::uuid[])`,
          [unmatched],
        );
      }
      return events.length;
    });
    for (const ms of lags) this.metrics.processingLag.observe(ms / 1000);
    return claimed;
  }

  /**
   * Puts unmatched events whose workflow is now known back in the queue, with the same matching rules as
   * `resolveWorkflows` (so a re-queued event is matched on its next pass).
   */
  async relinkUnmatched(): Promise<number> {
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE webhook_events e SET processing_status = 'pending'
        WHERE e.processing_status = 'unmatched'
          AND (EXISTS (SELECT 1 FROM workflows w WHERE w.opal_workflow_id = e.workflow_ref)
               OR EXISTS (SELECT 1 FROM workflows w WHERE w.correlation_id = e.workflow_ref)
               OR EXISTS (SELECT 1 FROM workflows w WHERE w.correlation_id = e.correlation_id)
               OR EXISTS (SELECT 1 FROM workflows w
                           WHERE w.id = (CASE WHEN e.workflow_ref ~ $1 THEN e.workflow_ref END)::uuid))`,
      [UUID_SQL_PATTERN],
    );
    if (affected > 0) this.logger.log({ msg: 'Unmatched events linked to their workflow', count: affected });
    return affected;
  }

  /** Processes until no pending event is left (tests, and after a relink). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const claimed = await this.processBatch();
      total += claimed;
      if (claimed < BATCH_SIZE) return total;
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let full = false;
      let failed = false;
      const started = Date.now();
      try {
        await this.maintenance();
        full = (await this.processBatch()) >= BATCH_SIZE;
      } catch (error) {
        failed = true;
        if (!this.stopping) this.logger.error({ msg: 'Event processing pass failed', error });
      }
      if (this.stopping) break;
      if (!full)
        await this.idle(failed ? ERROR_BACKOFF_MS : POLL_INTERVAL_MS, started + MIN_PASS_INTERVAL_MS);
    }
  }

  private async maintenance(): Promise<void> {
    const now = Date.now();
    if (now - this.lastRelinkAt >= RELINK_INTERVAL_MS) {
      this.lastRelinkAt = now;
      await this.relinkUnmatched();
    }
    if (now - this.lastSweepAt >= TIMEOUT_SWEEP_INTERVAL_MS) {
      this.lastSweepAt = now;
      await this.workflowState.sweepTimeouts();
    }
  }

  /**
   * Waits for a kick or `ms`, and in any case until `notBefore`: under a steady stream of deliveries a pass then
   * takes what arrived meanwhile instead of one event at a time (a pass costs the same statements whatever its
   * size).
   */
  private async idle(ms: number, notBefore: number): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
    } else {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wakeUp = null;
          this.kicked = false;
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.wakeUp = done;
      });
    }
    const gather = notBefore - Date.now();
    if (gather > 0 && !this.stopping) await sleep(gather);
  }

  /**
   * Matches each event to a workflow, in one query for the batch: `workflow_id` as our sync id, as OPAL's
   * workflow id or as a correlation id, else the event's correlation id (top level or metadata).
   */
  private async resolveWorkflows(
    manager: EntityManager,
    events: PendingEventRow[],
  ): Promise<Map<string, string>> {
    const refs = [...new Set(events.map((e) => e.workflow_ref))];
    const uuidRefs = refs.filter((ref) => UUID_PATTERN.test(ref)).map((ref) => ref.toLowerCase());
    const correlationIds = [
      ...new Set(events.map((e) => e.correlation_id).filter((c): c is string => c !== null)),
    ];
    const workflows: WorkflowKeyRow[] = await manager.query(
      `SELECT id, opal_workflow_id, correlation_id FROM workflows
        WHERE id = ANY($1::uuid[]) OR opal_workflow_id = ANY($2::text[])
           OR correlation_id = ANY($2::text[]) OR correlation_id = ANY($3::text[])`,
      [uuidRefs, refs, correlationIds],
    );
    const byId = new Map<string, string>();
    const byOpalId = new Map<string, string>();
    const byCorrelation = new Map<string, string>();
    for (const w of workflows) {
      byId.set(w.id, w.id);
      if (w.opal_workflow_id !== null) byOpalId.set(w.opal_workflow_id, w.id);
      byCorrelation.set(w.correlation_id, w.id);
    }
    const out = new Map<string, string>();
    for (const event of events) {
      const ref = event.workflow_ref;
      const syncId =
        (UUID_PATTERN.test(ref) ? byId.get(ref.toLowerCase()) : undefined) ??
        byOpalId.get(ref) ??
        byCorrelation.get(ref) ??
        (event.correlation_id !== null ? byCorrelation.get(event.correlation_id) : undefined);
      if (syncId !== undefined) out.set(event.id, syncId);
    }
    return out;
  }

  /**
   * Applies the whole batch with a fixed number of round trips (one lock-and-load of every workflow in id
   * order, one write of every changed workflow and agent, one update marking the events) instead of several
   * per workflow, which made processing fall behind the receiver when many workflows run at once. A database
   * error aborts the transaction; the caller then retries the batch workflow by workflow. Returns the
   * processing times of the applied events and the ids of events whose workflow no longer exists.
   */
  private async applyTogether(
    manager: EntityManager,
    groups: ReadonlyMap<string, PendingEventRow[]>,
  ): Promise<{ lags: number[]; gone: string[] }> {
    const syncIds = [...groups.keys()].sort();
    const loaded = await this.workflowState.loadStates(manager, syncIds, { lock: true });
    const applied: { id: string; syncId: string }[] = [];
    const failures: { id: string; syncId: string; error: string }[] = [];
    const gone: string[] = [];
    const changes: StateChange[] = [];
    for (const syncId of syncIds) {
      const group = groups.get(syncId) ?? [];
      const workflow = loaded.get(syncId);
      if (!workflow) {
        gone.push(...group.map((e) => e.id));
        continue;
      }
      let state = workflow.state;
      for (const event of group) {
        try {
          state = applyEvent(state, this.stateEventOf(event)).state;
          applied.push({ id: event.id, syncId });
        } catch (error) {
          failures.push({ id: event.id, syncId, error: errorText(error) });
        }
      }
      changes.push({ syncId, previous: workflow.state, next: state });
    }
    await this.workflowState.saveStates(manager, changes);
    const lags = await this.markProcessed(manager, applied);
    for (const failure of failures) {
      await this.markFailed(manager, [failure.id], failure.syncId, failure.error);
    }
    return { lags, gone };
  }

  private stateEventOf(event: PendingEventRow) {
    return this.workflowState.stateEventOf({
      eventType: event.event_type,
      agentId: event.agent_id,
      status: event.status,
      occurredAt: dateOf(event.occurred_at),
      errorMessage: event.error_message,
    });
  }

  /**
   * Applies one workflow's events (in receive order) under the workflow's row lock. A failure is confined to
   * this workflow by a savepoint: its events are marked `failed` and the rest of the batch goes on.
   * Returns the processing times of the applied events, or 'gone' when the workflow no longer exists.
   */
  private async applyToWorkflow(
    manager: EntityManager,
    syncId: string,
    events: PendingEventRow[],
  ): Promise<number[] | 'gone'> {
    await manager.query('SAVEPOINT apply_workflow');
    try {
      const loaded = await this.workflowState.loadState(manager, syncId, { lock: true });
      if (!loaded) {
        await manager.query('RELEASE SAVEPOINT apply_workflow');
        return 'gone';
      }
      let state = loaded.state;
      const applied: string[] = [];
      const failures: { id: string; error: string }[] = [];
      for (const event of events) {
        try {
          state = applyEvent(state, this.stateEventOf(event)).state;
          applied.push(event.id);
        } catch (error) {
          failures.push({ id: event.id, error: errorText(error) });
        }
      }
      await this.workflowState.saveState(manager, syncId, loaded.state, state);
      const lags = await this.markProcessed(
        manager,
        applied.map((id) => ({ id, syncId })),
      );
      for (const failure of failures) await this.markFailed(manager, [failure.id], syncId, failure.error);
      await manager.query('RELEASE SAVEPOINT apply_workflow');
      return lags;
    } catch (error) {
      await manager.query('ROLLBACK TO SAVEPOINT apply_workflow');
      this.logger.error({ msg: 'Could not apply events to a workflow', sync_id: syncId, error });
      await this.markFailed(
        manager,
        events.map((e) => e.id),
        syncId,
        errorText(error),
      );
      return [];
    }
  }

  /** Marks events processed, each with its workflow, and returns their processing times. */
  private async markProcessed(
    manager: EntityManager,
    events: readonly { id: string; syncId: string }[],
  ): Promise<number[]> {
    if (events.length === 0) return [];
    const [rows]: [{ processing_time_ms: number }[], number] = await manager.query(
      `UPDATE webhook_events e
          SET processing_status = 'processed', sync_id = v.sync_id, processed_at = statement_timestamp(),
              processing_error = NULL,
              processing_time_ms = LEAST(2147483647,
                GREATEST(0, round(extract(epoch FROM statement_timestamp() - e.received_at) * 1000)))::int
         FROM unnest($1::uuid[], $2::uuid[]) AS v(id, sync_id)
        WHERE e.id = v.id
        RETURNING e.processing_time_ms`,
      [events.map((e) => e.id), events.map((e) => e.syncId)],
    );
    return rows.map((r) => r.processing_time_ms);
  }

  private async markFailed(
    manager: EntityManager,
    ids: string[],
    syncId: string,
    error: string,
  ): Promise<void> {
    await manager.query(
      `UPDATE webhook_events
          SET processing_status = 'failed', sync_id = (SELECT id FROM workflows WHERE id = $2),
              processed_at = statement_timestamp(),
              processing_error = $3
        WHERE id = ANY($1::uuid[])`,
      [ids, syncId, error],
    );
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}
