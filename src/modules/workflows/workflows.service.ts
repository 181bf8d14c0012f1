import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, MoreThanOrEqual, type EntityManager, type Repository } from 'typeorm';
import { AppError } from '../../common/app-error';
import { AppConfig } from '../../config/app-config';
import { isUuid } from '../../domain/ids';
import { OPAL_AGENTS } from '../../domain/opal';
import { AgentRunEntity } from './agent-run.entity';
import type {
  AgentRunResponseDto,
  TriggerAttemptResponseDto,
  WorkflowListResponseDto,
  WorkflowResponseDto,
  WorkflowSummaryDto,
} from './dto/workflow-response.dto';
import { TriggerAttemptEntity } from './trigger-attempt.entity';
import { WorkflowEntity } from './workflow.entity';
import { progressOf } from './workflow-state';
import {
  WorkflowsRepository,
  type ForceSyncFigures,
  type ServiceLevelFigures,
  type WorkflowRef,
} from './workflows.repository';

export type {
  ForceSyncFigures,
  ServiceLevelFigures,
  ServiceLevelWindow,
  WorkflowRef,
} from './workflows.repository';
import type { AgentStatus, WorkflowStatus } from '../../domain/workflow';

export interface WorkflowListQuery {
  status?: WorkflowStatus;
  limit: number;
  before?: string;
}

/** No stored id is longer (the receiver and the DTOs cap references at 200 characters). */
const MAX_REF_LENGTH = 200;

/** A callback's references to its workflow: its `workflow_id`, and its correlation id when it carried one. */
export interface CallbackRefs {
  workflowRef: string;
  correlationId: string | null;
}

/**
 * The one answer to "which workflow does this reference mean": a sync id (a UUID, any case), else OPAL's
 * workflow id, else a correlation id. Built from one query for any number of references.
 */
class RefIndex {
  private readonly byId = new Map<string, WorkflowRef>();
  private readonly byOpalId = new Map<string, WorkflowRef>();
  private readonly byCorrelation = new Map<string, WorkflowRef>();

  constructor(workflows: readonly WorkflowRef[]) {
    for (const w of workflows) {
      this.byId.set(w.id, w);
      if (w.opalWorkflowId !== null) this.byOpalId.set(w.opalWorkflowId, w);
      this.byCorrelation.set(w.correlationId, w);
    }
  }

  ref(ref: string): WorkflowRef | undefined {
    return (
      (isUuid(ref) ? this.byId.get(ref.toLowerCase()) : undefined) ??
      this.byOpalId.get(ref) ??
      this.byCorrelation.get(ref)
    );
  }

  /** A callback: its `workflow_id` as above, else its correlation id (top level or metadata) as a correlation id. */
  callback(refs: CallbackRefs): WorkflowRef | undefined {
    return (
      this.ref(refs.workflowRef) ??
      (refs.correlationId !== null ? this.byCorrelation.get(refs.correlationId) : undefined)
    );
  }
}

/** Keyset cursor: the row's created_at in epoch microseconds (Postgres precision) and its id. */
export function encodeCursor(createdAtMicros: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAtMicros, id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { createdAtMicros: string; id: string } | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 2) return null;
    const [micros, id] = parsed as unknown[];
    if (typeof micros !== 'string' || !/^\d{1,18}$/.test(micros)) return null;
    if (typeof id !== 'string' || !isUuid(id)) return null;
    return { createdAtMicros: micros, id };
  } catch {
    return null;
  }
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

function durationBetween(start: Date | null, end: Date | null): number | null {
  return start && end ? Math.max(0, end.getTime() - start.getTime()) : null;
}

/**
 * Reading workflows (sync runs) and their nine agents: lookup by any of their ids, the keyset-paginated list, the
 * one answer shape of `GET /api/opal/sync/{sync_id}`, and the workflow figures of diagnostics, alerts and
 * metrics. Changes go through `WorkflowStateService`.
 */
@Injectable()
export class WorkflowsService {
  constructor(
    @InjectRepository(WorkflowEntity) private readonly workflows: Repository<WorkflowEntity>,
    @InjectRepository(AgentRunEntity) private readonly agentRuns: Repository<AgentRunEntity>,
    @InjectRepository(TriggerAttemptEntity) private readonly attempts: Repository<TriggerAttemptEntity>,
    private readonly repo: WorkflowsRepository,
    private readonly config: AppConfig,
  ) {}

  /** The workflows the references name (see `RefIndex`), keyed by reference; unknown ones are absent. */
  async resolveRefs(refs: readonly string[], manager?: EntityManager): Promise<Map<string, WorkflowRef>> {
    const usable = refs.filter((ref) => ref.length > 0 && ref.length <= MAX_REF_LENGTH);
    const index = new RefIndex(await this.repo.findRefs(usable, manager));
    const out = new Map<string, WorkflowRef>();
    for (const ref of usable) {
      const workflow = index.ref(ref);
      if (workflow) out.set(ref, workflow);
    }
    return out;
  }

  /** A workflow by its sync id, OPAL's workflow id, or its correlation id. */
  async resolve(ref: string): Promise<WorkflowRef | null> {
    return (await this.resolveRefs([ref])).get(ref) ?? null;
  }

  /**
   * Workflows created or written at or after `since`: the only ones whose references (`id`, OPAL's workflow id,
   * correlation id) can have become known since then. Every write of a workflow sets `updated_at`.
   */
  refsWrittenSince(since: Date): Promise<WorkflowRef[]> {
    return this.repo.refsWrittenSince(since);
  }

  /** The workflow of each callback (null when none is known yet), in one query for the whole list. */
  async matchCallbacks(
    callbacks: readonly CallbackRefs[],
    manager?: EntityManager,
  ): Promise<(WorkflowRef | null)[]> {
    const refs = callbacks.flatMap((c) =>
      c.correlationId === null ? [c.workflowRef] : [c.workflowRef, c.correlationId],
    );
    const index = new RefIndex(await this.repo.findRefs(refs, manager));
    return callbacks.map((c) => index.callback(c) ?? null);
  }

  /** Workflows waiting for OPAL's callbacks (accepted, unfinished, younger than the workflow timeout). */
  activeWorkflows(): Promise<number> {
    return this.repo.countAwaitingCallbacks(this.config.workflowTimeoutMinutes);
  }

  /** The service levels of the last hour and the last 24 hours (contract section 15), from the database. */
  serviceLevelFigures(): Promise<ServiceLevelFigures> {
    return this.repo.serviceLevelFigures(this.config.workflowTimeoutMinutes);
  }

  /** Force syncs and triggers of the last `windowMinutes`: accepted, finished, longest answer. */
  forceSyncFigures(windowMinutes: number): Promise<ForceSyncFigures> {
    return this.repo.forceSyncFigures(windowMinutes);
  }

  async agentsOf(workflowIds: string[]): Promise<Map<string, AgentRunEntity[]>> {
    const byWorkflow = new Map<string, AgentRunEntity[]>(workflowIds.map((id) => [id, []]));
    if (workflowIds.length === 0) return byWorkflow;
    const rows = await this.agentRuns.findBy({ workflowId: In(workflowIds) });
    for (const row of rows) byWorkflow.get(row.workflowId)?.push(row);
    return byWorkflow;
  }

  attemptsOf(workflowId: string): Promise<TriggerAttemptEntity[]> {
    return this.attempts.find({ where: { workflowId }, order: { attempt: 'ASC' } });
  }

  /** `GET /api/opal/sync/{sync_id}`: 404 WORKFLOW_NOT_FOUND for an unknown (or malformed) id. */
  async getResponse(ref: string): Promise<WorkflowResponseDto> {
    const found = await this.resolve(ref);
    const workflow = found ? await this.workflows.findOneBy({ id: found.id }) : null;
    if (!workflow) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');
    const [agents, attempts] = await Promise.all([
      this.agentsOf([workflow.id]),
      this.attemptsOf(workflow.id),
    ]);
    return this.toWorkflowResponse(workflow, agents.get(workflow.id) ?? [], attempts);
  }

  /**
   * The answers of `GET /api/opal/sync/{sync_id}` for several workflows by sync id, in three queries whatever
   * their number; unknown ids are absent.
   */
  async responsesOf(syncIds: readonly string[]): Promise<Map<string, WorkflowResponseDto>> {
    const out = new Map<string, WorkflowResponseDto>();
    const ids = [...new Set(syncIds.filter(isUuid).map((id) => id.toLowerCase()))];
    if (ids.length === 0) return out;
    const [workflows, agents, attempts] = await Promise.all([
      this.workflows.findBy({ id: In(ids) }),
      this.agentsOf(ids),
      this.attempts.find({ where: { workflowId: In(ids) }, order: { attempt: 'ASC' } }),
    ]);
    for (const workflow of workflows) {
      out.set(
        workflow.id,
        this.toWorkflowResponse(
          workflow,
          agents.get(workflow.id) ?? [],
          attempts.filter((a) => a.workflowId === workflow.id),
        ),
      );
    }
    return out;
  }

  /** Sync ids of the workflows stored since `since`, most recently changed first, at most `limit`. */
  async changedSince(since: Date, limit: number): Promise<string[]> {
    const rows = await this.workflows.find({
      select: { id: true },
      where: { updatedAt: MoreThanOrEqual(since) },
      order: { updatedAt: 'DESC' },
      take: limit,
    });
    return rows.map((r) => r.id);
  }

  /** Newest first, keyset-paginated on (created_at, id). */
  async list(query: WorkflowListQuery): Promise<WorkflowListResponseDto> {
    const qb = this.workflows
      .createQueryBuilder('w')
      .addSelect('(extract(epoch from w.created_at) * 1000000)::bigint::text', 'cursor_us')
      .orderBy('w.created_at', 'DESC')
      .addOrderBy('w.id', 'DESC')
      .limit(query.limit + 1);
    if (query.status) qb.andWhere('w.status = :status', { status: query.status });
    if (query.before !== undefined) {
      const cursor = decodeCursor(query.before);
      if (!cursor) {
        throw new AppError('VALIDATION_FAILED', 'Invalid request: before', [
          { field: 'before', message: 'before must be a cursor returned as next_before' },
        ]);
      }
      qb.andWhere(
        `(w.created_at, w.id) < ('epoch'::timestamptz + (:micros)::bigint * interval '1 microsecond', (:id)::uuid)`,
        { micros: cursor.createdAtMicros, id: cursor.id },
      );
    }
    const { entities, raw } = await qb.getRawAndEntities<{ cursor_us: string }>();
    const page = entities.slice(0, query.limit);
    const agents = await this.agentsOf(page.map((w) => w.id));
    const last = page.length > 0 ? page.length - 1 : -1;
    return {
      items: page.map((w) => this.toWorkflowSummary(w, agents.get(w.id) ?? [])),
      next_before:
        entities.length > query.limit && last >= 0 ? encodeCursor(raw[last].cursor_us, page[last].id) : null,
    };
  }

  toWorkflowResponse(
    workflow: WorkflowEntity,
    agents: AgentRunEntity[],
    attempts?: TriggerAttemptEntity[],
  ): WorkflowResponseDto {
    const summary = this.toWorkflowSummary(workflow, agents);
    if (attempts) summary.trigger.history = attempts.map(toAttemptResponse);
    const byAgent = new Map(agents.map((a) => [a.agentId, a]));
    return {
      ...summary,
      agents: OPAL_AGENTS.map((agentId): AgentRunResponseDto => {
        const run = byAgent.get(agentId);
        return {
          agent_id: agentId,
          status: run?.status ?? 'pending',
          started_at: iso(run?.startedAt ?? null),
          completed_at: iso(run?.completedAt ?? null),
          duration_ms: durationBetween(run?.startedAt ?? null, run?.completedAt ?? null),
          error: run?.error ?? null,
        };
      }),
    };
  }

  toWorkflowSummary(workflow: WorkflowEntity, agents: AgentRunEntity[]): WorkflowSummaryDto {
    return {
      sync_id: workflow.id,
      version: workflow.version,
      correlation_id: workflow.correlationId,
      opal_workflow_id: workflow.opalWorkflowId,
      workflow_name: workflow.workflowName,
      status: workflow.status,
      sync_scope: workflow.syncScope,
      client_name: workflow.clientName,
      triggered_by: workflow.triggeredBy,
      created_at: workflow.createdAt.toISOString(),
      triggered_at: iso(workflow.triggeredAt),
      started_at: iso(workflow.startedAt),
      completed_at: iso(workflow.completedAt),
      duration_ms: durationBetween(workflow.createdAt, workflow.completedAt),
      progress: progressOf(new Map(agents.map((a) => [a.agentId, a.status as AgentStatus]))),
      trigger: {
        attempts: workflow.triggerAttempts,
        last_status_code: workflow.lastStatusCode,
        last_error: workflow.lastError,
        next_attempt_at: workflow.status === 'pending' ? iso(workflow.nextAttemptAt) : null,
      },
    };
  }
}

function toAttemptResponse(attempt: TriggerAttemptEntity): TriggerAttemptResponseDto {
  return {
    attempt: attempt.attempt,
    started_at: attempt.startedAt.toISOString(),
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    outcome: attempt.outcome,
    error: attempt.error,
  };
}
