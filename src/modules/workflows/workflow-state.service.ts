import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { OPAL_AGENTS, isAgentId } from '../../domain/opal';
import type { EventType } from '../../domain/events';
import { WORKFLOW_STATUSES, type AgentStatus, type WorkflowStatus } from '../../domain/workflow';
import {
  applyEvent,
  initialWorkflowState,
  type AgentState,
  type StateEvent,
  type WorkflowState,
} from './workflow-state';

/** The workflow columns the state machine reads and writes, plus what callers need to describe it. */
export interface WorkflowRow {
  id: string;
  correlationId: string;
  opalWorkflowId: string | null;
  status: WorkflowStatus;
  createdAt: Date;
  triggeredAt: Date | null;
  startedAt: Date | null;
  completedAt: Date | null;
}

export interface LoadedWorkflowState {
  workflow: WorkflowRow;
  state: WorkflowState;
}

/** The stored fields of an event that the state machine needs (webhook_events columns). */
export interface StoredEventFields {
  eventType: string;
  agentId: string | null;
  status: string;
  occurredAt: Date;
  errorMessage: string | null;
}

/** Times as epoch milliseconds (see `epochMs`). */
interface WorkflowDbRow {
  id: string;
  correlation_id: string;
  opal_workflow_id: string | null;
  status: string;
  created_at: number;
  triggered_at: number | null;
  started_at: number | null;
  completed_at: number | null;
}

interface AgentDbRow {
  agent_id: string;
  status: string;
  started_at: number | null;
  completed_at: number | null;
  error: string | null;
}

/**
 * A timestamp column read as epoch milliseconds: turning the number into a Date costs far less than parsing the
 * timestamp text, which was the largest part of applying a batch (up to 22 times per workflow). Both keep
 * millisecond precision.
 */
export function epochMs(column: string): string {
  return `(extract(epoch FROM ${column}) * 1000)::float8 AS ${column}`;
}

const WORKFLOW_COLUMNS = `id, correlation_id, opal_workflow_id, status, ${epochMs('created_at')}, ${epochMs('triggered_at')},
       ${epochMs('started_at')}, ${epochMs('completed_at')}`;
const AGENT_COLUMNS = `agent_id, status, ${epochMs('started_at')}, ${epochMs('completed_at')}, error`;

export function dateOf(ms: number): Date;
export function dateOf(ms: number | null): Date | null;
export function dateOf(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/** One workflow's state before and after applying events. */
export interface StateChange {
  syncId: string;
  previous: WorkflowState;
  next: WorkflowState;
}

const SWEEP_BATCH = 100;

/**
 * Loads and stores the workflow/agent state that the pure state machine (`workflow-state.ts`) computes.
 * Webhook processing, the timeout sweep and replay all go through here, so the rows are written one way only.
 */
@Injectable()
export class WorkflowStateService {
  private readonly logger = new Logger('WorkflowState');

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /**
   * The workflow and its current state, or null when there is no such workflow. With `lock`, the workflow row
   * is locked (`FOR UPDATE`) until the caller's transaction ends: every writer of the state takes this lock,
   * so two instances never apply events to the same workflow at once.
   */
  async loadState(
    manager: EntityManager,
    syncId: string,
    options: { lock: boolean },
  ): Promise<LoadedWorkflowState | null> {
    const rows: WorkflowDbRow[] = await manager.query(
      `SELECT ${WORKFLOW_COLUMNS} FROM workflows WHERE id = $1 ${options.lock ? 'FOR UPDATE' : ''}`,
      [syncId],
    );
    if (rows.length === 0) return null;
    const agentRows: AgentDbRow[] = await manager.query(
      `SELECT ${AGENT_COLUMNS} FROM agent_runs WHERE workflow_id = $1`,
      [syncId],
    );
    return toLoadedState(rows[0], agentRows);
  }

  /**
   * `loadState` for many workflows in two queries; workflows that do not exist are absent from the map. With
   * `lock`, the rows are locked in id order, the same order every other multi-workflow writer uses, so two
   * instances cannot deadlock on a pair of workflows.
   */
  async loadStates(
    manager: EntityManager,
    syncIds: readonly string[],
    options: { lock: boolean },
  ): Promise<Map<string, LoadedWorkflowState>> {
    const out = new Map<string, LoadedWorkflowState>();
    if (syncIds.length === 0) return out;
    const rows: WorkflowDbRow[] = await manager.query(
      `SELECT ${WORKFLOW_COLUMNS} FROM workflows WHERE id = ANY($1::uuid[]) ORDER BY id ${options.lock ? 'FOR UPDATE' : ''}`,
      [syncIds],
    );
    if (rows.length === 0) return out;
    const agentRows: (AgentDbRow & { workflow_id: string })[] = await manager.query(
      `SELECT workflow_id, ${AGENT_COLUMNS} FROM agent_runs WHERE workflow_id = ANY($1::uuid[])`,
      [rows.map((r) => r.id)],
    );
    const agentsOf = new Map<string, AgentDbRow[]>();
    for (const agent of agentRows) {
      const list = agentsOf.get(agent.workflow_id) ?? [];
      list.push(agent);
      agentsOf.set(agent.workflow_id, list);
    }
    for (const row of rows) out.set(row.id, toLoadedState(row, agentsOf.get(row.id) ?? []));
    return out;
  }

  /** Writes what differs between `previous` and `next`: the workflow's status and times, and changed agents. */
  saveState(
    manager: EntityManager,
    syncId: string,
    previous: WorkflowState,
    next: WorkflowState,
  ): Promise<void> {
    return this.saveStates(manager, [{ syncId, previous, next }]);
  }

  /**
   * `saveState` for many workflows in at most two statements (one UPDATE of the workflows that changed, one
   * upsert of every changed agent), so a batch of events spread over many workflows costs two round trips, not
   * two per workflow. Rows are written in id order, the lock order of every other writer.
   */
  async saveStates(manager: EntityManager, changes: readonly StateChange[]): Promise<void> {
    const sorted = [...changes].sort((a, b) => (a.syncId < b.syncId ? -1 : a.syncId > b.syncId ? 1 : 0));
    const workflows = sorted.filter(
      ({ previous, next }) =>
        previous.status !== next.status ||
        !sameTime(previous.startedAt, next.startedAt) ||
        !sameTime(previous.completedAt, next.completedAt),
    );
    if (workflows.length > 0) {
      await manager.query(
        `UPDATE workflows w
            SET status = v.status, started_at = v.started_at, completed_at = v.completed_at, updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[])
                AS v(id, status, started_at, completed_at)
          WHERE w.id = v.id`,
        [
          workflows.map((c) => c.syncId),
          workflows.map((c) => c.next.status),
          workflows.map((c) => c.next.startedAt),
          workflows.map((c) => c.next.completedAt),
        ],
      );
    }
    const agents: { syncId: string; agentId: string; agent: AgentState }[] = [];
    for (const { syncId, previous, next } of sorted) {
      for (const agentId of OPAL_AGENTS) {
        if (!sameAgent(previous.agents[agentId], next.agents[agentId])) {
          agents.push({ syncId, agentId, agent: next.agents[agentId] });
        }
      }
    }
    if (agents.length === 0) return;
    // An upsert, so a workflow created without its nine agent rows still ends up with them.
    await manager.query(
      `INSERT INTO agent_runs (workflow_id, agent_id, status, started_at, completed_at, error)
       SELECT a.workflow_id, a.agent_id, a.status, a.started_at, a.completed_at, a.error
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[])
              AS a(workflow_id, agent_id, status, started_at, completed_at, error)
       ON CONFLICT (workflow_id, agent_id) DO UPDATE
         SET status = EXCLUDED.status, started_at = EXCLUDED.started_at,
             completed_at = EXCLUDED.completed_at, error = EXCLUDED.error`,
      [
        agents.map((a) => a.syncId),
        agents.map((a) => a.agentId),
        agents.map((a) => a.agent.status),
        agents.map((a) => a.agent.startedAt),
        agents.map((a) => a.agent.completedAt),
        agents.map((a) => a.agent.error),
      ],
    );
  }

  /**
   * The state a workflow has before any OPAL event: `trigger_failed` when OPAL refused it, `triggered` once
   * OPAL accepted it, `pending` while the trigger is still being attempted. Replay folds events onto this.
   */
  initialStateFor(workflow: Pick<WorkflowRow, 'status' | 'triggeredAt'>): WorkflowState {
    if (workflow.status === 'trigger_failed') return initialWorkflowState('trigger_failed');
    if (workflow.triggeredAt !== null) return initialWorkflowState('triggered');
    if (workflow.status === 'pending') return initialWorkflowState('pending');
    // Any later status without a recorded acceptance means OPAL accepted it (its events prove it).
    return initialWorkflowState('triggered');
  }

  /** The state-machine event of a stored webhook event (the outcome is kept as the event's `status`). */
  stateEventOf(event: StoredEventFields): StateEvent {
    const type = event.eventType as EventType;
    return {
      type,
      agentId: isAgentId(event.agentId) ? event.agentId : null,
      outcome: type === 'agent_completed' ? (event.status === 'failed' ? 'failed' : 'success') : null,
      occurredAt: event.occurredAt,
      error: event.errorMessage,
    };
  }

  /**
   * Marks workflows that got no terminal event within WORKFLOW_TIMEOUT_MINUTES (and their pending/running
   * agents) `timed_out`. Safe on every instance at once: rows locked by another sweep or by event processing
   * are skipped and picked up by the next run. Returns how many workflows timed out.
   */
  async sweepTimeouts(now: Date = new Date()): Promise<number> {
    let total = 0;
    for (;;) {
      const swept = await this.dataSource.transaction(async (manager) => {
        const due: { id: string }[] = await manager.query(
          `SELECT id FROM workflows
            WHERE status IN ('pending', 'triggered', 'running')
              AND created_at < $1::timestamptz - ($2::int * interval '1 minute')
            ORDER BY created_at
            LIMIT ${SWEEP_BATCH}
            FOR UPDATE SKIP LOCKED`,
          [now, this.config.workflowTimeoutMinutes],
        );
        let count = 0;
        for (const { id } of due) {
          const loaded = await this.loadState(manager, id, { lock: false });
          if (!loaded) continue;
          const result = applyEvent(loaded.state, { type: 'timeout', occurredAt: now });
          if (!result.changed) continue;
          await this.saveState(manager, id, loaded.state, result.state);
          count++;
        }
        return { count, full: due.length === SWEEP_BATCH };
      });
      total += swept.count;
      if (!swept.full || swept.count === 0) break;
    }
    if (total > 0) this.logger.warn({ msg: 'Workflows timed out', count: total });
    return total;
  }
}

function toLoadedState(row: WorkflowDbRow, agentRows: readonly AgentDbRow[]): LoadedWorkflowState {
  const workflow = toWorkflowRow(row);
  const state = initialWorkflowState(workflow.status);
  state.startedAt = workflow.startedAt;
  state.completedAt = workflow.completedAt;
  for (const agent of agentRows) {
    if (!isAgentId(agent.agent_id)) continue;
    state.agents[agent.agent_id] = {
      status: agent.status as AgentStatus,
      startedAt: dateOf(agent.started_at),
      completedAt: dateOf(agent.completed_at),
      error: agent.error,
    };
  }
  return { workflow, state };
}

function toWorkflowRow(row: WorkflowDbRow): WorkflowRow {
  const status = (WORKFLOW_STATUSES as readonly string[]).includes(row.status)
    ? (row.status as WorkflowStatus)
    : 'pending';
  return {
    id: row.id,
    correlationId: row.correlation_id,
    opalWorkflowId: row.opal_workflow_id,
    status,
    createdAt: dateOf(row.created_at),
    triggeredAt: dateOf(row.triggered_at),
    startedAt: dateOf(row.started_at),
    completedAt: dateOf(row.completed_at),
  };
}

function sameTime(a: Date | null, b: Date | null): boolean {
  if (a === null || b === null) return a === b;
  return a.getTime() === b.getTime();
}

function sameAgent(a: AgentState | undefined, b: AgentState): boolean {
  if (!a) return false;
  return (
    a.status === b.status &&
    a.error === b.error &&
    sameTime(a.startedAt, b.startedAt) &&
    sameTime(a.completedAt, b.completedAt)
  );
}
