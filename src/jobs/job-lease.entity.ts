import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One row per periodic job: who runs it now and until when (the lease), and its last completed run. A holder
 * that crashes stops renewing its lease; once it has expired, the next instance to ask takes the job over.
 */
@Entity({ name: 'job_leases' })
export class JobLeaseEntity {
  @PrimaryColumn({ type: 'text' })
  name: string;

  /** The instance running the job now (null when nobody does). */
  @Column({ type: 'text', nullable: true })
  holder: string | null;

  /** Until when the holder may run it without renewing; after that any instance may take it. */
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt: Date | null;

  /** When the last completed run started: the job is due again an interval after this. */
  @Column({ name: 'last_run_at', type: 'timestamptz', nullable: true })
  lastRunAt: Date | null;

  @Column({ name: 'last_result', type: 'jsonb', nullable: true })
  lastResult: Record<string, unknown> | null;

  /** Why the last run failed (cleared by the next successful run). */
  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;
}
