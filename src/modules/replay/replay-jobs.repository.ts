import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { ReplayJobStatus } from './replay-job.entity';

/** Every SQL statement on `replay_jobs` and `replay_job_workflows`. */

export interface NewReplayJob {
  id: string;
  selection: Record<string, unknown>;
  options: Record<string, unknown>;
  requestedBy: string | null;
  workflowIds: readonly string[];
}

export interface ReplayJobRow {
  id: string;
  status: ReplayJobStatus;
  selection: Record<string, unknown>;
  options: Record<string, unknown>;
  workflows_total: number;
  workflows_done: number;
  workflows_failed: number;
  created_at: Date;
  finished_at: Date | null;
}

export interface ReplayJobChangeRow {
  workflow_id: string;
  from_status: string;
  to_status: string;
}

export interface ReplayJobFailureRow {
  workflow_id: string;
  error: string;
}

/** What replaying one workflow of a job did. */
export interface ReplayedWorkflow {
  fromStatus: string | null;
  toStatus: string | null;
  eventsReplayed: number;
  error: string | null;
}

@Injectable()
export class ReplayJobsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The job and its list of workflows, in one transaction. */
  async create(job: NewReplayJob): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `INSERT INTO replay_jobs (id, status, selection, options, workflows_total, requested_by)
         VALUES ($1, 'running', $2, $3, $4, $5)`,
        [job.id, job.selection, job.options, job.workflowIds.length, job.requestedBy],
      );
      if (job.workflowIds.length === 0) return;
      await manager.query(
        `INSERT INTO replay_job_workflows (replay_id, workflow_id, position)
         SELECT $1, w.id, w.position - 1 FROM unnest($2::uuid[]) WITH ORDINALITY AS w(id, position)`,
        [job.id, job.workflowIds],
      );
    });
  }

  async find(id: string): Promise<ReplayJobRow | null> {
    const rows: ReplayJobRow[] = await this.dataSource.query(
      `SELECT id, status, selection, options, workflows_total, workflows_done, workflows_failed, created_at,
              finished_at
         FROM replay_jobs WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  /** The status changes a job made so far, in the selection's order. */
  changesOf(id: string): Promise<ReplayJobChangeRow[]> {
    return this.dataSource.query(
      `SELECT workflow_id, from_status, to_status FROM replay_job_workflows
        WHERE replay_id = $1 AND done_at IS NOT NULL AND error IS NULL AND from_status IS DISTINCT FROM to_status
        ORDER BY position`,
      [id],
    );
  }

  /** The workflows a job could not replay, with why. */
  failuresOf(id: string): Promise<ReplayJobFailureRow[]> {
    return this.dataSource.query(
      `SELECT workflow_id, error FROM replay_job_workflows
        WHERE replay_id = $1 AND error IS NOT NULL ORDER BY position`,
      [id],
    );
  }

  /** The oldest job still running, if any. */
  async oldestRunning(): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM replay_jobs WHERE status = 'running' ORDER BY created_at, id LIMIT 1`,
    );
    return rows[0]?.id ?? null;
  }

  /**
   * Locks the job's next workflow not done yet, in the caller's transaction (skipping one another runner holds);
   * null when none is left to take.
   */
  async lockNext(manager: EntityManager, replayId: string): Promise<string | null> {
    const rows: { workflow_id: string }[] = await manager.query(
      `SELECT workflow_id FROM replay_job_workflows
        WHERE replay_id = $1 AND done_at IS NULL
        ORDER BY position
        LIMIT 1
        FOR UPDATE SKIP LOCKED`,
      [replayId],
    );
    return rows[0]?.workflow_id ?? null;
  }

  /**
   * Records a workflow as done, in the transaction of its replay, and counts it in the job. A workflow already
   * done is left alone (false).
   */
  async markDone(
    manager: EntityManager,
    replayId: string,
    workflowId: string,
    outcome: ReplayedWorkflow,
  ): Promise<boolean> {
    const [, affected]: [unknown[], number] = await manager.query(
      `UPDATE replay_job_workflows
          SET done_at = statement_timestamp(), replays = replays + $7, from_status = $3, to_status = $4,
              events_replayed = $5, error = $6
        WHERE replay_id = $1 AND workflow_id = $2 AND done_at IS NULL`,
      [
        replayId,
        workflowId,
        outcome.fromStatus,
        outcome.toStatus,
        outcome.eventsReplayed,
        outcome.error,
        outcome.error === null ? 1 : 0,
      ],
    );
    if (affected === 0) return false;
    await manager.query(
      `UPDATE replay_jobs
          SET workflows_done = workflows_done + 1, workflows_failed = workflows_failed + $2
        WHERE id = $1`,
      [replayId, outcome.error === null ? 0 : 1],
    );
    return true;
  }

  /** Ends a job whose workflows are all done: completed, or failed when any could not be replayed. */
  async finishIfDone(replayId: string): Promise<ReplayJobStatus | null> {
    // For UPDATE, TypeORM's postgres driver answers [rows, affectedCount].
    const [rows]: [{ status: ReplayJobStatus }[], number] = await this.dataSource.query(
      `UPDATE replay_jobs
          SET status = CASE WHEN workflows_failed > 0 THEN 'failed' ELSE 'completed' END, finished_at = now()
        WHERE id = $1 AND status = 'running'
          AND NOT EXISTS (SELECT 1 FROM replay_job_workflows WHERE replay_id = $1 AND done_at IS NULL)
        RETURNING status`,
      [replayId],
    );
    return rows[0]?.status ?? null;
  }
}
