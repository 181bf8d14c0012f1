import type { AgentId } from '../../domain/opal';
import { OPAL_AGENTS } from '../../domain/opal';
import {
  isFinishedAgentStatus,
  isTerminalWorkflowStatus,
  type AgentStatus,
  type WorkflowStatus,
} from '../../domain/workflow';
import type { WorkflowState } from './workflow-state';

/**
 * What one stored change of a workflow means for the service levels (contract section 15): the workflow
 * finished (and how long it took since its creation), OPAL's first callback for it arrived, agents finished.
 *
 * Each is counted once, on the change that first makes it true, so that a counter summed over instances counts
 * every workflow and agent run once:
 * - a workflow finishes when its status goes from a non-terminal one to a terminal one. A later move between
 *   terminal statuses (partially_completed → completed when OPAL retried an agent) is not a second finish: the
 *   counters keep the first outcome, `system_health` (from the database) shows the current one.
 * - an agent run finishes when its status goes from pending or running to a finished one (a failed agent that
 *   OPAL retries to completion is not counted again).
 * - the first callback is the one that moves a workflow out of waiting (pending or triggered); the caller says
 *   when it was received.
 */
export interface WorkflowOutcome {
  finished: { status: WorkflowStatus; durationSeconds: number | null } | null;
  firstCallbackSeconds: number | null;
  agentsFinished: { agent: AgentId; status: AgentStatus }[];
}

/** Statuses of a workflow that has heard nothing from OPAL yet. */
export function isAwaitingFirstCallback(status: WorkflowStatus): boolean {
  return status === 'pending' || status === 'triggered';
}

/** The outcomes of one stored change, or null when it has none. */
export function outcomeOf(
  previous: WorkflowState,
  next: WorkflowState,
  createdAt: Date,
  firstCallbackAt: Date | null,
): WorkflowOutcome | null {
  let finished: WorkflowOutcome['finished'] = null;
  if (!isTerminalWorkflowStatus(previous.status) && isTerminalWorkflowStatus(next.status)) {
    finished = {
      status: next.status,
      durationSeconds: next.completedAt === null ? null : secondsBetween(createdAt, next.completedAt),
    };
  }
  const agentsFinished: WorkflowOutcome['agentsFinished'] = [];
  for (const agent of OPAL_AGENTS) {
    const before = previous.agents[agent]?.status ?? 'pending';
    const after = next.agents[agent]?.status;
    if (after !== undefined && !isFinishedAgentStatus(before) && isFinishedAgentStatus(after)) {
      agentsFinished.push({ agent, status: after });
    }
  }
  const firstCallbackSeconds = firstCallbackAt === null ? null : secondsBetween(createdAt, firstCallbackAt);
  if (finished === null && agentsFinished.length === 0 && firstCallbackSeconds === null) return null;
  return { finished, firstCallbackSeconds, agentsFinished };
}

/** Never negative: times come from two clocks (the database's and, for callbacks, OPAL's). */
function secondsBetween(from: Date, to: Date): number {
  return Math.max(0, (to.getTime() - from.getTime()) / 1000);
}
