import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { JobLeaseService } from '../../database/job-lease.service';
import { MaintenanceService } from './maintenance.service';

export const RETENTION_JOB = 'event_retention';
const DAY_MS = 24 * 60 * 60 * 1000;
/** How often each instance asks whether the daily run is due; the lease makes only one of them run it. */
const CHECK_INTERVAL_MS = 5 * 60 * 1000;
/** First check shortly after start, once the instance has settled. */
const FIRST_CHECK_DELAY_MS = 60 * 1000;

/**
 * Daily cleanup with EVENT_RETENTION_DAYS. Every instance checks periodically; the job lease (one atomic UPDATE)
 * gives the run to exactly one of them per day, so two instances on one database never both run it.
 */
@Injectable()
export class RetentionJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('RetentionJob');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly leases: JobLeaseService,
    private readonly maintenance: MaintenanceService,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(FIRST_CHECK_DELAY_MS);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // A run in progress finishes its current batch loop before the pool closes.
    await this.running?.catch(() => undefined);
  }

  /** Runs the cleanup when this instance wins today's lease. True when it ran here. */
  async runIfDue(): Promise<boolean> {
    if (this.stopped) return false;
    const won = await this.leases.claim(RETENTION_JOB, DAY_MS);
    if (!won) return false;
    const run = this.maintenance.cleanup(this.config.eventRetentionDays, false, {
      actor: 'retention-job',
      trigger: 'schedule',
    });
    this.running = run;
    try {
      const result = await run;
      await this.leases.recordResult(RETENTION_JOB, {
        deleted: result.deleted,
        older_than: result.older_than,
        rejected_deliveries: result.pruned.rejected_deliveries,
        idempotency_keys: result.pruned.idempotency_keys,
        auth_failures: result.pruned.auth_failures,
      });
      return true;
    } finally {
      this.running = null;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runIfDue()
        .catch((error: unknown) =>
          this.logger.error({ msg: 'Retention run failed', error: (error as Error).message }),
        )
        .finally(() => this.schedule(CHECK_INTERVAL_MS));
    }, delayMs);
  }
}
