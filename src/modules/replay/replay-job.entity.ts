import { Check, Column, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { oneOf } from '../../database/check';

/** A bulk replay's state: running until every selected workflow is done, then completed or failed. */
export const REPLAY_JOB_STATUSES = ['running', 'completed', 'failed'] as const;
export type ReplayJobStatus = (typeof REPLAY_JOB_STATUSES)[number];

/**
 * A bulk replay (`POST /api/orchestrations/replay` with a `selection`): a durable job, run by the scheduler under
 * a lease, so that it runs on one instance at a time and goes on after a restart. Its workflows are listed in
 * `replay_job_workflows` when it is created.
 */
@Entity({ name: 'replay_jobs' })
@Check('chk_replay_jobs_status', oneOf('status', REPLAY_JOB_STATUSES))
@Index('idx_replay_jobs_running', ['createdAt'], { where: `"status" = 'running'` })
export class ReplayJobEntity {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ type: 'text' })
  status: ReplayJobStatus;

  /** The request's selection, as given. */
  @Column({ type: 'jsonb' })
  selection: Record<string, unknown>;

  /** The per-workflow replay options (agent_filter, from_offset, force_reprocess). */
  @Column({ type: 'jsonb' })
  options: Record<string, unknown>;

  @Column({ name: 'workflows_total', type: 'int' })
  workflowsTotal: number;

  @Column({ name: 'workflows_done', type: 'int', default: 0 })
  workflowsDone: number;

  @Column({ name: 'workflows_failed', type: 'int', default: 0 })
  workflowsFailed: number;

  /** The operator key's fingerprint (never the key). */
  @Column({ name: 'requested_by', type: 'text', nullable: true })
  requestedBy: string | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}

/**
 * One workflow of a bulk replay. `done_at` is set in the transaction that replays the workflow, so a replay
 * interrupted at any point resumes with exactly the workflows not yet done; `replays` counts the replays applied
 * (1 once done).
 */
@Entity({ name: 'replay_job_workflows' })
@Index('idx_replay_job_workflows_todo', ['replayId', 'position'], { where: `"done_at" IS NULL` })
export class ReplayJobWorkflowEntity {
  @PrimaryColumn({ name: 'replay_id', type: 'text' })
  @ForeignKey(() => ReplayJobEntity, 'id', { onDelete: 'CASCADE', name: 'fk_replay_job_workflows_job' })
  replayId: string;

  @PrimaryColumn({ name: 'workflow_id', type: 'uuid' })
  // By table name: the workflows table belongs to the workflows module, whose entity is not imported here.
  @ForeignKey('workflows', 'id', { onDelete: 'CASCADE', name: 'fk_replay_job_workflows_workflow' })
  workflowId: string;

  /** Order of the selection (creation time, then id). */
  @Column({ type: 'int' })
  position: number;

  @Column({ name: 'from_status', type: 'text', nullable: true })
  fromStatus: string | null;

  @Column({ name: 'to_status', type: 'text', nullable: true })
  toStatus: string | null;

  @Column({ name: 'events_replayed', type: 'int', default: 0 })
  eventsReplayed: number;

  @Column({ type: 'int', default: 0 })
  replays: number;

  @Column({ name: 'done_at', type: 'timestamptz', nullable: true })
  doneAt: Date | null;

  /** Why this workflow could not be replayed. */
  @Column({ type: 'text', nullable: true })
  error: string | null;
}
