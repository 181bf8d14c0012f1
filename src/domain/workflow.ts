/** Workflow and agent statuses (contract section 3) and the other closed sets a workflow row holds. */

export const WORKFLOW_STATUSES = [
  'pending',
  'triggered',
  'running',
  'completed',
  'partially_completed',
  'failed',
  'timed_out',
  'trigger_failed',
] as const;
export type WorkflowStatus = (typeof WORKFLOW_STATUSES)[number];

export const TERMINAL_WORKFLOW_STATUSES: readonly WorkflowStatus[] = [
  'completed',
  'partially_completed',
  'failed',
  'timed_out',
  'trigger_failed',
];

/** Not finished: a force sync of the same scope and client is refused while one of these is younger than the timeout. */
export const ACTIVE_WORKFLOW_STATUSES = [
  'pending',
  'triggered',
  'running',
] as const satisfies readonly WorkflowStatus[];

/** Accepted by OPAL and not finished: callbacks are expected. */
export const AWAITING_CALLBACK_STATUSES = [
  'triggered',
  'running',
] as const satisfies readonly WorkflowStatus[];

export function isTerminalWorkflowStatus(status: WorkflowStatus): boolean {
  return TERMINAL_WORKFLOW_STATUSES.includes(status);
}

export function isWorkflowStatus(value: unknown): value is WorkflowStatus {
  return typeof value === 'string' && (WORKFLOW_STATUSES as readonly string[]).includes(value);
}

export const AGENT_STATUSES = ['pending', 'running', 'completed', 'failed', 'timed_out'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** An agent run in one of these has finished: it changes again only when OPAL retries a failed agent. */
export const FINISHED_AGENT_STATUSES: readonly AgentStatus[] = AGENT_STATUSES.filter(
  (status) => status !== 'pending' && status !== 'running',
);

export function isFinishedAgentStatus(status: AgentStatus): boolean {
  return FINISHED_AGENT_STATUSES.includes(status);
}

/** Which route created the workflow. */
export const WORKFLOW_SOURCES = ['force_sync', 'orchestration_trigger'] as const;
export type WorkflowSource = (typeof WORKFLOW_SOURCES)[number];

/** How one call to OPAL ended: accepted (2xx), retryable (retried later) or rejected (given up). */
export const TRIGGER_OUTCOMES = ['accepted', 'retryable', 'rejected'] as const;
export type TriggerOutcome = (typeof TRIGGER_OUTCOMES)[number];

/**
 * The PostgreSQL channel on which the write path announces every stored change, delivered at commit to every
 * instance; payload `<sync_id>:<version>`.
 */
export const WORKFLOW_CHANGED_CHANNEL = 'workflow_changed';
