import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { AnalyticsReader, REPLICA_CHECK_INTERVAL_MS } from '../database/analytics-reader';
import { MaintenanceService } from '../modules/diagnostics/maintenance.service';
import { MaintenanceModeService } from '../modules/maintenance/maintenance-mode.service';
import { BulkReplayService } from '../modules/replay/bulk-replay.service';
import { IdempotencyService } from '../modules/sync/idempotency.service';
import { TriggerDispatcherService } from '../modules/sync/trigger-dispatcher.service';
import { WebhookEventsService } from '../modules/webhooks/webhook-events.service';
import { WorkflowStateService } from '../modules/workflows/workflow-state.service';
import { JobRunner, type LeasedJob } from './job-runner';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Every leased job: how often it runs across all instances, and how long a crashed holder keeps it. */
export const JOBS = {
  relinkUnmatched: { name: 'relink_unmatched_events', everyMs: SECOND, leaseMs: 30 * SECOND },
  timeoutSweep: { name: 'workflow_timeout_sweep', everyMs: 30 * SECOND, leaseMs: MINUTE },
  idempotencyCleanup: { name: 'idempotency_keys_cleanup', everyMs: HOUR, leaseMs: MINUTE },
  retention: { name: 'event_retention', everyMs: 24 * HOUR, leaseMs: MINUTE },
  bulkReplay: { name: 'bulk_replay', everyMs: SECOND, leaseMs: 10 * SECOND },
} satisfies Record<string, LeasedJob>;

/**
 * The relink job looks at the workflows written since its last completed run started, less this much: a write
 * stamps `updated_at` with its transaction's start, so a transaction that began before that run and committed
 * after it is still seen (workflow transactions last milliseconds; this covers long lock waits too).
 */
export const RELINK_OVERLAP_MS = MINUTE;

/** How often the dispatcher looks for due calls to OPAL (each instance; the rows carry their own claims). */
export const TRIGGER_POLL_MS = 250;

/**
 * The one scheduler: every periodic job of the service, on `@nestjs/schedule` intervals. Each tick asks
 * `JobRunner` to run the job; a leased job then runs on at most one instance, once per `everyMs`. The ticks
 * come more often than the jobs are due, so that a job whose holder crashed is taken over soon after its lease
 * expires. Event processing is not here: it is a loop woken by every stored callback (see
 * `EventProcessorService`).
 */
@Injectable()
export class PeriodicJobs {
  constructor(
    private readonly runner: JobRunner,
    private readonly config: AppConfig,
    private readonly dispatcher: TriggerDispatcherService,
    private readonly events: WebhookEventsService,
    private readonly workflowState: WorkflowStateService,
    private readonly idempotency: IdempotencyService,
    private readonly maintenance: MaintenanceService,
    private readonly reader: AnalyticsReader,
    private readonly maintenanceMode: MaintenanceModeService,
    private readonly bulkReplay: BulkReplayService,
  ) {}

  /**
   * With a read replica: the heartbeat on the primary and the replica's lag, on every instance (each decides for
   * itself where its analytics reads go).
   */
  @Interval('read_replica_check', REPLICA_CHECK_INTERVAL_MS)
  checkReadReplica(): Promise<boolean> {
    return this.runner.runLocal('read_replica_check', () => this.reader.tick());
  }

  /**
   * In maintenance mode the jobs that write hold (no run, so none is recorded and each is due again as soon as
   * the mode ends): calls to OPAL, relinking, the timeout sweep (callbacks are held too, so a workflow would time
   * out for want of them) and retention. The idempotency-key cleanup goes on.
   */
  private async held(): Promise<boolean> {
    return this.maintenanceMode.isPaused();
  }

  /** Sends the calls to OPAL that are due (retries, and triggers a crashed instance left behind). */
  @Interval('trigger_dispatch', TRIGGER_POLL_MS)
  async dispatchTriggers(): Promise<boolean> {
    if (await this.held()) return false;
    return this.runner.runLocal('trigger_dispatch', () => this.dispatcher.dispatchDue());
  }

  /** Events that matched no workflow go back to processing once their workflow is known. */
  @Interval(JOBS.relinkUnmatched.name, SECOND)
  async relinkUnmatched(): Promise<boolean> {
    if (await this.held()) return false;
    return this.runner.runLeased(JOBS.relinkUnmatched, async ({ previousRunAt }) => ({
      relinked: await this.events.relinkUnmatched(
        previousRunAt === null ? null : new Date(previousRunAt.getTime() - RELINK_OVERLAP_MS),
      ),
    }));
  }

  /** Workflows without a terminal event after WORKFLOW_TIMEOUT_MINUTES become timed_out. */
  @Interval(JOBS.timeoutSweep.name, 5 * SECOND)
  async sweepTimeouts(): Promise<boolean> {
    if (await this.held()) return false;
    return this.runner.runLeased(JOBS.timeoutSweep, async () => ({
      timed_out: await this.workflowState.sweepTimeouts(this.config.workflowTimeoutMinutes),
    }));
  }

  /** Idempotency keys past their 24 h. */
  @Interval(JOBS.idempotencyCleanup.name, MINUTE)
  cleanupIdempotencyKeys(): Promise<boolean> {
    return this.runner.runLeased(JOBS.idempotencyCleanup, async () => ({
      deleted: await this.idempotency.deleteExpired(),
    }));
  }

  /** The daily cleanup with EVENT_RETENTION_DAYS (the same as `cleanup_old_events`), audited. */
  @Interval(JOBS.retention.name, 5 * MINUTE)
  async retention(): Promise<boolean> {
    if (await this.held()) return false;
    return this.runner.runLeased(JOBS.retention, async () => {
      const result = await this.maintenance.cleanup(this.config.eventRetentionDays, false, {
        actor: 'retention-job',
        trigger: 'schedule',
      });
      return {
        deleted: result.deleted,
        older_than: result.older_than,
        rejected_deliveries: result.pruned.rejected_deliveries,
        idempotency_keys: result.pruned.idempotency_keys,
        auth_failures: result.pruned.auth_failures,
      };
    });
  }

  /**
   * Bulk replays: the running jobs, on one instance at a time (a crashed holder's job is taken over once its
   * short lease expires), each workflow recorded done with its replay. Stops between workflows on shutdown.
   */
  @Interval(JOBS.bulkReplay.name, SECOND)
  async runBulkReplays(): Promise<boolean> {
    if (await this.held()) return false;
    return this.runner.runLeased(JOBS.bulkReplay, () =>
      this.bulkReplay.runPending(() => this.runner.stopping),
    );
  }
}
