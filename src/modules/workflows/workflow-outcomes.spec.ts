import { OPAL_AGENTS, type AgentId } from '../../domain/opal';
import {
  TERMINAL_WORKFLOW_STATUSES,
  WORKFLOW_STATUSES,
  isTerminalWorkflowStatus,
} from '../../domain/workflow';
import { isAwaitingFirstCallback, outcomeOf } from './workflow-outcomes';
import { applyEvent, foldEvents, initialWorkflowState, type StateEvent } from './workflow-state';

const BASE = Date.parse('2025-01-01T00:00:00.000Z');
const t = (seconds: number): Date => new Date(BASE + seconds * 1000);
const CREATED = t(0);

const agentOk = (agentId: AgentId, at: number): StateEvent => ({
  type: 'agent_completed',
  agentId,
  outcome: 'success',
  occurredAt: t(at),
});
const agentFailed = (agentId: AgentId, at: number): StateEvent => ({
  type: 'agent_completed',
  agentId,
  outcome: 'failed',
  occurredAt: t(at),
});
const workflowCompleted = (at: number): StateEvent => ({
  type: 'workflow_completed',
  agentId: null,
  outcome: null,
  occurredAt: t(at),
});

describe('outcomeOf', () => {
  it('counts a workflow that reaches a terminal status, with its duration since creation', () => {
    const running = foldEvents(
      initialWorkflowState('triggered'),
      OPAL_AGENTS.map((a, i) => agentOk(a, 10 + i)),
    );
    const done = applyEvent(running, workflowCompleted(300)).state;
    expect(outcomeOf(running, done, CREATED, null)).toEqual({
      finished: { status: 'completed', durationSeconds: 300 },
      firstCallbackSeconds: null,
      agentsFinished: [],
    });
  });

  it('counts the first finish only: partially_completed → completed is not a second one', () => {
    const partial = foldEvents(initialWorkflowState('triggered'), [
      ...OPAL_AGENTS.slice(1).map((a, i) => agentOk(a, 10 + i)),
      agentFailed(OPAL_AGENTS[0], 20),
      workflowCompleted(60),
    ]);
    expect(partial.status).toBe('partially_completed');
    const retried = applyEvent(partial, agentOk(OPAL_AGENTS[0], 90)).state;
    expect(retried.status).toBe('completed');
    // The agent went failed → completed: finished already, not counted again either.
    expect(outcomeOf(partial, retried, CREATED, null)).toBeNull();
  });

  it('counts the agents that finish in a change, each with its status', () => {
    const before = initialWorkflowState('running');
    const after = foldEvents(before, [agentOk('geo_audit', 5), agentFailed('content_review', 6)]);
    expect(outcomeOf(before, after, CREATED, null)?.agentsFinished).toEqual([
      { agent: 'content_review', status: 'failed' },
      { agent: 'geo_audit', status: 'completed' },
    ]);
  });

  it('counts the agents timed out by the sweep along with the workflow', () => {
    const before = foldEvents(initialWorkflowState('triggered'), [agentOk('geo_audit', 5)]);
    const after = applyEvent(before, { type: 'timeout', occurredAt: t(900) }).state;
    const outcome = outcomeOf(before, after, CREATED, null)!;
    expect(outcome.finished).toEqual({ status: 'timed_out', durationSeconds: 900 });
    expect(outcome.agentsFinished).toHaveLength(8);
    expect(new Set(outcome.agentsFinished.map((a) => a.status))).toEqual(new Set(['timed_out']));
  });

  it('measures the first callback from creation, never negative', () => {
    const before = initialWorkflowState('triggered');
    const after = applyEvent(before, {
      type: 'workflow_started',
      agentId: null,
      outcome: null,
      occurredAt: t(1),
    }).state;
    expect(outcomeOf(before, after, CREATED, t(12.5))?.firstCallbackSeconds).toBe(12.5);
    expect(outcomeOf(before, after, CREATED, t(-3))?.firstCallbackSeconds).toBe(0);
  });

  it('has nothing to count for a change that finishes nothing', () => {
    const before = initialWorkflowState('pending');
    const after = applyEvent(before, { type: 'trigger_claimed', attempt: 1, leaseUntil: t(30) }).state;
    expect(after).not.toBe(before);
    expect(outcomeOf(before, after, CREATED, null)).toBeNull();
  });

  it('counts a finish into every terminal status and from none', () => {
    for (const from of WORKFLOW_STATUSES) {
      for (const to of TERMINAL_WORKFLOW_STATUSES) {
        const before = { ...initialWorkflowState(from) };
        const after = { ...before, status: to, completedAt: t(42) };
        const finished = outcomeOf(before, after, CREATED, null)?.finished ?? null;
        expect([from, to, finished]).toEqual([
          from,
          to,
          isTerminalWorkflowStatus(from) ? null : { status: to, durationSeconds: 42 },
        ]);
      }
    }
  });
});

describe('isAwaitingFirstCallback', () => {
  it('holds for the statuses before any callback only', () => {
    expect(WORKFLOW_STATUSES.filter(isAwaitingFirstCallback)).toEqual(['pending', 'triggered']);
  });
});
