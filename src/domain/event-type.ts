import { EXECUTION_STATUSES, type EventStatus, type EventType, type ExecutionStatus } from './events';

/**
 * Normalisation of OPAL's `event_type` / `execution_status` pair (contract sections 5 and 7).
 *
 * Events are stored with the canonical type, so aliases are resolved once here and every later reader
 * (state machine, diagnostics filters, replay) sees only the five canonical types:
 * - canonical: `workflow_started`, `agent_started`, `agent_completed`, `workflow_completed`, `workflow_failed`;
 * - dotted forms of the same (`agent.completed`, `workflow.started`, …);
 * - `workflow_triggered` / `workflow.triggered` → `workflow_started`;
 * - `agent_failed` / `agent.failed` → `agent_completed` with outcome `failed`.
 * Matching ignores case and surrounding whitespace.
 *
 * Without an event type, OPAL's tool callback (agent_id + execution_status) is read as: success →
 * agent_completed/success, failure|timeout → agent_completed/failed, pending → agent_started.
 *
 * With an explicit `agent_completed`, the outcome is `failed` when execution_status is failure|timeout (or the
 * event arrived as `agent_failed`), else `success`. `outcome` is null for workflow_* and agent_started.
 *
 * The diagnostics `status`: `failed` for workflow_failed, for any event whose execution_status is
 * failure|timeout and for `agent_failed`; `pending` for agent_started with execution_status pending; `success`
 * otherwise.
 */

export interface NormalizedEventType {
  eventType: EventType;
  outcome: 'success' | 'failed' | null;
  status: EventStatus;
}

interface Alias {
  eventType: EventType;
  forcedFailure: boolean;
}

// Keys use underscores; dotted input is mapped onto them before lookup.
const ALIASES: ReadonlyMap<string, Alias> = new Map<string, Alias>([
  ['workflow_started', { eventType: 'workflow_started', forcedFailure: false }],
  ['workflow_triggered', { eventType: 'workflow_started', forcedFailure: false }],
  ['agent_started', { eventType: 'agent_started', forcedFailure: false }],
  ['agent_completed', { eventType: 'agent_completed', forcedFailure: false }],
  ['agent_failed', { eventType: 'agent_completed', forcedFailure: true }],
  ['workflow_completed', { eventType: 'workflow_completed', forcedFailure: false }],
  ['workflow_failed', { eventType: 'workflow_failed', forcedFailure: false }],
]);

export function isExecutionStatus(value: unknown): value is ExecutionStatus {
  return typeof value === 'string' && (EXECUTION_STATUSES as readonly string[]).includes(value);
}

export function normalizeEventType(
  rawEventType: string | null | undefined,
  executionStatus: ExecutionStatus | null | undefined,
  hasAgentId: boolean,
): NormalizedEventType | null {
  const execution = normalizeExecutionStatus(executionStatus);
  const raw = typeof rawEventType === 'string' ? rawEventType.trim() : '';

  if (raw === '') {
    if (!hasAgentId || execution === null) return null;
    if (execution === 'pending') return { eventType: 'agent_started', outcome: null, status: 'pending' };
    const failedRun = execution === 'failure' || execution === 'timeout';
    return {
      eventType: 'agent_completed',
      outcome: failedRun ? 'failed' : 'success',
      status: failedRun ? 'failed' : 'success',
    };
  }

  const alias = lookup(raw);
  if (!alias) return null;
  const { eventType, forcedFailure } = alias;
  const failedExecution = execution === 'failure' || execution === 'timeout';

  const outcome =
    eventType === 'agent_completed' ? (forcedFailure || failedExecution ? 'failed' : 'success') : null;

  let status: EventStatus = 'success';
  if (eventType === 'workflow_failed' || failedExecution || forcedFailure) status = 'failed';
  else if (eventType === 'agent_started' && execution === 'pending') status = 'pending';

  return { eventType, outcome, status };
}

export function normalizeEventTypeFilter(value: string): EventType | null {
  if (typeof value !== 'string') return null;
  return lookup(value.trim())?.eventType ?? null;
}

function lookup(trimmed: string): Alias | undefined {
  const key = trimmed.toLowerCase();
  // Only a single dot between the two words is a dotted form; anything else is an unknown type.
  if (!/^[a-z]+[._][a-z]+$/.test(key)) return undefined;
  return ALIASES.get(key.replace('.', '_'));
}

// Callers may hand over the raw body value: case is forgiven, and an unknown value counts as absent.
function normalizeExecutionStatus(value: string | null | undefined): ExecutionStatus | null {
  if (typeof value !== 'string') return null;
  const lowered = value.trim().toLowerCase();
  return isExecutionStatus(lowered) ? lowered : null;
}
