import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * Claims periodic jobs that must run on one instance only: the claim is one atomic UPDATE, so when several
 * instances ask at once exactly one gets the run.
 */
@Injectable()
export class JobLeaseService {
  constructor(private readonly dataSource: DataSource) {}

  /** True when this caller won the run of `name` (no run within the last `intervalMs`). */
  async claim(name: string, intervalMs: number): Promise<boolean> {
    await this.dataSource.query(
      `INSERT INTO job_leases (name, last_run_at) VALUES ($1, NULL) ON CONFLICT (name) DO NOTHING`,
      [name],
    );
    // For UPDATE, TypeORM's postgres driver answers [rows, affectedCount].
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE job_leases SET last_run_at = now()
        WHERE name = $1 AND (last_run_at IS NULL OR last_run_at <= now() - ($2::int * interval '1 millisecond'))
        RETURNING name`,
      [name, intervalMs],
    );
    return affected > 0;
  }

  async recordResult(name: string, result: Record<string, unknown>): Promise<void> {
    await this.dataSource.query(`UPDATE job_leases SET last_result = $2 WHERE name = $1`, [name, result]);
  }
}
