import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Every SQL statement on `job_leases`. */
@Injectable()
export class JobLeasesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes the lease of `name` for `leaseMs` when nobody holds it (or its holder's lease has expired) and the job
   * is due (its last completed run started at least `everyMs` ago). One statement, so when several instances ask
   * at once exactly one gets it. Answers the run's start (database time) and the start of the last completed run
   * before it (null for the first run), or null.
   */
  async acquire(
    name: string,
    holder: string,
    leaseMs: number,
    everyMs: number,
  ): Promise<{ startedAt: Date; previousRunAt: Date | null } | null> {
    const rows: { started_ms: number; previous_ms: number | null }[] = await this.dataSource.query(
      `INSERT INTO job_leases AS l (name, holder, lease_expires_at)
       VALUES ($1, $2, now() + $3::int * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, lease_expires_at = EXCLUDED.lease_expires_at
        WHERE (l.lease_expires_at IS NULL OR l.lease_expires_at <= now())
          AND (l.last_run_at IS NULL OR l.last_run_at <= now() - $4::int * interval '1 millisecond')
       RETURNING (extract(epoch FROM now()) * 1000)::float8 AS started_ms,
                 (extract(epoch FROM l.last_run_at) * 1000)::float8 AS previous_ms`,
      [name, holder, leaseMs, everyMs],
    );
    if (rows.length === 0) return null;
    const { started_ms: started, previous_ms: previous } = rows[0];
    return { startedAt: new Date(started), previousRunAt: previous === null ? null : new Date(previous) };
  }

  /** Extends a lease still held by `holder`; false when it was lost (expired and taken over). */
  async renew(name: string, holder: string, leaseMs: number): Promise<boolean> {
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE job_leases SET lease_expires_at = now() + $3::int * interval '1 millisecond'
        WHERE name = $1 AND holder = $2`,
      [name, holder, leaseMs],
    );
    return affected > 0;
  }

  /**
   * Gives the lease back with the run's outcome: a completed run (`result`) becomes the last run, so the job is
   * next due an interval after `startedAt`; a failed one (`error`) leaves it due at once.
   */
  async release(
    name: string,
    holder: string,
    outcome: { startedAt: Date; result: Record<string, unknown> } | { error: string },
  ): Promise<void> {
    if ('error' in outcome) {
      await this.dataSource.query(
        `UPDATE job_leases SET holder = NULL, lease_expires_at = NULL, last_error = $3
          WHERE name = $1 AND holder = $2`,
        [name, holder, outcome.error],
      );
      return;
    }
    await this.dataSource.query(
      `UPDATE job_leases
          SET holder = NULL, lease_expires_at = NULL, last_run_at = $3, last_result = $4, last_error = NULL
        WHERE name = $1 AND holder = $2`,
      [name, holder, outcome.startedAt, outcome.result],
    );
  }
}
