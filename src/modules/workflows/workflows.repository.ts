import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { OPAL_AGENTS, isAgentId, type SyncScope } from '../../domain/opal';
import { isUuid } from '../../domain/ids';
import {
  ACTIVE_WORKFLOW_STATUSES,
  AWAITING_CALLBACK_STATUSES,
  FINISHED_AGENT_STATUSES,
  TERMINAL_WORKFLOW_STATUSES,
  isWorkflowStatus,
  type AgentStatus,
  type WorkflowSource,
  type WorkflowStatus,
  WORKFLOW_CHANGED_CHANNEL,
} from '../../domain/workflow';
import type { TriggerOutcome } from '../../domain/workflow';
import { oneOf } from '../../database/check';
import { initialWorkflowState, sameAgentState, type WorkflowState } from './workflow-state';

/**
 * Every SQL statement on `workflows`, `agent_runs` and `trigger_attempts`. Nothing else in the service touches
 * these tables: other modules go through `WorkflowsService` (reads) and `WorkflowStateService` (the one write
 * path). Methods that take an `EntityManager` run inside the caller's transaction.
 */

/** What identifies a workflow: its sync id, OPAL's id for it (once known) and its correlation id. */
export interface WorkflowRef {
  id: string;
  opalWorkflowId: string | null;
  correlationId: string;
}

/** A workflow's row as the write path loads it: identity, version and state. */
export interface LoadedWorkflow {
  ref: WorkflowRef;
  version: number;
  createdAt: Date;
  state: WorkflowState;
}

/** A changed workflow to store, with the facts learned from OPAL that are not part of the state. */
export interface WorkflowWrite {
  syncId: string;
  previous: WorkflowState;
  next: WorkflowState;
  /** OPAL's ids for it, recorded when it accepts the trigger (never overwrite a known one). */
  opalWorkflowId?: string | null;
  sessionId?: string | null;
  /** How long the request that created it took to answer (for the response-time alert). */
  responseTimeMs?: number | null;
}

export interface StoredWorkflowVersion {
  id: string;
  version: number;
  status: WorkflowStatus;
  opalWorkflowId: string | null;
}

export interface NewWorkflowRow {
  id: string;
  correlationId: string;
  source: WorkflowSource;
  syncScope: SyncScope | null;
  clientName: string;
  triggeredBy: string;
  sessionId: string | null;
  outboundPayload: Record<string, unknown>;
  /** The request makes the first call itself: the row is created holding that call's claim this long. */
  firstAttemptLeaseMs: number;
}

export interface TriggerAttemptRow {
  syncId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  outcome: TriggerOutcome;
  error: string | null;
}

/** Force sync figures over a window (diagnostics and alerts). */
export interface ForceSyncFigures {
  accepted: number;
  /** Accepted by OPAL, or given up (trigger_failed). */
  finished: number;
  maxResponseMs: number | null;
}

/** Workflows and agent runs finished in a window (by completed_at), and the p95 of creation → terminal. */
export interface ServiceLevelWindow {
  /** Finished workflows that count for the success rate (an operator's cancel counts neither way). */
  workflowsFinished: number;
  workflowsCompleted: number;
  /** Finished agent runs (completed, failed, timed out). */
  agentsFinished: number;
  agentsCompleted: number;
  /** Over every finished workflow; null when none finished. */
  p95DurationMs: number | null;
}

/** The service levels (contract section 15): the last hour (alerts) and the last 24 hours (system_health). */
export interface ServiceLevelFigures {
  hour: ServiceLevelWindow;
  day: ServiceLevelWindow;
}

const DAY_MINUTES = 24 * 60;
/** Terminal statuses that count for the success rate: all but an operator's cancel. */
const SUCCESS_RATE_STATUSES = TERMINAL_WORKFLOW_STATUSES.filter(
  (status) => status !== ('cancelled' as string),
);

/** Times as epoch milliseconds (see `epochMs`). */
interface WorkflowDbRow {
  id: string;
  correlation_id: string;
  opal_workflow_id: string | null;
  status: string;
  version: number;
  trigger_attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  created_at: number;
  triggered_at: number | null;
  started_at: number | null;
  completed_at: number | null;
}

interface AgentDbRow {
  workflow_id: string;
  agent_id: string;
  status: string;
  started_at: number | null;
  completed_at: number | null;
  error: string | null;
}

interface RefRow {
  id: string;
  opal_workflow_id: string | null;
  correlation_id: string;
}

/**
 * A timestamp column read as epoch milliseconds: turning the number into a Date costs far less than parsing the
 * timestamp text, which was the largest part of applying a batch (up to 22 times per workflow). Both keep
 * millisecond precision.
 */
function epochMs(column: string): string {
  return `(extract(epoch FROM ${column}) * 1000)::float8 AS ${column}`;
}

function dateOf(ms: number): Date;
function dateOf(ms: number | null): Date | null;
function dateOf(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

const WORKFLOW_COLUMNS = `id, correlation_id, opal_workflow_id, status, version, trigger_attempts, last_status_code,
       last_error, ${epochMs('next_attempt_at')}, ${epochMs('created_at')}, ${epochMs('triggered_at')},
       ${epochMs('started_at')}, ${epochMs('completed_at')}`;
const AGENT_COLUMNS = `workflow_id, agent_id, status, ${epochMs('started_at')}, ${epochMs('completed_at')}, error`;

const byId = <T extends { syncId: string }>(a: T, b: T) =>
  a.syncId < b.syncId ? -1 : a.syncId > b.syncId ? 1 : 0;

@Injectable()
export class WorkflowsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The caller's transaction, or the pool. */
  private db(manager?: EntityManager): Pick<EntityManager, 'query'> {
    return manager ?? this.dataSource;
  }

  /** Workflows created or written at or after `since` (by `idx_workflows_updated`). */
  async refsWrittenSince(since: Date): Promise<WorkflowRef[]> {
    const rows: RefRow[] = await this.dataSource.query(
      `SELECT id, opal_workflow_id, correlation_id FROM workflows WHERE updated_at >= $1`,
      [since],
    );
    return rows.map((r) => ({
      id: r.id,
      opalWorkflowId: r.opal_workflow_id,
      correlationId: r.correlation_id,
    }));
  }

  /**
   * The workflows named by `refs` (sync ids in any case, OPAL ids, correlation ids) in one query; the matching
   * precedence is applied by `WorkflowRefIndex`.
   */
  async findRefs(refs: readonly string[], manager?: EntityManager): Promise<WorkflowRef[]> {
    // No stored id contains NUL, and PostgreSQL refuses it in a text parameter.
    const texts = [...new Set(refs)].filter((ref) => ref.length > 0 && !ref.includes('\u0000'));
    if (texts.length === 0) return [];
    const uuids = texts.filter(isUuid).map((ref) => ref.toLowerCase());
    const rows: RefRow[] = await this.db(manager).query(
      `SELECT id, opal_workflow_id, correlation_id FROM workflows
        WHERE id = ANY($1::uuid[]) OR opal_workflow_id = ANY($2::text[]) OR correlation_id = ANY($2::text[])`,
      [uuids, texts],
    );
    return rows.map((r) => ({
      id: r.id,
      opalWorkflowId: r.opal_workflow_id,
      correlationId: r.correlation_id,
    }));
  }

  /**
   * Workflows and their agents, in two queries; workflows that do not exist are absent from the map. With
   * `lock`, the rows are locked (`FOR UPDATE`) in id order, the order every multi-workflow writer uses, so two
   * instances cannot deadlock on a pair of workflows.
   */
  async load(
    manager: EntityManager,
    syncIds: readonly string[],
    options: { lock: boolean },
  ): Promise<Map<string, LoadedWorkflow>> {
    const out = new Map<string, LoadedWorkflow>();
    if (syncIds.length === 0) return out;
    const rows: WorkflowDbRow[] = await manager.query(
      `SELECT ${WORKFLOW_COLUMNS} FROM workflows WHERE id = ANY($1::uuid[]) ORDER BY id ${options.lock ? 'FOR UPDATE' : ''}`,
      [syncIds],
    );
    if (rows.length === 0) return out;
    const agentRows: AgentDbRow[] = await manager.query(
      `SELECT ${AGENT_COLUMNS} FROM agent_runs WHERE workflow_id = ANY($1::uuid[])`,
      [rows.map((r) => r.id)],
    );
    const agentsOf = new Map<string, AgentDbRow[]>();
    for (const agent of agentRows) {
      const list = agentsOf.get(agent.workflow_id) ?? [];
      list.push(agent);
      agentsOf.set(agent.workflow_id, list);
    }
    for (const row of rows) out.set(row.id, toLoaded(row, agentsOf.get(row.id) ?? []));
    return out;
  }

  /**
   * Stores changed workflows in at most two statements: one UPDATE of the workflow rows, which bumps each one's
   * `version` in the same statement, and one upsert of every changed agent. Rows are written in id order, the lock
   * order of every writer. Returns each written workflow's new version.
   */
  async save(manager: EntityManager, writes: readonly WorkflowWrite[]): Promise<StoredWorkflowVersion[]> {
    if (writes.length === 0) return [];
    const sorted = [...writes].sort(byId);
    const col = <V>(pick: (w: WorkflowWrite) => V): V[] => sorted.map(pick);
    const [rows]: [
      { id: string; version: number; status: string; opal_workflow_id: string | null }[],
      number,
    ] = await manager.query(
      `UPDATE workflows w
            SET status = v.status, triggered_at = v.triggered_at, started_at = v.started_at,
                completed_at = v.completed_at, trigger_attempts = v.trigger_attempts,
                next_attempt_at = v.next_attempt_at, last_status_code = v.last_status_code,
                last_error = v.last_error,
                opal_workflow_id = CASE
                  WHEN w.opal_workflow_id IS NULL AND v.opal_workflow_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM workflows o WHERE o.opal_workflow_id = v.opal_workflow_id)
                  THEN v.opal_workflow_id ELSE w.opal_workflow_id END,
                session_id = COALESCE(w.session_id, v.session_id),
                response_time_ms = COALESCE(v.response_time_ms, w.response_time_ms),
                version = w.version + 1, updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[],
                       $6::int[], $7::timestamptz[], $8::int[], $9::text[], $10::text[], $11::text[], $12::int[])
                AS v(id, status, triggered_at, started_at, completed_at, trigger_attempts, next_attempt_at,
                     last_status_code, last_error, opal_workflow_id, session_id, response_time_ms)
          WHERE w.id = v.id
          RETURNING w.id, w.version, w.status, w.opal_workflow_id`,
      [
        col((w) => w.syncId),
        col((w) => w.next.status),
        col((w) => w.next.triggeredAt),
        col((w) => w.next.startedAt),
        col((w) => w.next.completedAt),
        col((w) => w.next.trigger.attempts),
        col((w) => w.next.trigger.nextAttemptAt),
        col((w) => w.next.trigger.lastStatusCode),
        col((w) => w.next.trigger.lastError),
        col((w) => w.opalWorkflowId ?? null),
        col((w) => w.sessionId ?? null),
        col((w) => w.responseTimeMs ?? null),
      ],
    );
    const agents: {
      syncId: string;
      agentId: string;
      agent: WorkflowState['agents'][keyof WorkflowState['agents']];
    }[] = [];
    for (const { syncId, previous, next } of sorted) {
      for (const agentId of OPAL_AGENTS) {
        if (!sameAgentState(previous.agents[agentId], next.agents[agentId])) {
          agents.push({ syncId, agentId, agent: next.agents[agentId] });
        }
      }
    }
    if (agents.length > 0) {
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
    await this.notifyChanged(manager, rows);
    return rows.map((r) => ({
      id: r.id,
      version: r.version,
      status: r.status as WorkflowStatus,
      opalWorkflowId: r.opal_workflow_id,
    }));
  }

  /**
   * Serialises the creation of workflows of one scope and client across every instance on this database (a
   * transaction-scoped advisory lock), then answers the youngest active one, if any.
   */
  async lockScopeAndFindActive(
    manager: EntityManager,
    scope: SyncScope,
    clientName: string,
    activeWithinMinutes: number,
  ): Promise<string | null> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`${scope}|${clientName}`]);
    const active: { id: string }[] = await manager.query(
      `SELECT id FROM workflows
        WHERE sync_scope = $1 AND client_name = $2 AND ${oneOf('status', ACTIVE_WORKFLOW_STATUSES)}
          AND created_at > now() - ($3::int * interval '1 minute')
        ORDER BY created_at DESC LIMIT 1`,
      [scope, clientName, activeWithinMinutes],
    );
    return active[0]?.id ?? null;
  }

  /**
   * The workflow (pending, its first call already claimed by the creating request) and its nine pending agents,
   * in one statement. Answers the stored version (1) and the request as stored (jsonb orders its keys: every call,
   * the first included, sends these bytes).
   */
  async insert(
    manager: EntityManager,
    input: NewWorkflowRow,
  ): Promise<{ version: number; outboundPayload: Record<string, unknown> }> {
    const rows: { version: number; outbound_payload: Record<string, unknown> }[] = await manager.query(
      `WITH workflow AS (
         INSERT INTO workflows (id, correlation_id, session_id, source, status, sync_scope, client_name,
                                triggered_by, outbound_payload, trigger_attempts, next_attempt_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, 1, now() + ($9::int * interval '1 millisecond'))
         RETURNING id, version, outbound_payload),
       agents AS (
         INSERT INTO agent_runs (workflow_id, agent_id, status)
         SELECT workflow.id, agent_id, 'pending' FROM workflow, unnest($10::text[]) AS agent_id)
       SELECT version, outbound_payload FROM workflow`,
      [
        input.id,
        input.correlationId,
        input.sessionId,
        input.source,
        input.syncScope,
        input.clientName,
        input.triggeredBy,
        input.outboundPayload,
        input.firstAttemptLeaseMs,
        [...OPAL_AGENTS],
      ],
    );
    await this.notifyChanged(manager, [{ id: input.id, version: rows[0].version }]);
    return { version: rows[0].version, outboundPayload: rows[0].outbound_payload };
  }

  /**
   * Tells every instance (live progress streams) that these versions were stored: PostgreSQL delivers the
   * notifications when the transaction commits, and drops them when it rolls back.
   */
  private async notifyChanged(
    manager: EntityManager,
    stored: readonly { id: string; version: number }[],
  ): Promise<void> {
    if (stored.length === 0) return;
    await manager.query(
      `SELECT pg_notify($1, n.id::text || ':' || n.version::text)
         FROM unnest($2::uuid[], $3::int[]) AS n(id, version)`,
      [WORKFLOW_CHANGED_CHANNEL, stored.map((s) => s.id), stored.map((s) => s.version)],
    );
  }

  /** Ids of pending workflows whose next call is due (no lock: a hint for `lockDueTriggers`). */
  async dueTriggerIds(limit: number): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM workflows WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** Locks up to `limit` pending workflows whose next call is due, skipping rows another instance holds. */
  async lockDueTriggers(manager: EntityManager, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await manager.query(
      `SELECT id FROM workflows
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** The database's clock, for deadlines compared with `now()` in SQL. */
  async now(manager: EntityManager): Promise<Date> {
    const rows: { now_ms: number }[] = await manager.query(
      `SELECT (extract(epoch FROM now()) * 1000)::float8 AS now_ms`,
    );
    return new Date(rows[0].now_ms);
  }

  /** The outbound request stored for a workflow's trigger (sent unchanged on every call). */
  async outboundOf(
    ids: readonly string[],
    manager?: EntityManager,
  ): Promise<Map<string, { correlationId: string; payload: Record<string, unknown> }>> {
    if (ids.length === 0) return new Map();
    const rows: { id: string; correlation_id: string; outbound_payload: Record<string, unknown> }[] =
      await this.db(manager).query(
        `SELECT id, correlation_id, outbound_payload FROM workflows WHERE id = ANY($1::uuid[])`,
        [ids],
      );
    return new Map(rows.map((r) => [r.id, { correlationId: r.correlation_id, payload: r.outbound_payload }]));
  }

  /** Records one call to OPAL (once per workflow and attempt). */
  async insertAttempt(manager: EntityManager, attempt: TriggerAttemptRow): Promise<void> {
    await manager.query(
      `INSERT INTO trigger_attempts (workflow_id, attempt, started_at, duration_ms, status_code, outcome, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (workflow_id, attempt) DO NOTHING`,
      [
        attempt.syncId,
        attempt.attempt,
        attempt.startedAt,
        attempt.durationMs,
        attempt.statusCode,
        attempt.outcome,
        attempt.error,
      ],
    );
  }

  /**
   * Locks up to `limit` workflows still waiting for a terminal event that were created before the timeout,
   * skipping rows held by another sweep or by event processing (they are picked up by the next run).
   */
  async lockTimedOut(manager: EntityManager, createdBefore: Date, limit: number): Promise<string[]> {
    const rows: { id: string }[] = await manager.query(
      `SELECT id FROM workflows
        WHERE ${oneOf('status', ACTIVE_WORKFLOW_STATUSES)} AND created_at < $1::timestamptz
        ORDER BY created_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [createdBefore, limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Workflows waiting for OPAL's callbacks: accepted, not finished, and younger than the workflow timeout (older
   * ones are about to be timed out). The one definition of "active workflows" (diagnostics, alerts, metrics).
   */
  async countAwaitingCallbacks(timeoutMinutes: number): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM workflows
        WHERE ${oneOf('status', AWAITING_CALLBACK_STATUSES)} AND created_at > now() - $1::int * interval '1 minute'`,
      [timeoutMinutes],
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Force syncs and triggers created in the last `windowMinutes`: how many OPAL accepted, how many finished their
   * delivery (accepted or given up) and the longest answer. Bounded by `idx_workflows_created`.
   */
  async forceSyncFigures(windowMinutes: number): Promise<ForceSyncFigures> {
    const rows: { accepted: number; finished: number; max_response_ms: number | null }[] =
      await this.dataSource.query(
        `SELECT count(*) FILTER (WHERE triggered_at IS NOT NULL)::int AS accepted,
                count(*) FILTER (WHERE triggered_at IS NOT NULL OR status = 'trigger_failed')::int AS finished,
                max(response_time_ms)::int AS max_response_ms
           FROM workflows
          WHERE created_at > now() - $1::int * interval '1 minute'`,
        [windowMinutes],
      );
    const row = rows[0];
    return { accepted: row.accepted, finished: row.finished, maxResponseMs: row.max_response_ms };
  }

  /**
   * Workflows and agent runs that finished in the last hour and the last 24 hours (by completed_at, like the
   * counters of /metrics). A workflow finishes within the workflow timeout of its creation (the sweep sees to it),
   * so only workflows created within the window plus twice the timeout are read, through the created_at index.
   */
  async serviceLevelFigures(timeoutMinutes: number): Promise<ServiceLevelFigures> {
    const params = [
      DAY_MINUTES + 2 * timeoutMinutes,
      TERMINAL_WORKFLOW_STATUSES,
      SUCCESS_RATE_STATUSES,
      FINISHED_AGENT_STATUSES,
    ];
    const [[w], [a]] = await Promise.all([
      this.dataSource.query<
        {
          finished_hour: number;
          completed_hour: number;
          finished_day: number;
          completed_day: number;
          p95_hour_ms: number | null;
          p95_day_ms: number | null;
        }[]
      >(
        `SELECT count(*) FILTER (WHERE hour AND status = ANY($3::text[]))::int AS finished_hour,
                count(*) FILTER (WHERE hour AND status = 'completed')::int AS completed_hour,
                count(*) FILTER (WHERE status = ANY($3::text[]))::int AS finished_day,
                count(*) FILTER (WHERE status = 'completed')::int AS completed_day,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE hour)::float8 AS p95_hour_ms,
                percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::float8 AS p95_day_ms
           FROM (SELECT status, completed_at > now() - interval '1 hour' AS hour,
                        GREATEST(0, extract(epoch FROM completed_at - created_at) * 1000) AS duration_ms
                   FROM workflows
                  WHERE created_at > now() - $1::int * interval '1 minute'
                    AND status = ANY($2::text[])
                    AND completed_at > now() - interval '24 hours') finished`,
        params.slice(0, 3),
      ),
      this.dataSource.query<
        { finished_hour: number; completed_hour: number; finished_day: number; completed_day: number }[]
      >(
        `SELECT count(*) FILTER (WHERE a.completed_at > now() - interval '1 hour')::int AS finished_hour,
                count(*) FILTER (WHERE a.completed_at > now() - interval '1 hour'
                                   AND a.status = 'completed')::int AS completed_hour,
                count(*)::int AS finished_day,
                count(*) FILTER (WHERE a.status = 'completed')::int AS completed_day
           FROM workflows w
           JOIN agent_runs a ON a.workflow_id = w.id
          WHERE w.created_at > now() - $1::int * interval '1 minute'
            AND a.status = ANY($2::text[])
            AND a.completed_at > now() - interval '24 hours'`,
        [params[0], params[3]],
      ),
    ]);
    return {
      hour: {
        workflowsFinished: w.finished_hour,
        workflowsCompleted: w.completed_hour,
        agentsFinished: a.finished_hour,
        agentsCompleted: a.completed_hour,
        p95DurationMs: w.p95_hour_ms,
      },
      day: {
        workflowsFinished: w.finished_day,
        workflowsCompleted: w.completed_day,
        agentsFinished: a.finished_day,
        agentsCompleted: a.completed_day,
        p95DurationMs: w.p95_day_ms,
      },
    };
  }
}

function toLoaded(row: WorkflowDbRow, agentRows: readonly AgentDbRow[]): LoadedWorkflow {
  const status: WorkflowStatus = isWorkflowStatus(row.status) ? row.status : 'pending';
  const state = initialWorkflowState(status);
  state.triggeredAt = dateOf(row.triggered_at);
  state.startedAt = dateOf(row.started_at);
  state.completedAt = dateOf(row.completed_at);
  state.trigger = {
    attempts: row.trigger_attempts,
    nextAttemptAt: dateOf(row.next_attempt_at),
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
  };
  for (const agent of agentRows) {
    if (!isAgentId(agent.agent_id)) continue;
    state.agents[agent.agent_id] = {
      status: agent.status as AgentStatus,
      startedAt: dateOf(agent.started_at),
      completedAt: dateOf(agent.completed_at),
      error: agent.error,
    };
  }
  return {
    ref: { id: row.id, opalWorkflowId: row.opal_workflow_id, correlationId: row.correlation_id },
    version: row.version,
    createdAt: dateOf(row.created_at),
    state,
  };
}
