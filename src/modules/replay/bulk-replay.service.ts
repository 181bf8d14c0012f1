import { setTimeout as delay } from 'node:timers/promises';
import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../../common/app-error';
import type { AuditActor } from '../../common/audit-actor';
import { storableTimeIso } from '../../common/validation';
import { AuditService } from '../../audit/audit.service';
import { AppConfig } from '../../config/app-config';
import { isAgentId } from '../../domain/opal';
import { replayStatusPath } from '../../domain/routes';
import { isWorkflowStatus } from '../../domain/workflow';
import { newCorrelationId } from '../../common/request-context';
import { WorkflowStateService } from '../workflows/workflow-state.service';
import { WorkflowsService, type WorkflowSelection } from '../workflows/workflows.service';
import type { ReplayRequestDto, ReplaySelectionDto } from './dto/replay-request.dto';
import type {
  BulkReplayAcceptedDto,
  BulkReplayPreviewDto,
  BulkReplayProgressDto,
} from './dto/replay-response.dto';
import type { ReplayOptions } from './replay-plan';
import { ReplayJobsRepository, type ReplayedWorkflow } from './replay-jobs.repository';
import { ReplayService } from './replay.service';
import { MaintenanceModeService } from '../maintenance/maintenance-mode.service';

/**
 * A bulk replay covers at most this many workflows: its list is stored with the job and its preview is computed
 * in one request. A larger incident is replayed window by window.
 */
export const BULK_REPLAY_MAX_WORKFLOWS = 10_000;

const MAX_ERROR_LENGTH = 500;

/**
 * Bulk replay: every workflow of a selection (statuses, creation window) replayed like a one-workflow replay.
 * A dry run previews every status change and writes nothing; otherwise the selection's workflows are stored as a
 * job (`replay_jobs`, `replay_job_workflows`) that the scheduler runs under a lease (`runPending`): one instance
 * at a time, resumed after a restart. Each workflow is marked done in the transaction that replays it, so each is
 * replayed exactly once however often the job is interrupted or taken over.
 */
@Injectable()
export class BulkReplayService {
  private readonly logger = new Logger('BulkReplay');

  constructor(
    private readonly workflows: WorkflowsService,
    private readonly workflowState: WorkflowStateService,
    private readonly replay: ReplayService,
    private readonly jobs: ReplayJobsRepository,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
    private readonly maintenance: MaintenanceModeService,
  ) {}

  /** Every status change the replay of the selection would make; writes nothing but the audit record. */
  async preview(body: ReplayRequestDto, actor: AuditActor): Promise<BulkReplayPreviewDto> {
    await this.maintenance.assertWritable();
    const selection = selectionOf(body.selection!);
    const options = optionsOf(body);
    const selected = await this.select(selection);
    const changes: BulkReplayPreviewDto['changes'] = [];
    let eventsConsidered = 0;
    for (const { id } of selected) {
      const outcome = await this.workflowState.transaction(async (tx) => {
        const workflow = (await this.workflows.resolveRefs([id], tx.manager)).get(id);
        return workflow ? this.replay.replayIn(tx, workflow, options, { write: false }) : null;
      });
      if (!outcome) continue;
      eventsConsidered += outcome.plan.considered.length;
      if (outcome.state.status !== outcome.fromStatus) {
        changes.push({ workflow_id: id, from_status: outcome.fromStatus, to_status: outcome.state.status });
      }
    }
    await this.audit.record({
      action: 'replay',
      ...actor,
      details: {
        bulk: true,
        dry_run: true,
        selection: body.selection,
        workflows_matched: selected.length,
        events_considered: eventsConsidered,
        changes: changes.length,
      },
    });
    return {
      success: true,
      dry_run: true,
      workflows_matched: selected.length,
      events_considered: eventsConsidered,
      changes,
    };
  }

  /** Stores the job with its list of workflows; the scheduler runs it. */
  async start(body: ReplayRequestDto, actor: AuditActor): Promise<BulkReplayAcceptedDto> {
    await this.maintenance.assertWritable();
    const selection = selectionOf(body.selection!);
    const selected = await this.select(selection);
    const replayId = newCorrelationId('replay');
    await this.jobs.create({
      id: replayId,
      selection: { ...body.selection },
      options: { ...optionsOf(body) },
      requestedBy: actor.actor,
      workflowIds: selected.map((w) => w.id),
    });
    // A selection of no workflow is done at once.
    await this.jobs.finishIfDone(replayId);
    await this.audit.record({
      action: 'replay',
      ...actor,
      details: {
        bulk: true,
        dry_run: false,
        replay_id: replayId,
        selection: body.selection,
        workflows_total: selected.length,
      },
    });
    this.logger.log({ msg: 'Bulk replay requested', replay_id: replayId, workflows: selected.length });
    return {
      success: true,
      replay_id: replayId,
      status_url: replayStatusPath(replayId),
      workflows_total: selected.length,
    };
  }

  /** A job's progress; 404 REPLAY_NOT_FOUND for an unknown id. */
  async progress(replayId: string): Promise<BulkReplayProgressDto> {
    const job = await this.jobs.find(replayId);
    if (!job) throw new AppError('REPLAY_NOT_FOUND', 'No bulk replay with this id');
    const [changes, failures] = await Promise.all([
      this.jobs.changesOf(job.id),
      this.jobs.failuresOf(job.id),
    ]);
    return {
      replay_id: job.id,
      status: job.status,
      selection: job.selection,
      workflows_total: job.workflows_total,
      workflows_done: job.workflows_done,
      workflows_failed: job.workflows_failed,
      changes,
      failures,
      created_at: job.created_at.toISOString(),
      finished_at: job.finished_at ? job.finished_at.toISOString() : null,
    };
  }

  /**
   * Runs the running jobs, oldest first, workflow by workflow, until none is left or `stopping()` says so (the
   * rest is done by the next run, here or on another instance). Called by the scheduler under its lease.
   */
  async runPending(stopping: () => boolean): Promise<{ workflows: number }> {
    let workflows = 0;
    for (;;) {
      if (stopping()) return { workflows };
      const replayId = await this.jobs.oldestRunning();
      if (replayId === null) return { workflows };
      const job = await this.jobs.find(replayId);
      if (!job) continue;
      const options = storedOptionsOf(job.options);
      // Maintenance mode holds a running bulk replay between two workflows; it goes on when the mode is normal.
      while (!stopping()) {
        if (await this.maintenance.isPaused()) return { workflows };
        const done = await this.replayNext(replayId, options);
        if (done === 'none_left') break;
        workflows++;
        if (this.config.bulkReplayPauseMs > 0) await delay(this.config.bulkReplayPauseMs);
      }
      if (stopping()) return { workflows };
      const status = await this.jobs.finishIfDone(replayId);
      if (status !== null) {
        this.logger.log({ msg: 'Bulk replay finished', replay_id: replayId, status });
      } else {
        // Workflows another runner still holds: they are done by it (or by the next run once its lease ends).
        return { workflows };
      }
    }
  }

  /**
   * Replays the job's next workflow not done yet and records it done in the same transaction. A workflow whose
   * replay fails is recorded with the error in a transaction of its own.
   */
  private async replayNext(replayId: string, options: ReplayOptions): Promise<'done' | 'none_left'> {
    const taken: { workflowId: string | null } = { workflowId: null };
    try {
      return await this.workflowState.transaction(async (tx) => {
        const workflowId = await this.jobs.lockNext(tx.manager, replayId);
        taken.workflowId = workflowId;
        if (workflowId === null) return 'none_left';
        const workflow = (await this.workflows.resolveRefs([workflowId], tx.manager)).get(workflowId);
        const outcome = workflow ? await this.replay.replayIn(tx, workflow, options, { write: true }) : null;
        const record: ReplayedWorkflow = outcome
          ? {
              fromStatus: outcome.fromStatus,
              toStatus: outcome.state.status,
              eventsReplayed: outcome.plan.selectedIds.size,
              error: null,
            }
          : { fromStatus: null, toStatus: null, eventsReplayed: 0, error: 'the workflow no longer exists' };
        await tx.flush();
        await this.jobs.markDone(tx.manager, replayId, workflowId, record);
        return 'done';
      });
    } catch (error) {
      const failed = taken.workflowId;
      if (failed === null) throw error;
      const message = (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_LENGTH);
      this.logger.warn({
        msg: 'Bulk replay of a workflow failed',
        replay_id: replayId,
        sync_id: failed,
        error,
      });
      await this.workflowState.transaction(async (tx) => {
        await this.jobs.markDone(tx.manager, replayId, failed, {
          fromStatus: null,
          toStatus: null,
          eventsReplayed: 0,
          error: message,
        });
      });
      return 'done';
    }
  }

  private async select(selection: WorkflowSelection): Promise<{ id: string }[]> {
    const selected = await this.workflows.select(selection, BULK_REPLAY_MAX_WORKFLOWS + 1);
    if (selected.length > BULK_REPLAY_MAX_WORKFLOWS) {
      throw new AppError(
        'VALIDATION_FAILED',
        `The selection holds more than ${BULK_REPLAY_MAX_WORKFLOWS} workflows: narrow its window or statuses`,
        [{ field: 'selection', message: `at most ${BULK_REPLAY_MAX_WORKFLOWS} workflows per bulk replay` }],
      );
    }
    return selected;
  }
}

function selectionOf(selection: ReplaySelectionDto): WorkflowSelection {
  const statuses = (selection.status ?? []).filter(isWorkflowStatus);
  return {
    statuses: statuses.length > 0 ? statuses : null,
    from: selection.from ? new Date(storableTimeIso(selection.from)) : null,
    to: selection.to ? new Date(storableTimeIso(selection.to)) : null,
  };
}

function optionsOf(body: ReplayRequestDto): ReplayOptions {
  const agentFilter =
    body.agent_filter && body.agent_filter.length > 0 ? body.agent_filter.filter(isAgentId) : null;
  return {
    fromOffset: body.from_offset ?? 0,
    agentFilter,
    forceReprocess: body.replay_options?.force_reprocess ?? false,
  };
}

function storedOptionsOf(stored: Record<string, unknown>): ReplayOptions {
  const filter = Array.isArray(stored.agentFilter) ? stored.agentFilter.filter(isAgentId) : [];
  return {
    fromOffset: typeof stored.fromOffset === 'number' ? stored.fromOffset : 0,
    agentFilter: filter.length > 0 ? filter : null,
    forceReprocess: stored.forceReprocess === true,
  };
}
