import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { JobLeasesRepository } from './job-leases.repository';

/** A job that must run on one instance at a time, at most once per `everyMs` across all instances. */
export interface LeasedJob {
  name: string;
  /** How often it runs (measured from the start of its last completed run). */
  everyMs: number;
  /** How long a run may go on without renewing its lease; a crashed holder's job is free again after it. */
  leaseMs: number;
}

const MAX_ERROR_LENGTH = 500;

/**
 * Runs the scheduler's jobs (see `PeriodicJobs`), and is the one stop protocol of background work: on shutdown
 * (`onModuleDestroy`, which the graceful shutdown reaches once in-flight requests are answered) no new run
 * starts and the runs in progress are awaited, before the database pool closes.
 *
 * A leased job takes its row in `job_leases` for `leaseMs` and renews it every third of that while it runs, so a
 * long run keeps it and a crashed holder loses it within `leaseMs`; the next instance whose tick finds it free
 * and due takes the job over. Runs never throw: failures are logged (once per outage, not per tick) and recorded.
 */
@Injectable()
export class JobRunner implements OnModuleDestroy {
  private readonly logger = new Logger('Jobs');
  /** This instance in `job_leases.holder`: host, process and a random part (a restarted process is another holder). */
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private stopped = false;
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly failing = new Set<string>();

  constructor(private readonly leases: JobLeasesRepository) {}

  /**
   * Runs `work` when the job is due and this instance wins its lease, unless this instance is already running
   * it. `work` learns when the last completed run (on any instance) started, so that it can take up only what
   * changed since. True when a run completed here.
   */
  runLeased(
    job: LeasedJob,
    work: (run: { previousRunAt: Date | null }) => Promise<Record<string, unknown>>,
  ): Promise<boolean> {
    return this.track(job.name, false, async () => {
      const lease = await this.leases.acquire(job.name, this.holder, job.leaseMs, job.everyMs);
      if (lease === null) return false;
      const { startedAt, previousRunAt } = lease;
      const renewal = setInterval(
        () => {
          this.leases.renew(job.name, this.holder, job.leaseMs).then(
            (held) => {
              if (!held) this.logger.warn({ msg: 'Job lease lost while running', job: job.name });
            },
            (error: unknown) => this.logger.warn({ msg: 'Job lease renewal failed', job: job.name, error }),
          );
        },
        Math.max(1, Math.floor(job.leaseMs / 3)),
      );
      try {
        const result = await work({ previousRunAt });
        await this.leases.release(job.name, this.holder, { startedAt, result });
        return true;
      } catch (error) {
        await this.leases.release(job.name, this.holder, { error: errorText(error) }).catch(() => undefined);
        throw error;
      } finally {
        clearInterval(renewal);
      }
    });
  }

  /**
   * Runs per-instance background work that needs no lease because its rows carry their own (the trigger
   * dispatcher's claims), unless the previous run still goes on.
   */
  runLocal(name: string, work: () => Promise<void>): Promise<boolean> {
    return this.track(name, false, async () => {
      await work();
      return true;
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.running.values()]);
  }

  private async track<T>(name: string, skipped: T, run: () => Promise<T>): Promise<T> {
    if (this.stopped || this.running.has(name)) return skipped;
    const promise = run();
    this.running.set(name, promise);
    try {
      const value = await promise;
      if (this.failing.delete(name)) this.logger.log({ msg: 'Job runs again', job: name });
      return value;
    } catch (error) {
      if (!this.failing.has(name)) this.logger.error({ msg: 'Job failed', job: name, error });
      this.failing.add(name);
      return skipped;
    } finally {
      this.running.delete(name);
    }
  }
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH);
}
