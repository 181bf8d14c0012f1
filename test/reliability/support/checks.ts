import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { OPAL_AGENTS, isAgentId } from '../../../src/domain/opal';
import type { EventType } from '../../../src/domain/events';
import type { WorkflowStatus } from '../../../src/domain/workflow';
import {
  foldEvents,
  initialWorkflowState,
  type StateEvent,
  type WorkflowState,
} from '../../../src/modules/workflows/workflow-state';
import { waitFor } from '../../support/wait';
import { operatorHeaders } from './harness';
import type { OutgoingEvent, RetryingSender } from './sender';

/** Workflow rows as force sync leaves them once OPAL accepted them, with their nine pending agents. */
export async function insertWorkflows(pool: Pool, n: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                              triggered_by, outbound_payload, trigger_attempts, created_at, triggered_at)
       VALUES ($1, $2, $3, 'force_sync', 'triggered', 'priority_platforms', $4, 'reliability', '{}'::jsonb, 1,
               now(), now())`,
      [id, `force-sync-${Date.now()}-${id.slice(0, 8)}`, `opal-wf-${id.slice(0, 8)}`, `${label}-${i}`],
    );
    await pool.query(
      `INSERT INTO agent_runs (workflow_id, agent_id, status) SELECT $1, unnest($2::text[]), 'pending'`,
      [id, [...OPAL_AGENTS]],
    );
    ids.push(id);
  }
  return ids;
}

export interface StoredFigures {
  stored: number;
  /** Stored rows beyond the first for one event id: must be 0. */
  duplicates: number;
  ids: Set<string>;
}

export async function storedEvents(pool: Pool, prefix: string): Promise<StoredFigures> {
  const rows: { source_event_id: string; n: number }[] = (
    await pool.query(
      `SELECT source_event_id, count(*)::int AS n FROM webhook_events
        WHERE source_event_id LIKE $1 GROUP BY source_event_id`,
      [`${prefix}-%`],
    )
  ).rows;
  return {
    stored: rows.reduce((sum, row) => sum + row.n, 0),
    duplicates: rows.reduce((sum, row) => sum + (row.n - 1), 0),
    ids: new Set(rows.map((row) => row.source_event_id)),
  };
}

/** Waits until none of the events is pending; resolves with the processing statuses. */
export async function waitProcessed(
  pool: Pool,
  prefix: string,
  timeoutMs = 120_000,
): Promise<Record<string, number>> {
  const counts = async (): Promise<Record<string, number>> => {
    const rows: { processing_status: string; n: number }[] = (
      await pool.query(
        `SELECT processing_status, count(*)::int AS n FROM webhook_events
          WHERE source_event_id LIKE $1 GROUP BY processing_status`,
        [`${prefix}-%`],
      )
    ).rows;
    return Object.fromEntries(rows.map((row) => [row.processing_status, row.n]));
  };
  await waitFor(async () => ((await counts()).pending ?? 0) === 0, `events ${prefix}-* processed`, {
    timeoutMs,
    intervalMs: 250,
  });
  return counts();
}

/**
 * Every event sent accounted for: acknowledged ones are stored (else "lost"), each stored once; cut-off events
 * (never acknowledged) may or may not be stored.
 */
export function accountFor(
  events: OutgoingEvent[],
  sender: RetryingSender,
  stored: StoredFigures,
): Record<string, number> {
  let lost = 0;
  let storedUnacknowledged = 0;
  for (const event of events) {
    const outcome = sender.outcomes.get(event.id);
    if (outcome === 'accepted' || outcome === 'already_stored') {
      if (!stored.ids.has(event.id)) lost += 1;
    } else if (stored.ids.has(event.id)) storedUnacknowledged += 1;
  }
  const unaccounted = events.length - sender.outcomes.size;
  return {
    sent: events.length,
    acknowledged_202: sender.figures.accepted,
    acknowledged_409_answer_lost_earlier: sender.figures.alreadyStored,
    cut_off: sender.figures.cutOff,
    stored: stored.stored,
    duplicates: stored.duplicates,
    lost,
    stored_but_cut_off: storedUnacknowledged,
    unaccounted,
  };
}

export interface StateMismatch {
  id: string;
  field: string;
  stored: unknown;
  expected: unknown;
}

export interface StateComparison {
  workflows: number;
  /** Workflows whose stored state is exactly what the state machine makes of their events. */
  matching: number;
  events: number;
  mismatches: StateMismatch[];
}

/** The state-machine event of a callback body as OPAL sent it (the contract's fields, read by the test). */
function stateEventOf(payload: Record<string, unknown>, receivedMs: number): StateEvent {
  const type = payload.event_type as EventType;
  const agent = typeof payload.agent_id === 'string' && isAgentId(payload.agent_id) ? payload.agent_id : null;
  const error = (payload.error as { message?: unknown } | undefined)?.message;
  return {
    type,
    agentId: agent,
    outcome:
      type === 'agent_completed' ? (payload.execution_status === 'failure' ? 'failed' : 'success') : null,
    occurredAt: new Date(typeof payload.timestamp === 'string' ? payload.timestamp : receivedMs),
    error: typeof error === 'string' && error !== '' ? error : null,
  };
}

/** What the comparison looks at: the parts of a state that do not depend on the order events are applied in. */
function comparable(state: WorkflowState): Record<string, unknown> {
  const out: Record<string, unknown> = {
    status: state.status,
    started_at: state.startedAt?.getTime() ?? null,
  };
  for (const agent of OPAL_AGENTS) {
    out[`${agent}.status`] = state.agents[agent].status;
    out[`${agent}.started_at`] = state.agents[agent].startedAt?.getTime() ?? null;
  }
  return out;
}

/**
 * Checks each workflow's stored state independently of the service's own code paths: the stored events that
 * name the workflow (as their received bodies say, not as the service linked them) are folded through the pure
 * state machine from the state the workflow was created in, and the result is compared with the stored
 * workflow and agent rows: the statuses and start times, which the state machine makes independent of the order
 * of application (a fold in reverse order must agree, else that is reported too). Every event must also be
 * processed and linked to the workflow its body names.
 */
export async function compareWithStateMachine(pool: Pool, workflowIds: string[]): Promise<StateComparison> {
  const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8 AS ${column}`;
  const workflows: { id: string; status: WorkflowStatus; started_at: number | null }[] = (
    await pool.query(`SELECT id, status, ${ms('started_at')} FROM workflows WHERE id = ANY($1::uuid[])`, [
      workflowIds,
    ])
  ).rows;
  const agents: { workflow_id: string; agent_id: string; status: string; started_at: number | null }[] = (
    await pool.query(
      `SELECT workflow_id, agent_id, status, ${ms('started_at')} FROM agent_runs WHERE workflow_id = ANY($1::uuid[])`,
      [workflowIds],
    )
  ).rows;
  const events: {
    ref: string;
    sync_id: string | null;
    processing_status: string;
    payload: Record<string, unknown>;
    received_at: number;
  }[] = (
    await pool.query(
      `SELECT payload->>'workflow_id' AS ref, sync_id, processing_status, payload, ${ms('received_at')}
         FROM webhook_events WHERE payload->>'workflow_id' = ANY($1::text[]) ORDER BY sequence`,
      [workflowIds],
    )
  ).rows;

  const mismatches: StateMismatch[] = [];
  for (const event of events) {
    if (event.processing_status !== 'processed' || event.sync_id !== event.ref) {
      mismatches.push({
        id: event.ref,
        field: `event ${String(event.payload.event_id)}`,
        stored: { processing_status: event.processing_status, sync_id: event.sync_id },
        expected: { processing_status: 'processed', sync_id: event.ref },
      });
    }
  }
  for (const id of workflowIds) {
    const row = workflows.find((w) => w.id === id);
    if (!row) {
      mismatches.push({ id, field: 'row', stored: null, expected: 'a workflow row' });
      continue;
    }
    const own = events.filter((e) => e.ref === id).map((e) => stateEventOf(e.payload, e.received_at));
    const inOrder = comparable(foldEvents(initialWorkflowState('triggered'), own));
    const reversed = comparable(foldEvents(initialWorkflowState('triggered'), [...own].reverse()));
    const stored: Record<string, unknown> = { status: row.status, started_at: roundMs(row.started_at) };
    for (const agent of OPAL_AGENTS) {
      const a = agents.find((x) => x.workflow_id === id && x.agent_id === agent);
      stored[`${agent}.status`] = a?.status ?? null;
      stored[`${agent}.started_at`] = roundMs(a?.started_at ?? null);
    }
    for (const field of Object.keys(inOrder)) {
      if (inOrder[field] !== reversed[field]) {
        mismatches.push({
          id,
          field: `${field} (depends on the order)`,
          stored: reversed[field],
          expected: inOrder[field],
        });
      } else if (stored[field] !== inOrder[field]) {
        mismatches.push({ id, field, stored: stored[field], expected: inOrder[field] });
      }
    }
  }
  const wrong = new Set(mismatches.map((m) => m.id));
  return {
    workflows: workflowIds.length,
    matching: workflowIds.filter((id) => !wrong.has(id)).length,
    events: events.length,
    mismatches: mismatches.slice(0, 20),
  };
}

function roundMs(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

/** Scrapes the Prometheus text and returns the value of each named series without labels. */
export async function scrape(baseUrl: string, names: string[]): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, {
    headers: operatorHeaders(),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  const values: Record<string, number> = {};
  for (const name of names) {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    if (match) values[name] = Number(match[1]);
  }
  return values;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
}
