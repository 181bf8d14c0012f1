import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, type EntityManager, type Repository } from 'typeorm';
import { AppError } from '../../common/app-error';
import { OPAL_AGENTS, isAgentId } from '../../domain/opal';
import type { SyncScope } from '../../domain/opal';
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
import { initialWorkflowState, progressOf } from './workflow-state';
import type { WorkflowState } from './workflow-state';
import type { AgentStatus, WorkflowStatus } from '../../domain/workflow';

export interface NewWorkflow {
  id: string;
  correlationId: string;
  source: 'force_sync' | 'orchestration_trigger';
  syncScope: SyncScope | null;
  clientName: string;
  triggeredBy: string;
  sessionId: string | null;
  outboundPayload: Record<string, unknown>;
  /** The first attempt is made by the request; the background sender leaves the row alone this long. */
  leaseMs: number;
}

export interface WorkflowListQuery {
  status?: WorkflowStatus;
  limit: number;
  before?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_REF_LENGTH = 200;

export function isUuid(value: string): boolean {
  return UUID.test(value);
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
 * Workflows (sync runs) and their nine agents: creation, lookup by any of their ids, the keyset-paginated list,
 * and the one answer shape of `GET /api/opal/sync/{sync_id}` that every module reuses.
 */
@Injectable()
export class WorkflowsService {
  constructor(
    @InjectRepository(WorkflowEntity) private readonly workflows: Repository<WorkflowEntity>,
    @InjectRepository(AgentRunEntity) private readonly agentRuns: Repository<AgentRunEntity>,
    @InjectRepository(TriggerAttemptEntity) private readonly attempts: Repository<TriggerAttemptEntity>,
  ) {}

  /** Inserts the workflow (pending) and its nine pending agents; call inside the caller's transaction. */
  /** The workflow and its nine pending agents, in one statement. */
  async createWorkflow(manager: EntityManager, input: NewWorkflow): Promise<void> {
    await manager.query(
      `WITH workflow AS (
         INSERT INTO workflows (id, correlation_id, session_id, source, status, sync_scope, client_name,
                                triggered_by, outbound_payload, next_attempt_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, now() + ($9::int * interval '1 millisecond'))
         RETURNING id)
       INSERT INTO agent_runs (workflow_id, agent_id, status)
       SELECT workflow.id, agent_id, 'pending' FROM workflow, unnest($10::text[]) AS agent_id`,
      [
        input.id,
        input.correlationId,
        input.sessionId,
        input.source,
        input.syncScope,
        input.clientName,
        input.triggeredBy,
        input.outboundPayload,
        input.leaseMs,
        [...OPAL_AGENTS],
      ],
    );
  }

  findById(id: string): Promise<WorkflowEntity | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.workflows.findOneBy({ id });
  }

  /** A workflow by its sync id, OPAL's workflow id, or its correlation id (in that order). */
  async resolve(ref: string): Promise<WorkflowEntity | null> {
    // No stored id contains NUL, and PostgreSQL refuses it in a text parameter.
    if (ref.length === 0 || ref.length > MAX_REF_LENGTH || ref.includes('\u0000')) return null;
    if (isUuid(ref)) {
      const byId = await this.workflows.findOneBy({ id: ref.toLowerCase() });
      if (byId) return byId;
    }
    return (
      (await this.workflows.findOneBy({ opalWorkflowId: ref })) ??
      (await this.workflows.findOneBy({ correlationId: ref }))
    );
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
    const workflow = await this.resolve(ref);
    if (!workflow) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');
    const [agents, attempts] = await Promise.all([
      this.agentsOf([workflow.id]),
      this.attemptsOf(workflow.id),
    ]);
    return this.toWorkflowResponse(workflow, agents.get(workflow.id) ?? [], attempts);
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
      progress: progressOf(stateOf(workflow, agents)),
      trigger: {
        attempts: workflow.triggerAttempts,
        last_status_code: workflow.lastStatusCode,
        last_error: workflow.lastError,
        next_attempt_at: workflow.status === 'pending' ? iso(workflow.nextAttemptAt) : null,
      },
    };
  }
}

function stateOf(workflow: WorkflowEntity, agents: AgentRunEntity[]): WorkflowState {
  const state = initialWorkflowState(workflow.status as WorkflowStatus);
  for (const run of agents) {
    if (!isAgentId(run.agentId)) continue;
    state.agents[run.agentId] = {
      status: run.status as AgentStatus,
      startedAt: run.startedAt,
      completedAt: run.completedAt,
      error: run.error,
    };
  }
  return state;
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
