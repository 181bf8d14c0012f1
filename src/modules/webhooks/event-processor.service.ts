import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MetricsService,
  WEBHOOK_PROCESSING_RESULTS,
  type WebhookProcessingResult,
} from '../../metrics/metrics.service';
import {
  WorkflowStateService,
  type StoredCallback,
  type WorkflowTransaction,
} from '../workflows/workflow-state.service';
import { WorkflowsService } from '../workflows/workflows.service';
import { WebhookEventsRepository, type PendingEventRow } from './webhook-events.repository';

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
const MAX_ERROR_LENGTH = 500;

/**
 * Applies stored events to the workflow and agent state, after the receiver has committed them. Runs on every
 * instance: batches are claimed with `FOR UPDATE SKIP LOCKED` and each workflow row is locked while its events
 * are applied, so instances share the work without applying an event twice. Events are only marked in the
 * transaction that applies them (the workflows' write path), so a crash leaves them `pending` for the next run
 * (on any instance).
 *
 * It is a loop of its own rather than a job of the scheduler: it is the hot path from a stored callback to the
 * workflow's state, woken by every ingest on this instance (`kick`) and otherwise polling every 200 ms for events
 * stored by other instances, with passes at most every 50 ms so that a steady stream is applied in batches. A
 * scheduler tick would add its period to every callback's latency. It stops with the same protocol as the
 * scheduler: no new pass once shutdown begins, the pass in progress finishes (`onModuleDestroy`).
 */
@Injectable()
export class EventProcessorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EventProcessor');
  private readonly enabled: boolean;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private kicked = false;
  private wakeUp: (() => void) | null = null;

  constructor(
    private readonly events: WebhookEventsRepository,
    private readonly workflows: WorkflowsService,
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
    const results: Record<WebhookProcessingResult, number> = { processed: 0, failed: 0, unmatched: 0 };
    const claimed = await this.workflowState.transaction(async (tx) => {
      const events = await this.events.claimPending(tx.manager, BATCH_SIZE);
      if (events.length === 0) return 0;

      const matches = await this.workflows.matchCallbacks(
        events.map((e) => ({ workflowRef: e.workflow_ref, correlationId: e.correlation_id })),
        tx.manager,
      );
      const groups = new Map<string, PendingEventRow[]>();
      const unmatched: string[] = [];
      events.forEach((event, i) => {
        const syncId = matches[i]?.id;
        if (syncId === undefined) {
          unmatched.push(event.id);
          return;
        }
        const group = groups.get(syncId) ?? [];
        group.push(event);
        groups.set(syncId, group);
      });

      if (mode === 'together') {
        const together = await this.applyTogether(tx, groups);
        unmatched.push(...together.gone);
        lags.push(...together.lags);
        results.failed += together.failed;
      } else {
        // A fixed lock order keeps two instances' batches from deadlocking on the same pair of workflows.
        for (const syncId of [...groups.keys()].sort()) {
          const group = groups.get(syncId) ?? [];
          const outcome = await this.applyToWorkflow(tx, syncId, group);
          if (outcome === 'gone') unmatched.push(...group.map((e) => e.id));
          else {
            lags.push(...outcome.lags);
            results.failed += outcome.failed;
          }
        }
      }
      await this.events.markUnmatched(tx.manager, unmatched);
      results.unmatched = unmatched.length;
      return events.length;
    });
    // Counted once committed: a batch that rolls back is claimed again and counted then.
    results.processed = lags.length;
    for (const ms of lags) this.metrics.processingLag.observe(ms / 1000);
    for (const result of WEBHOOK_PROCESSING_RESULTS) {
      if (results[result] > 0) this.metrics.webhookEventsProcessed.inc({ result }, results[result]);
    }
    return claimed;
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
   * Applies the whole batch with a fixed number of round trips (one lock-and-load of every workflow in id
   * order, one write of every changed workflow and agent, one update marking the events) instead of several
   * per workflow, which made processing fall behind the receiver when many workflows run at once. A database
   * error aborts the transaction; the caller then retries the batch workflow by workflow. Returns the
   * processing times of the applied events and the ids of events whose workflow no longer exists.
   */
  private async applyTogether(
    tx: WorkflowTransaction,
    groups: ReadonlyMap<string, PendingEventRow[]>,
  ): Promise<{ lags: number[]; gone: string[]; failed: number }> {
    const syncIds = [...groups.keys()].sort();
    const loaded = await tx.load(syncIds, { lock: true });
    const applied: { id: string; syncId: string }[] = [];
    const failures: { id: string; syncId: string; error: string }[] = [];
    const gone: string[] = [];
    for (const syncId of syncIds) {
      const group = groups.get(syncId) ?? [];
      if (!loaded.has(syncId)) {
        gone.push(...group.map((e) => e.id));
        continue;
      }
      for (const event of group) {
        try {
          tx.applyCallback(syncId, callbackOf(event));
          applied.push({ id: event.id, syncId });
        } catch (error) {
          failures.push({ id: event.id, syncId, error: errorText(error) });
        }
      }
    }
    await tx.flush();
    const lags = await this.events.markProcessed(tx.manager, applied);
    for (const failure of failures) {
      await this.events.markFailed(tx.manager, [failure.id], failure.syncId, failure.error);
    }
    return { lags, gone, failed: failures.length };
  }

  /**
   * Applies one workflow's events (in receive order) under the workflow's row lock. A failure is confined to
   * this workflow by a savepoint: its events are marked `failed` and the rest of the batch goes on.
   * Returns the processing times of the applied events, or 'gone' when the workflow no longer exists.
   */
  private async applyToWorkflow(
    tx: WorkflowTransaction,
    syncId: string,
    events: PendingEventRow[],
  ): Promise<{ lags: number[]; failed: number } | 'gone'> {
    const outcome = await tx.isolate(async () => {
      if (!(await tx.load([syncId], { lock: true })).has(syncId)) return 'gone' as const;
      const applied: { id: string; syncId: string }[] = [];
      const failures: { id: string; error: string }[] = [];
      for (const event of events) {
        try {
          tx.applyCallback(syncId, callbackOf(event));
          applied.push({ id: event.id, syncId });
        } catch (error) {
          failures.push({ id: event.id, error: errorText(error) });
        }
      }
      await tx.flush();
      const lags = await this.events.markProcessed(tx.manager, applied);
      for (const failure of failures)
        await this.events.markFailed(tx.manager, [failure.id], syncId, failure.error);
      return { lags, failed: failures.length };
    });
    if (outcome.ok) return outcome.value;
    this.logger.error({ msg: 'Could not apply events to a workflow', sync_id: syncId, error: outcome.error });
    await this.events.markFailed(
      tx.manager,
      events.map((e) => e.id),
      syncId,
      errorText(outcome.error),
    );
    return { lags: [], failed: events.length };
  }
}

function callbackOf(event: PendingEventRow): StoredCallback & { receivedAt: Date } {
  return {
    eventType: event.event_type,
    agentId: event.agent_id,
    status: event.status,
    occurredAt: new Date(event.occurred_at),
    errorMessage: event.error_message,
    receivedAt: new Date(event.received_at),
  };
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}
