import type { EventType } from '../../domain/events';
import { OPAL_AGENTS, isAgentId, type AgentId } from '../../domain/opal';
import { isTerminalWorkflowStatus, type AgentStatus, type WorkflowStatus } from '../../domain/workflow';

/**
 * The workflow and agent state machine: every change of a workflow's state is a pure function of its current
 * state and one event, computed here and stored by the one write path (`WorkflowStateService`).
 *
 * Trigger delivery, webhook processing, the timeout sweep and replay all go through `applyEvent`, so the live
 * state and a rebuilt one cannot drift apart. OPAL's callbacks may arrive late, twice or out of order, so every
 * rule is written to be idempotent and to give the same final state whatever the order of arrival.
 *
 * Trigger rules (the delivery of the trigger to OPAL; `attempt` is the 1-based number of a call):
 * - `trigger_claimed`: a pending workflow whose next call is `attempt` (= attempts + 1) records it and holds
 *   the row until `leaseUntil` (nextAttemptAt doubles as the lease of the call in flight). Otherwise unchanged.
 * - `trigger_accepted`: OPAL took it. pending → triggered; triggeredAt keeps its first value; the delivery is
 *   done (nextAttemptAt null, last error cleared, last status code kept). A workflow already moved on by its
 *   callbacks keeps its status. A `trigger_failed` workflow stays as it is: it was given up.
 * - `trigger_retry_scheduled`: the call failed and will be retried at `nextAttemptAt`; only for a pending
 *   workflow whose current attempt is `attempt` (a call that lost its claim changes nothing).
 * - `trigger_rejected`: given up (refused for good, or out of attempts); pending → trigger_failed with
 *   completedAt; same guard as above.
 *
 * Callback rules:
 * - `workflow_started`: workflow pending|triggered → running (startedAt = occurredAt). Otherwise the status is
 *   unchanged.
 * - `agent_started` (agentId required): agent pending → running (agent startedAt). Workflow pending|triggered →
 *   running. An agent in any other state keeps its status (no regression).
 * - `agent_completed` with outcome success (a null outcome counts as success): agent pending|running|failed →
 *   completed (completedAt = occurredAt, error cleared, startedAt = occurredAt if it was null); an agent already
 *   completed or timed_out stays. With outcome failed: agent pending|running → failed (completedAt, error =
 *   event.error, or 'agent failed' when that is missing or empty); completed/failed/timed_out stay. Either way
 *   a pending|triggered workflow becomes running. A `partially_completed` workflow whose nine agents are all completed after this event
 *   becomes `completed` (OPAL retried the failed agent): the only way a terminal workflow moves. Its
 *   completedAt becomes the later of the two times, so a late-arriving agent event that happened before
 *   `workflow_completed` leaves it as it was.
 * - `workflow_completed`: non-terminal workflow → `completed` when all nine agents are completed, else
 *   `partially_completed`; completedAt = occurredAt. Agents still pending/running are left as they are (their
 *   events may still arrive). Terminal: unchanged.
 * - `workflow_failed`: non-terminal → failed (completedAt = occurredAt). Terminal: unchanged.
 * - `timeout` (the sweep): non-terminal workflow → timed_out (completedAt = occurredAt) and every agent
 *   pending|running → timed_out (completedAt = occurredAt). Terminal: unchanged.
 * - `cancel` (an operator's cancel): pending|triggered|running → cancelled (completedAt = cancelledAt =
 *   occurredAt, the reason kept, no further call to OPAL: nextAttemptAt null). Agents keep their statuses (what
 *   they had done when it was cancelled). Any other status: unchanged. A `cancelled` workflow never changes
 *   again: callbacks that arrive later are stored and processed, but they are OPAL finishing a run nobody waits
 *   for, and a trigger call in flight that OPAL accepts changes nothing either.
 * - `completed`, `failed`, `timed_out` never change status (except partially_completed → completed above, and
 *   agents failed → completed). A `trigger_failed` workflow never changes at all: OPAL never accepted it, so
 *   events that claim otherwise must not make it look started.
 *
 * Start times: `workflow_started`, `agent_started`, `agent_completed` and `workflow_completed` all show that
 * the workflow had started by `occurredAt`, and `agent_started`/`agent_completed` show the same for their
 * agent. Each of them moves startedAt to the earlier of its current value and `occurredAt` — also when the
 * status does not move, and also on terminal workflows — so that e.g. an `agent_started` arriving after its
 * `agent_completed` still yields the in-order start time. A start time is never set later than an existing
 * completedAt (an event stamped after the end does not make the duration negative).
 *
 * `changed` is false exactly when the resulting state equals the input; the input state (and the event) are
 * never mutated, and when nothing changed the very same state object is returned.
 */

export interface AgentState {
  status: AgentStatus;
  startedAt: Date | null;
  completedAt: Date | null;
  error: string | null;
}

/** The delivery of the trigger to OPAL. */
export interface TriggerState {
  /** Calls made (or in flight) so far. */
  attempts: number;
  /** While pending: when the next call is due, or until when the call in flight holds the row. */
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
}

export interface WorkflowState {
  status: WorkflowStatus;
  /** When OPAL accepted the trigger. */
  triggeredAt: Date | null;
  startedAt: Date | null;
  completedAt: Date | null;
  trigger: TriggerState;
  /** When an operator cancelled it, and why (null unless cancelled). */
  cancelledAt: Date | null;
  cancelReason: string | null;
  agents: Record<AgentId, AgentState>;
}

/** One of OPAL's callbacks, as the state machine reads it. */
export interface CallbackStateEvent {
  type: EventType;
  agentId: AgentId | null;
  outcome: 'success' | 'failed' | null;
  occurredAt: Date;
  error?: string | null;
}

export type TriggerStateEvent =
  | { type: 'trigger_claimed'; attempt: number; leaseUntil: Date }
  | { type: 'trigger_accepted'; attempt: number; occurredAt: Date; statusCode: number | null }
  | {
      type: 'trigger_retry_scheduled';
      attempt: number;
      occurredAt: Date;
      statusCode: number | null;
      error: string | null;
      nextAttemptAt: Date;
    }
  | {
      type: 'trigger_rejected';
      attempt: number;
      occurredAt: Date;
      statusCode: number | null;
      error: string | null;
    };

export type StateEvent =
  | CallbackStateEvent
  | TriggerStateEvent
  | { type: 'timeout'; occurredAt: Date }
  | { type: 'cancel'; occurredAt: Date; reason: string | null };

/** A stored callback (the `webhook_events` columns the state machine needs). */
export interface StoredCallback {
  eventType: string;
  agentId: string | null;
  /** The event's diagnostics status: `failed` marks an unsuccessful `agent_completed`. */
  status: string;
  occurredAt: Date;
  errorMessage: string | null;
}

/** The state-machine event of a stored callback (the outcome is kept as the event's `status`). */
export function callbackEventOf(event: StoredCallback): CallbackStateEvent {
  const type = event.eventType as EventType;
  return {
    type,
    agentId: isAgentId(event.agentId) ? event.agentId : null,
    outcome: type === 'agent_completed' ? (event.status === 'failed' ? 'failed' : 'success') : null,
    occurredAt: event.occurredAt,
    error: event.errorMessage,
  };
}

const DEFAULT_AGENT_ERROR = 'agent failed';

export function initialWorkflowState(status: WorkflowStatus = 'triggered'): WorkflowState {
  const agents = {} as Record<AgentId, AgentState>;
  for (const agentId of OPAL_AGENTS) {
    agents[agentId] = { status: 'pending', startedAt: null, completedAt: null, error: null };
  }
  return {
    status,
    triggeredAt: null,
    startedAt: null,
    completedAt: null,
    trigger: { attempts: 0, nextAttemptAt: null, lastStatusCode: null, lastError: null },
    cancelledAt: null,
    cancelReason: null,
    agents,
  };
}

/**
 * The state a workflow had before any of OPAL's callbacks, from what is stored of it now: its trigger's
 * delivery is kept (replay never calls OPAL), its callbacks' effects are not. `trigger_failed` when OPAL refused
 * it, `triggered` once OPAL accepted it (or once its events prove it did), `pending` while the trigger is still
 * being attempted. Replay folds the stored callbacks onto this.
 */
export function stateBeforeCallbacks(current: WorkflowState): WorkflowState {
  let status: WorkflowStatus = 'triggered';
  if (current.status === 'trigger_failed') status = 'trigger_failed';
  else if (current.triggeredAt === null && (current.status === 'pending' || current.status === 'cancelled'))
    status = 'pending';
  const base = initialWorkflowState(status);
  return {
    ...base,
    triggeredAt: current.triggeredAt,
    completedAt: status === 'trigger_failed' ? current.completedAt : null,
    trigger: { ...current.trigger },
  };
}

export function applyEvent(
  state: WorkflowState,
  event: StateEvent,
): { state: WorkflowState; changed: boolean } {
  const next = transition(state, event);
  if (sameWorkflowState(state, next)) return { state, changed: false };
  return { state: next, changed: true };
}

export function foldEvents(initial: WorkflowState, events: readonly StateEvent[]): WorkflowState {
  let state = initial;
  for (const event of events) state = applyEvent(state, event).state;
  return state;
}

/** Finished agents out of nine, from each agent's status (an agent without one counts as pending). */
export function progressOf(agents: ReadonlyMap<string, AgentStatus> | WorkflowState['agents']): {
  agents_total: 9;
  agents_completed: number;
  agents_failed: number;
  percent: number;
} {
  const statusOf = (agentId: AgentId): AgentStatus | undefined =>
    agents instanceof Map
      ? (agents as ReadonlyMap<string, AgentStatus>).get(agentId)
      : (agents as WorkflowState['agents'])[agentId]?.status;
  let completed = 0;
  let failed = 0;
  for (const agentId of OPAL_AGENTS) {
    const status = statusOf(agentId);
    if (status === 'completed') completed++;
    // A timed-out agent did not deliver either; counting it here keeps completed + failed = finished agents.
    else if (status === 'failed' || status === 'timed_out') failed++;
  }
  return {
    agents_total: 9,
    agents_completed: completed,
    agents_failed: failed,
    percent: Math.round((100 * (completed + failed)) / OPAL_AGENTS.length),
  };
}

function transition(state: WorkflowState, event: StateEvent): WorkflowState {
  if (state.status === 'trigger_failed' || state.status === 'cancelled') return state;
  if (event.type === 'trigger_claimed') return onTriggerClaimed(state, event.attempt, event.leaseUntil);
  const at = event.occurredAt;
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) return state;

  switch (event.type) {
    case 'trigger_accepted':
      return {
        ...state,
        status: state.status === 'pending' ? 'triggered' : state.status,
        triggeredAt: state.triggeredAt ?? copy(at),
        trigger: {
          attempts: Math.max(state.trigger.attempts, event.attempt),
          nextAttemptAt: null,
          lastStatusCode: event.statusCode,
          lastError: null,
        },
      };
    case 'trigger_retry_scheduled':
      if (!isCurrentAttempt(state, event.attempt)) return state;
      return {
        ...state,
        trigger: {
          ...state.trigger,
          nextAttemptAt: copy(event.nextAttemptAt),
          lastStatusCode: event.statusCode,
          lastError: event.error,
        },
      };
    case 'trigger_rejected':
      if (!isCurrentAttempt(state, event.attempt)) return state;
      return {
        ...state,
        status: 'trigger_failed',
        completedAt: copy(at),
        trigger: {
          ...state.trigger,
          nextAttemptAt: null,
          lastStatusCode: event.statusCode,
          lastError: event.error,
        },
      };
    case 'timeout':
      return onTimeout(state, at);
    case 'cancel':
      if (isTerminalWorkflowStatus(state.status)) return state;
      return {
        ...state,
        status: 'cancelled',
        completedAt: copy(at),
        cancelledAt: copy(at),
        cancelReason: event.reason,
        trigger: { ...state.trigger, nextAttemptAt: null },
      };
    case 'workflow_started':
      return markWorkflowStarted(withWorkflowRunning(state, at), at);
    case 'agent_started':
    case 'agent_completed': {
      if (!isAgentId(event.agentId)) return state;
      const agentId = event.agentId;
      const agent = state.agents[agentId];
      const nextAgent =
        event.type === 'agent_started'
          ? onAgentStarted(agent, at)
          : onAgentCompleted(agent, at, event.outcome ?? 'success', event.error);
      let next: WorkflowState =
        nextAgent === agent ? state : { ...state, agents: { ...state.agents, [agentId]: nextAgent } };
      next = withWorkflowRunning(next, at);
      if (next.status === 'partially_completed' && allAgentsCompleted(next)) {
        next = { ...next, status: 'completed', completedAt: later(next.completedAt, at) };
      }
      return markWorkflowStarted(next, at);
    }
    case 'workflow_completed': {
      if (isTerminalWorkflowStatus(state.status)) return markWorkflowStarted(state, at);
      const status: WorkflowStatus = allAgentsCompleted(state) ? 'completed' : 'partially_completed';
      return markWorkflowStarted({ ...state, status, completedAt: copy(at) }, at);
    }
    case 'workflow_failed':
      if (isTerminalWorkflowStatus(state.status)) return state;
      return { ...state, status: 'failed', completedAt: copy(at) };
    default:
      // An event type this version does not know changes nothing rather than guessing.
      return state;
  }
}

function onTriggerClaimed(state: WorkflowState, attempt: number, leaseUntil: Date): WorkflowState {
  if (state.status !== 'pending' || attempt !== state.trigger.attempts + 1) return state;
  if (!(leaseUntil instanceof Date) || Number.isNaN(leaseUntil.getTime())) return state;
  return { ...state, trigger: { ...state.trigger, attempts: attempt, nextAttemptAt: copy(leaseUntil) } };
}

/** The call being recorded is the workflow's latest claimed one, and the trigger is still being delivered. */
function isCurrentAttempt(state: WorkflowState, attempt: number): boolean {
  return state.status === 'pending' && state.trigger.attempts === attempt;
}

function onTimeout(state: WorkflowState, at: Date): WorkflowState {
  if (isTerminalWorkflowStatus(state.status)) return state;
  const agents = { ...state.agents };
  for (const agentId of OPAL_AGENTS) {
    const agent = agents[agentId];
    if (agent.status === 'pending' || agent.status === 'running') {
      agents[agentId] = { ...agent, status: 'timed_out', completedAt: copy(at) };
    }
  }
  return { ...state, status: 'timed_out', completedAt: copy(at), agents };
}

function onAgentStarted(agent: AgentState, at: Date): AgentState {
  if (agent.status === 'pending')
    return { ...agent, status: 'running', startedAt: earlier(agent.startedAt, at) };
  return withAgentStartedAt(agent, at);
}

function onAgentCompleted(
  agent: AgentState,
  at: Date,
  outcome: 'success' | 'failed',
  error: string | null | undefined,
): AgentState {
  if (outcome === 'success') {
    if (agent.status === 'pending' || agent.status === 'running' || agent.status === 'failed') {
      return {
        status: 'completed',
        startedAt: earlier(agent.startedAt, at),
        completedAt: copy(at),
        error: null,
      };
    }
    return withAgentStartedAt(agent, at);
  }
  if (agent.status === 'pending' || agent.status === 'running') {
    return {
      status: 'failed',
      startedAt: earlier(agent.startedAt, at),
      completedAt: copy(at),
      // An empty message tells an operator nothing, so it gets the same default as a missing one.
      error: error || DEFAULT_AGENT_ERROR,
    };
  }
  return withAgentStartedAt(agent, at);
}

/** Moves an agent's start earlier when the event proves it; never past its completion. */
function withAgentStartedAt(agent: AgentState, at: Date): AgentState {
  if (agent.completedAt && at.getTime() > agent.completedAt.getTime()) return agent;
  const startedAt = earlier(agent.startedAt, at);
  return startedAt === agent.startedAt ? agent : { ...agent, startedAt };
}

function withWorkflowRunning(state: WorkflowState, at: Date): WorkflowState {
  if (state.status !== 'pending' && state.status !== 'triggered') return state;
  return { ...state, status: 'running', startedAt: earlier(state.startedAt, at) };
}

/** Moves the workflow's start earlier when the event proves it; never past its completion. */
function markWorkflowStarted(state: WorkflowState, at: Date): WorkflowState {
  if (state.completedAt && at.getTime() > state.completedAt.getTime()) return state;
  const startedAt = earlier(state.startedAt, at);
  return startedAt === state.startedAt ? state : { ...state, startedAt };
}

function allAgentsCompleted(state: WorkflowState): boolean {
  return OPAL_AGENTS.every((agentId) => state.agents[agentId]?.status === 'completed');
}

/** Returns `current` itself when it is already the earlier, so unchanged values keep their identity. */
function earlier(current: Date | null, candidate: Date): Date {
  if (current && current.getTime() <= candidate.getTime()) return current;
  return copy(candidate);
}

function later(current: Date | null, candidate: Date): Date {
  if (current && current.getTime() >= candidate.getTime()) return current;
  return copy(candidate);
}

// The state keeps its own Date instances so a caller reusing or mutating the event's Date cannot alter it.
function copy(date: Date): Date {
  return new Date(date.getTime());
}

function sameDate(a: Date | null, b: Date | null): boolean {
  if (a === null || b === null) return a === b;
  return a.getTime() === b.getTime();
}

export function sameAgentState(a: AgentState | undefined, b: AgentState): boolean {
  if (!a) return false;
  return (
    a.status === b.status &&
    a.error === b.error &&
    sameDate(a.startedAt, b.startedAt) &&
    sameDate(a.completedAt, b.completedAt)
  );
}

function sameTrigger(a: TriggerState, b: TriggerState): boolean {
  return (
    a.attempts === b.attempts &&
    a.lastStatusCode === b.lastStatusCode &&
    a.lastError === b.lastError &&
    sameDate(a.nextAttemptAt, b.nextAttemptAt)
  );
}

/** True when the workflow-level fields (not the agents) are equal. */
export function sameWorkflowFields(a: WorkflowState, b: WorkflowState): boolean {
  return (
    a.status === b.status &&
    sameDate(a.triggeredAt, b.triggeredAt) &&
    sameDate(a.startedAt, b.startedAt) &&
    sameDate(a.completedAt, b.completedAt) &&
    sameTrigger(a.trigger, b.trigger) &&
    sameDate(a.cancelledAt, b.cancelledAt) &&
    a.cancelReason === b.cancelReason
  );
}

export function sameWorkflowState(a: WorkflowState, b: WorkflowState): boolean {
  if (a === b) return true;
  return (
    sameWorkflowFields(a, b) &&
    OPAL_AGENTS.every((agentId) => sameAgentState(a.agents[agentId], b.agents[agentId]))
  );
}
