import { EVENT_TYPES, type EventType } from '../../domain/events';
import { OPAL_AGENTS, type AgentId } from '../../domain/opal';
import {
  AGENT_STATUSES,
  TERMINAL_WORKFLOW_STATUSES,
  WORKFLOW_STATUSES,
  isTerminalWorkflowStatus,
  type AgentStatus,
  type WorkflowStatus,
} from '../../domain/workflow';
import {
  applyEvent,
  callbackEventOf,
  foldEvents,
  initialWorkflowState,
  progressOf,
  stateBeforeCallbacks,
} from './workflow-state';
import type { AgentState, CallbackStateEvent, StateEvent, WorkflowState } from './workflow-state';

const BASE = Date.parse('2025-01-01T00:00:00.000Z');
const t = (seconds: number): Date => new Date(BASE + seconds * 1000);

const A: AgentId = 'integration_health';
const B: AgentId = 'content_review';

function ev(
  type: EventType,
  at: number,
  agentId: AgentId | null = null,
  outcome: 'success' | 'failed' | null = null,
  error?: string | null,
): CallbackStateEvent {
  return { type, agentId, outcome, occurredAt: t(at), error };
}
const started = (at: number): CallbackStateEvent => ev('workflow_started', at);
const agentStarted = (agentId: AgentId, at: number): StateEvent => ev('agent_started', at, agentId);
const agentOk = (agentId: AgentId, at: number): StateEvent => ev('agent_completed', at, agentId, 'success');
const agentFailed = (agentId: AgentId, at: number, error?: string | null): StateEvent =>
  ev('agent_completed', at, agentId, 'failed', error);
const completed = (at: number): StateEvent => ev('workflow_completed', at);
const failed = (at: number): StateEvent => ev('workflow_failed', at);
const timeout = (at: number): StateEvent => ({ type: 'timeout', occurredAt: t(at) });

function agent(status: AgentStatus, startedAt: number | null = null, completedAt: number | null = null) {
  return {
    status,
    startedAt: startedAt === null ? null : t(startedAt),
    completedAt: completedAt === null ? null : t(completedAt),
    error: status === 'failed' ? 'agent failed' : null,
  } satisfies AgentState;
}

function stateWith(
  status: WorkflowStatus,
  agents: Partial<Record<AgentId, AgentState>> = {},
  startedAt: number | null = null,
  completedAt: number | null = null,
): WorkflowState {
  const s = initialWorkflowState(status);
  return {
    ...s,
    startedAt: startedAt === null ? null : t(startedAt),
    completedAt: completedAt === null ? null : t(completedAt),
    agents: { ...s.agents, ...agents },
  };
}

function allAgents(status: AgentStatus, startedAt: number | null, completedAt: number | null) {
  const agents = {} as Record<AgentId, AgentState>;
  for (const id of OPAL_AGENTS) agents[id] = agent(status, startedAt, completedAt);
  return agents;
}

/** Every agent starts and succeeds; agent i runs from 10+10i to 15+10i; the workflow ends at 200. */
function successfulRun(): StateEvent[] {
  const events: StateEvent[] = [started(1)];
  OPAL_AGENTS.forEach((id, i) => events.push(agentStarted(id, 10 + 10 * i), agentOk(id, 15 + 10 * i)));
  events.push(completed(200));
  return events;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Deterministic Fisher-Yates so failures are reproducible. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('workflow-state constants', () => {
  it('lists the statuses and event types of the contract', () => {
    expect(WORKFLOW_STATUSES).toEqual([
      'pending',
      'triggered',
      'running',
      'completed',
      'partially_completed',
      'failed',
      'timed_out',
      'trigger_failed',
      'cancelled',
    ]);
    expect(AGENT_STATUSES).toEqual(['pending', 'running', 'completed', 'failed', 'timed_out']);
    expect(EVENT_TYPES).toEqual([
      'workflow_started',
      'agent_started',
      'agent_completed',
      'workflow_completed',
      'workflow_failed',
    ]);
  });

  it.each(WORKFLOW_STATUSES.map((s) => [s]))('isTerminalWorkflowStatus(%s)', (status) => {
    const terminal = [
      'completed',
      'partially_completed',
      'failed',
      'timed_out',
      'trigger_failed',
      'cancelled',
    ];
    expect(isTerminalWorkflowStatus(status)).toBe(terminal.includes(status));
    expect(TERMINAL_WORKFLOW_STATUSES.includes(status)).toBe(terminal.includes(status));
  });
});

describe('initialWorkflowState', () => {
  it('defaults to triggered with the nine agents pending, in OPAL order', () => {
    const s = initialWorkflowState();
    expect(s.status).toBe('triggered');
    expect(s.startedAt).toBeNull();
    expect(s.completedAt).toBeNull();
    expect(Object.keys(s.agents)).toEqual([...OPAL_AGENTS]);
    for (const id of OPAL_AGENTS) {
      expect(s.agents[id]).toEqual({ status: 'pending', startedAt: null, completedAt: null, error: null });
    }
  });

  it('accepts another initial status and returns independent objects', () => {
    const a = initialWorkflowState('pending');
    const b = initialWorkflowState('pending');
    expect(a.status).toBe('pending');
    a.agents[A].status = 'running';
    expect(b.agents[A].status).toBe('pending');
  });
});

describe('applyEvent — workflow_started', () => {
  it.each<[WorkflowStatus]>([['pending'], ['triggered']])('%s → running with startedAt', (status) => {
    const { state, changed } = applyEvent(stateWith(status), started(5));
    expect(changed).toBe(true);
    expect(state.status).toBe('running');
    expect(state.startedAt).toEqual(t(5));
    expect(state.completedAt).toBeNull();
  });

  it.each<[WorkflowStatus]>([
    ['running'],
    ['completed'],
    ['partially_completed'],
    ['failed'],
    ['timed_out'],
    ['trigger_failed'],
  ])('%s keeps its status', (status) => {
    const before = stateWith(status, {}, 1, status === 'running' ? null : 100);
    const { state, changed } = applyEvent(before, started(5));
    expect(changed).toBe(false);
    expect(state).toBe(before);
  });

  it('moves startedAt earlier on a running workflow (agent_started arrived first)', () => {
    const before = stateWith('running', {}, 20);
    const { state, changed } = applyEvent(before, started(5));
    expect(changed).toBe(true);
    expect(state.status).toBe('running');
    expect(state.startedAt).toEqual(t(5));
  });

  it('moves startedAt earlier on a finished workflow but never past completedAt', () => {
    const finished = stateWith('failed', {}, null, 100);
    expect(applyEvent(finished, started(5)).state.startedAt).toEqual(t(5));
    expect(applyEvent(finished, started(150))).toEqual({ state: finished, changed: false });
  });
});

describe('applyEvent — agent_started', () => {
  it.each<[WorkflowStatus]>([['pending'], ['triggered']])(
    'agent pending → running and workflow %s → running',
    (status) => {
      const { state, changed } = applyEvent(stateWith(status), agentStarted(A, 7));
      expect(changed).toBe(true);
      expect(state.status).toBe('running');
      expect(state.startedAt).toEqual(t(7));
      expect(state.agents[A]).toEqual({ status: 'running', startedAt: t(7), completedAt: null, error: null });
      expect(state.agents[B].status).toBe('pending');
    },
  );

  it('keeps an earlier workflow startedAt', () => {
    const { state } = applyEvent(stateWith('running', {}, 2), agentStarted(A, 7));
    expect(state.startedAt).toEqual(t(2));
  });

  it.each<[AgentStatus]>([['running'], ['completed'], ['failed'], ['timed_out']])(
    'an agent already %s keeps its status',
    (status) => {
      const before = stateWith('running', { [A]: agent(status, 3, status === 'running' ? null : 9) }, 1);
      const { state, changed } = applyEvent(before, agentStarted(A, 5));
      expect(changed).toBe(false);
      expect(state).toBe(before);
    },
  );

  it('moves the start of a finished agent earlier (agent_started after agent_completed)', () => {
    const before = stateWith('running', { [A]: agent('completed', 9, 9) }, 1);
    const { state, changed } = applyEvent(before, agentStarted(A, 5));
    expect(changed).toBe(true);
    expect(state.agents[A]).toEqual(agent('completed', 5, 9));
  });

  it('never sets an agent start after its completion', () => {
    const before = stateWith('timed_out', { [A]: agent('timed_out', null, 100) }, 1, 100);
    expect(applyEvent(before, agentStarted(A, 150)).changed).toBe(false);
  });

  it('updates the agent but not the status of a terminal workflow', () => {
    const before = stateWith('partially_completed', {}, 1, 100);
    const { state, changed } = applyEvent(before, agentStarted(A, 50));
    expect(changed).toBe(true);
    expect(state.status).toBe('partially_completed');
    expect(state.completedAt).toEqual(t(100));
    expect(state.agents[A].status).toBe('running');
  });

  it('ignores an agent event without a known agent id', () => {
    const before = stateWith('triggered');
    expect(applyEvent(before, ev('agent_started', 5, null))).toEqual({ state: before, changed: false });
    const bogus = { ...ev('agent_started', 5), agentId: 'nope' as AgentId };
    expect(applyEvent(before, bogus)).toEqual({ state: before, changed: false });
  });
});

describe('applyEvent — agent_completed success', () => {
  it.each<[AgentStatus, number | null, number]>([
    ['pending', null, 8],
    ['running', 3, 3],
    ['failed', 3, 3],
  ])('agent %s → completed', (status, startedAt, expectedStart) => {
    const before = stateWith(
      'running',
      { [A]: { ...agent(status, startedAt, status === 'failed' ? 4 : null) } },
      1,
    );
    const { state, changed } = applyEvent(before, agentOk(A, 8));
    expect(changed).toBe(true);
    expect(state.agents[A]).toEqual({
      status: 'completed',
      startedAt: t(expectedStart),
      completedAt: t(8),
      error: null,
    });
  });

  it('treats a null outcome as success', () => {
    const { state } = applyEvent(stateWith('running'), ev('agent_completed', 8, A, null));
    expect(state.agents[A].status).toBe('completed');
  });

  it.each<[AgentStatus]>([['completed'], ['timed_out']])('an agent already %s stays', (status) => {
    const before = stateWith('running', { [A]: agent(status, 3, 6) }, 1);
    const { state, changed } = applyEvent(before, agentOk(A, 8));
    expect(changed).toBe(false);
    expect(state).toBe(before);
  });

  it.each<[WorkflowStatus]>([['pending'], ['triggered']])('workflow %s → running', (status) => {
    const { state } = applyEvent(stateWith(status), agentOk(A, 8));
    expect(state.status).toBe('running');
    expect(state.startedAt).toEqual(t(8));
  });

  it('leaves a running workflow running even when all nine agents are completed', () => {
    const before = stateWith('running', { ...allAgents('completed', 2, 3), [A]: agent('running', 2) }, 1);
    const { state } = applyEvent(before, agentOk(A, 9));
    expect(state.status).toBe('running');
  });
});

describe('applyEvent — agent_completed failed', () => {
  it.each<[AgentStatus]>([['pending'], ['running']])('agent %s → failed with the event error', (status) => {
    const before = stateWith('running', { [A]: agent(status, status === 'running' ? 3 : null) }, 1);
    const { state, changed } = applyEvent(before, agentFailed(A, 8, 'quota exceeded'));
    expect(changed).toBe(true);
    expect(state.agents[A]).toEqual({
      status: 'failed',
      startedAt: t(status === 'running' ? 3 : 8),
      completedAt: t(8),
      error: 'quota exceeded',
    });
  });

  it.each<[string | null | undefined]>([[undefined], [null], ['']])(
    'defaults the error to "agent failed" (%p)',
    (error) => {
      const { state } = applyEvent(stateWith('running'), agentFailed(A, 8, error));
      expect(state.agents[A].error).toBe('agent failed');
    },
  );

  it.each<[AgentStatus]>([['completed'], ['failed'], ['timed_out']])(
    'an agent already %s stays',
    (status) => {
      const before = stateWith('running', { [A]: agent(status, 3, 6) }, 1);
      const { state, changed } = applyEvent(before, agentFailed(A, 8, 'late'));
      expect(changed).toBe(false);
      expect(state).toBe(before);
    },
  );

  it.each<[WorkflowStatus]>([['pending'], ['triggered']])('workflow %s → running', (status) => {
    const { state } = applyEvent(stateWith(status), agentFailed(A, 8));
    expect(state.status).toBe('running');
    expect(state.startedAt).toEqual(t(8));
  });

  it('leaves a partially_completed workflow partially_completed', () => {
    const before = stateWith('partially_completed', { [A]: agent('running', 3) }, 1, 100);
    const { state } = applyEvent(before, agentFailed(A, 50));
    expect(state.status).toBe('partially_completed');
    expect(state.completedAt).toEqual(t(100));
    expect(state.agents[A].status).toBe('failed');
  });
});

describe('applyEvent — partially_completed → completed', () => {
  it('flips when a retried agent succeeds and all nine are completed; completedAt is the later time', () => {
    const before = stateWith(
      'partially_completed',
      { ...allAgents('completed', 2, 3), [A]: agent('failed', 2, 4) },
      1,
      100,
    );
    const { state, changed } = applyEvent(before, agentOk(A, 150));
    expect(changed).toBe(true);
    expect(state.status).toBe('completed');
    expect(state.completedAt).toEqual(t(150));
    expect(state.agents[A]).toEqual({
      status: 'completed',
      startedAt: t(2),
      completedAt: t(150),
      error: null,
    });
  });

  it('keeps completedAt when the last agent event happened before workflow_completed', () => {
    const before = stateWith(
      'partially_completed',
      { ...allAgents('completed', 2, 3), [A]: agent('running', 2) },
      1,
      100,
    );
    const { state } = applyEvent(before, agentOk(A, 90));
    expect(state.status).toBe('completed');
    expect(state.completedAt).toEqual(t(100));
  });

  it('does not flip while another agent is still not completed', () => {
    const before = stateWith(
      'partially_completed',
      { ...allAgents('completed', 2, 3), [A]: agent('failed', 2, 4), [B]: agent('timed_out', null, 5) },
      1,
      100,
    );
    const { state } = applyEvent(before, agentOk(A, 150));
    expect(state.status).toBe('partially_completed');
    expect(state.agents[A].status).toBe('completed');
  });

  it.each<[WorkflowStatus]>([['failed'], ['timed_out']])('a %s workflow does not flip', (status) => {
    const before = stateWith(status, { ...allAgents('completed', 2, 3), [A]: agent('failed', 2, 4) }, 1, 100);
    const { state } = applyEvent(before, agentOk(A, 150));
    expect(state.status).toBe(status);
    expect(state.completedAt).toEqual(t(100));
    expect(state.agents[A].status).toBe('completed');
  });
});

describe('applyEvent — workflow_completed', () => {
  it.each<[WorkflowStatus]>([['pending'], ['triggered'], ['running']])(
    '%s with all nine agents completed → completed',
    (status) => {
      const before = stateWith(status, allAgents('completed', 2, 3), status === 'running' ? 1 : null);
      const { state, changed } = applyEvent(before, completed(100));
      expect(changed).toBe(true);
      expect(state.status).toBe('completed');
      expect(state.completedAt).toEqual(t(100));
      expect(state.startedAt).toEqual(t(status === 'running' ? 1 : 100));
    },
  );

  it.each<[AgentStatus]>([['pending'], ['running'], ['failed'], ['timed_out']])(
    'running with one agent %s → partially_completed, agents left as they are',
    (status) => {
      const before = stateWith(
        'running',
        { ...allAgents('completed', 2, 3), [B]: agent(status, 2, status === 'failed' ? 4 : null) },
        1,
      );
      const { state } = applyEvent(before, completed(100));
      expect(state.status).toBe('partially_completed');
      expect(state.completedAt).toEqual(t(100));
      expect(state.agents[B].status).toBe(status);
    },
  );

  it.each<[WorkflowStatus]>([
    ['completed'],
    ['partially_completed'],
    ['failed'],
    ['timed_out'],
    ['trigger_failed'],
  ])('%s is unchanged', (status) => {
    const before = stateWith(status, {}, 1, 50);
    const { state, changed } = applyEvent(before, completed(100));
    expect(changed).toBe(false);
    expect(state).toBe(before);
  });
});

describe('applyEvent — workflow_failed', () => {
  it.each<[WorkflowStatus]>([['pending'], ['triggered'], ['running']])('%s → failed', (status) => {
    const before = stateWith(status, { [A]: agent('running', 2) }, status === 'running' ? 1 : null);
    const { state, changed } = applyEvent(before, failed(100));
    expect(changed).toBe(true);
    expect(state.status).toBe('failed');
    expect(state.completedAt).toEqual(t(100));
    expect(state.startedAt).toEqual(status === 'running' ? t(1) : null);
    expect(state.agents[A].status).toBe('running');
  });

  it.each<[WorkflowStatus]>([
    ['completed'],
    ['partially_completed'],
    ['failed'],
    ['timed_out'],
    ['trigger_failed'],
  ])('%s is unchanged', (status) => {
    const before = stateWith(status, {}, 1, 50);
    const { state, changed } = applyEvent(before, failed(100));
    expect(changed).toBe(false);
    expect(state).toBe(before);
  });
});

describe('applyEvent — timeout', () => {
  it.each<[WorkflowStatus]>([['pending'], ['triggered'], ['running']])(
    '%s → timed_out; pending and running agents time out',
    (status) => {
      const before = stateWith(
        status,
        {
          integration_health: agent('running', 2),
          content_review: agent('completed', 2, 3),
          geo_audit: agent('failed', 2, 4),
        },
        status === 'running' ? 1 : null,
      );
      const { state, changed } = applyEvent(before, timeout(600));
      expect(changed).toBe(true);
      expect(state.status).toBe('timed_out');
      expect(state.completedAt).toEqual(t(600));
      expect(state.agents.integration_health).toEqual({
        status: 'timed_out',
        startedAt: t(2),
        completedAt: t(600),
        error: null,
      });
      expect(state.agents.content_review).toEqual(before.agents.content_review);
      expect(state.agents.geo_audit).toEqual(before.agents.geo_audit);
      expect(state.agents.audience_suggester).toEqual({
        status: 'timed_out',
        startedAt: null,
        completedAt: t(600),
        error: null,
      });
    },
  );

  it.each<[WorkflowStatus]>([
    ['completed'],
    ['partially_completed'],
    ['failed'],
    ['timed_out'],
    ['trigger_failed'],
  ])('%s is unchanged (its agents too)', (status) => {
    const before = stateWith(status, { [A]: agent('running', 2) }, 1, 50);
    const { state, changed } = applyEvent(before, timeout(600));
    expect(changed).toBe(false);
    expect(state).toBe(before);
  });
});

const cancel = (at: number, reason: string | null = 'wrong scope'): StateEvent => ({
  type: 'cancel',
  occurredAt: t(at),
  reason,
});

describe('applyEvent — cancel', () => {
  it.each<[WorkflowStatus]>([['pending'], ['triggered'], ['running']])(
    '%s → cancelled with the time and reason; the trigger is not called again; agents keep their state',
    (status) => {
      const before = {
        ...stateWith(status, { [A]: agent('running', 2), [B]: agent('completed', 2, 3) }),
        trigger: { attempts: 2, nextAttemptAt: t(30), lastStatusCode: 503, lastError: 'busy' },
      };
      const { state, changed } = applyEvent(before, cancel(20));
      expect(changed).toBe(true);
      expect(state).toMatchObject({
        status: 'cancelled',
        completedAt: t(20),
        cancelledAt: t(20),
        cancelReason: 'wrong scope',
        trigger: { attempts: 2, nextAttemptAt: null, lastStatusCode: 503, lastError: 'busy' },
      });
      expect(state.agents).toEqual(before.agents);
    },
  );

  it.each<[WorkflowStatus]>([
    ['completed'],
    ['partially_completed'],
    ['failed'],
    ['timed_out'],
    ['trigger_failed'],
    ['cancelled'],
  ])('%s is unchanged', (status) => {
    const before = stateWith(status, { [A]: agent('running', 2) }, 1, 50);
    expect(applyEvent(before, cancel(600))).toEqual({ state: before, changed: false });
  });

  it.each<[StateEvent]>([
    [started(25)],
    [agentStarted(A, 25)],
    [agentOk(A, 25)],
    [agentFailed(B, 25)],
    [completed(25)],
    [failed(25)],
    [timeout(25)],
    [agentOk(A, 5)], // a late event that happened before the cancel changes nothing either
    [{ type: 'trigger_accepted', attempt: 1, occurredAt: t(25), statusCode: 200 }],
    [{ type: 'trigger_claimed', attempt: 2, leaseUntil: t(40) }],
  ])('a cancelled workflow never moves: %p', (event) => {
    const cancelled = applyEvent(stateWith('running', { [A]: agent('running', 2) }, 1), cancel(20)).state;
    expect(applyEvent(cancelled, event)).toEqual({ state: cancelled, changed: false });
  });
});

describe('applyEvent — trigger_failed never moves', () => {
  it.each<[StateEvent]>([
    [started(5)],
    [agentStarted(A, 5)],
    [agentOk(A, 5)],
    [agentFailed(A, 5)],
    [completed(5)],
    [failed(5)],
    [timeout(5)],
  ])('%p', (event) => {
    const before = stateWith('trigger_failed', {}, null, 1);
    expect(applyEvent(before, event)).toEqual({ state: before, changed: false });
  });
});

describe('applyEvent — no regression of terminal workflows', () => {
  const terminal: WorkflowStatus[] = [
    'completed',
    'partially_completed',
    'failed',
    'timed_out',
    'trigger_failed',
  ];
  const events: StateEvent[] = [
    started(5),
    agentStarted(A, 5),
    agentOk(B, 5),
    agentFailed(A, 5),
    completed(5),
    failed(5),
    timeout(5),
  ];
  it.each(terminal.flatMap((s) => events.map((e) => [s, e] as const)))(
    '%s + %p keeps its status',
    (status, event) => {
      const before = stateWith(status, {}, 1, 50);
      expect(applyEvent(before, event).state.status).toBe(status);
    },
  );
});

describe('applyEvent — duplicates and purity', () => {
  it('applying the same event twice changes nothing the second time', () => {
    for (const event of successfulRun()) {
      const once = applyEvent(initialWorkflowState(), event).state;
      const twice = applyEvent(once, event);
      expect(twice.changed).toBe(false);
      expect(twice.state).toBe(once);
    }
  });

  it('never mutates the input state or the event', () => {
    const events = [...successfulRun(), agentFailed(B, 300), timeout(900)];
    let state = deepFreeze(initialWorkflowState());
    for (const event of events) {
      const snapshot = structuredClone(state);
      const eventSnapshot = structuredClone(event);
      const result = applyEvent(state, deepFreeze(event));
      expect(state).toEqual(snapshot);
      expect(event).toEqual(eventSnapshot);
      state = deepFreeze(result.state);
    }
  });

  it('does not share Date instances with the event', () => {
    const event = started(5);
    const { state } = applyEvent(initialWorkflowState(), event);
    event.occurredAt.setTime(0);
    expect(state.startedAt).toEqual(t(5));
  });

  it('reports changed=false and returns the same object when nothing differs', () => {
    const before = stateWith('running', { [A]: agent('running', 3) }, 1);
    const result = applyEvent(before, agentStarted(A, 3));
    expect(result.changed).toBe(false);
    expect(result.state).toBe(before);
  });

  it('ignores an event with an invalid date', () => {
    const before = initialWorkflowState();
    const event: StateEvent = { ...started(1), occurredAt: new Date(Number.NaN) };
    expect(applyEvent(before, event)).toEqual({ state: before, changed: false });
  });
});

describe('foldEvents', () => {
  it('equals repeated applyEvent', () => {
    const events = [...successfulRun(), agentFailed(A, 300)];
    let expected = initialWorkflowState();
    for (const event of events) expected = applyEvent(expected, event).state;
    expect(foldEvents(initialWorkflowState(), events)).toEqual(expected);
  });

  it('returns the initial state for no events', () => {
    const initial = initialWorkflowState('pending');
    expect(foldEvents(initial, [])).toBe(initial);
  });

  it('runs a full successful workflow to completed', () => {
    const s = foldEvents(initialWorkflowState(), successfulRun());
    expect(s.status).toBe('completed');
    expect(s.startedAt).toEqual(t(1));
    expect(s.completedAt).toEqual(t(200));
    OPAL_AGENTS.forEach((id, i) => {
      expect(s.agents[id]).toEqual({
        status: 'completed',
        startedAt: t(10 + 10 * i),
        completedAt: t(15 + 10 * i),
        error: null,
      });
    });
  });

  it('is idempotent: replaying the same events again gives the same state', () => {
    const once = foldEvents(initialWorkflowState(), successfulRun());
    expect(foldEvents(once, successfulRun())).toEqual(once);
  });
});

describe('out-of-order delivery gives the in-order result', () => {
  it('workflow_completed before the last agent_completed → completed in the end', () => {
    const inOrder = successfulRun();
    const last = inOrder.length - 1;
    const outOfOrder = [...inOrder.slice(0, last - 1), inOrder[last], inOrder[last - 1]];
    const intermediate = foldEvents(initialWorkflowState(), outOfOrder.slice(0, -1));
    expect(intermediate.status).toBe('partially_completed');
    expect(foldEvents(initialWorkflowState(), outOfOrder)).toEqual(
      foldEvents(initialWorkflowState(), inOrder),
    );
  });

  it('agent_started after agent_completed', () => {
    const inOrder = [started(1), agentStarted(A, 10), agentOk(A, 15)];
    const outOfOrder = [started(1), agentOk(A, 15), agentStarted(A, 10)];
    const result = foldEvents(initialWorkflowState(), outOfOrder);
    expect(result).toEqual(foldEvents(initialWorkflowState(), inOrder));
    expect(result.agents[A]).toEqual({
      status: 'completed',
      startedAt: t(10),
      completedAt: t(15),
      error: null,
    });
  });

  it('workflow_started after the first agent_started keeps the earlier start', () => {
    const inOrder = [started(1), agentStarted(A, 10)];
    const outOfOrder = [agentStarted(A, 10), started(1)];
    expect(foldEvents(initialWorkflowState(), outOfOrder)).toEqual(
      foldEvents(initialWorkflowState(), inOrder),
    );
  });

  it('a failure followed by the retried success, in either order', () => {
    const inOrder = [agentStarted(A, 10), agentFailed(A, 15, 'boom'), agentOk(A, 30)];
    const expected = foldEvents(initialWorkflowState(), inOrder);
    expect(expected.agents[A]).toEqual({
      status: 'completed',
      startedAt: t(10),
      completedAt: t(30),
      error: null,
    });
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      expect(foldEvents(initialWorkflowState(), shuffled(inOrder, seed))).toEqual(expected);
    }
  });

  const scenarios: [string, StateEvent[]][] = [
    ['all agents succeed', successfulRun()],
    [
      'one agent fails',
      successfulRun().map((e) =>
        e.type === 'agent_completed' && e.agentId === B ? agentFailed(B, 25, 'x') : e,
      ),
    ],
    [
      'one agent fails and OPAL retries it before the end',
      [
        ...successfulRun().filter((e) => !(e.type === 'agent_completed' && e.agentId === B)),
        agentFailed(B, 25, 'x'),
        agentOk(B, 150),
      ],
    ],
    ['the workflow fails midway', [...successfulRun().slice(0, 8), failed(100)]],
    [
      'one agent never reports',
      successfulRun().filter((e) => !(e.type === 'agent_completed' && e.agentId === A)),
    ],
  ];

  it.each(scenarios)('%s: any arrival order gives the same final state', (_name, events) => {
    const expected = foldEvents(initialWorkflowState(), events);
    for (let seed = 1; seed <= 40; seed++) {
      expect(foldEvents(initialWorkflowState(), shuffled(events, seed))).toEqual(expected);
    }
  });

  it('partially_completed → completed when the failed agent is retried after workflow_completed', () => {
    const events = [
      ...successfulRun().map((e) =>
        e.type === 'agent_completed' && e.agentId === B ? agentFailed(B, 25) : e,
      ),
    ];
    const partial = foldEvents(initialWorkflowState(), events);
    expect(partial.status).toBe('partially_completed');
    expect(progressOf(partial.agents)).toEqual({
      agents_total: 9,
      agents_completed: 8,
      agents_failed: 1,
      percent: 100,
    });
    const retried = applyEvent(partial, agentOk(B, 250));
    expect(retried.changed).toBe(true);
    expect(retried.state.status).toBe('completed');
    expect(retried.state.completedAt).toEqual(t(250));
    expect(retried.state.agents[B]).toEqual({
      status: 'completed',
      startedAt: t(20),
      completedAt: t(250),
      error: null,
    });
  });
});

describe('progressOf', () => {
  it('is zero for a new workflow', () => {
    expect(progressOf(initialWorkflowState().agents)).toEqual({
      agents_total: 9,
      agents_completed: 0,
      agents_failed: 0,
      percent: 0,
    });
  });

  it('counts completed, failed and timed out agents; running ones are not finished', () => {
    const s = stateWith('running', {
      integration_health: agent('completed', 1, 2),
      content_review: agent('completed', 1, 2),
      geo_audit: agent('failed', 1, 2),
      audience_suggester: agent('timed_out', 1, 2),
      experiment_blueprinter: agent('running', 1),
    });
    expect(progressOf(s.agents)).toEqual({
      agents_total: 9,
      agents_completed: 2,
      agents_failed: 2,
      percent: 44,
    });
  });

  it.each<[number, number]>([
    [1, 11],
    [2, 22],
    [3, 33],
    [4, 44],
    [5, 56],
    [6, 67],
    [7, 78],
    [8, 89],
    [9, 100],
  ])('%i of 9 finished → %i %%', (n, percent) => {
    const agents: Partial<Record<AgentId, AgentState>> = {};
    OPAL_AGENTS.slice(0, n).forEach((id) => (agents[id] = agent('completed', 1, 2)));
    expect(progressOf(stateWith('running', agents).agents).percent).toBe(percent);
  });
});

describe('applyEvent — the trigger (delivery to OPAL)', () => {
  const pending = (attempts: number, nextAttemptAt: number | null = null): WorkflowState => {
    const s = initialWorkflowState('pending');
    return {
      ...s,
      trigger: { ...s.trigger, attempts, nextAttemptAt: nextAttemptAt === null ? null : t(nextAttemptAt) },
    };
  };

  it('claims the next attempt of a pending workflow, holding it until the lease ends', () => {
    const { state, changed } = applyEvent(pending(1, 5), {
      type: 'trigger_claimed',
      attempt: 2,
      leaseUntil: t(20),
    });
    expect(changed).toBe(true);
    expect(state.trigger).toEqual({
      attempts: 2,
      nextAttemptAt: t(20),
      lastStatusCode: null,
      lastError: null,
    });
    expect(state.status).toBe('pending');
  });

  it.each<[string, WorkflowState, number]>([
    ['an attempt that is not the next one', pending(1), 3],
    ['an attempt already claimed', pending(2), 2],
    ['a workflow OPAL accepted', { ...pending(1), status: 'triggered' }, 2],
    ['a workflow given up', { ...pending(1), status: 'trigger_failed' }, 2],
  ])('does not claim %s', (_name, before, attempt) => {
    expect(applyEvent(before, { type: 'trigger_claimed', attempt, leaseUntil: t(20) })).toEqual({
      state: before,
      changed: false,
    });
  });

  it('accepted: pending → triggered, triggeredAt kept once, delivery done', () => {
    const before = {
      ...pending(2, 30),
      trigger: { attempts: 2, nextAttemptAt: t(30), lastStatusCode: 503, lastError: 'x' },
    };
    const accepted = applyEvent(before, {
      type: 'trigger_accepted',
      attempt: 2,
      occurredAt: t(10),
      statusCode: 202,
    });
    expect(accepted.state).toMatchObject({
      status: 'triggered',
      triggeredAt: t(10),
      trigger: { attempts: 2, nextAttemptAt: null, lastStatusCode: 202, lastError: null },
    });
    const again = applyEvent(accepted.state, {
      type: 'trigger_accepted',
      attempt: 2,
      occurredAt: t(50),
      statusCode: 202,
    });
    expect(again.changed).toBe(false);
  });

  it('accepted after the callbacks moved the workflow on: the status stays, the acceptance is recorded', () => {
    const running = applyEvent(pending(1), started(5)).state;
    expect(running.status).toBe('running');
    const { state } = applyEvent(running, {
      type: 'trigger_accepted',
      attempt: 1,
      occurredAt: t(6),
      statusCode: 200,
    });
    expect(state.status).toBe('running');
    expect(state.triggeredAt).toEqual(t(6));
  });

  it('accepted never revives a workflow that was given up', () => {
    const failed = { ...pending(3), status: 'trigger_failed' as const, completedAt: t(9) };
    expect(
      applyEvent(failed, { type: 'trigger_accepted', attempt: 3, occurredAt: t(10), statusCode: 200 })
        .changed,
    ).toBe(false);
  });

  it('retry scheduled: the current attempt sets the next due time and the error', () => {
    const event = {
      type: 'trigger_retry_scheduled' as const,
      attempt: 2,
      occurredAt: t(10),
      statusCode: 503,
      error: 'OPAL answered HTTP 503',
      nextAttemptAt: t(14),
    };
    expect(applyEvent(pending(2, 20), event).state.trigger).toEqual({
      attempts: 2,
      nextAttemptAt: t(14),
      lastStatusCode: 503,
      lastError: 'OPAL answered HTTP 503',
    });
    // A call that lost its claim (another instance took the trigger over) changes nothing.
    expect(applyEvent(pending(3, 20), event).changed).toBe(false);
  });

  it('rejected: the current attempt gives up (trigger_failed with completedAt); nothing moves it after', () => {
    const event = {
      type: 'trigger_rejected' as const,
      attempt: 1,
      occurredAt: t(10),
      statusCode: 401,
      error: 'OPAL answered HTTP 401',
    };
    const { state } = applyEvent(pending(1, 20), event);
    expect(state).toMatchObject({
      status: 'trigger_failed',
      completedAt: t(10),
      trigger: { attempts: 1, nextAttemptAt: null, lastStatusCode: 401, lastError: 'OPAL answered HTTP 401' },
    });
    expect(applyEvent(pending(2, 20), event).changed).toBe(false);
    for (const later of [started(11), timeout(12), completed(13)])
      expect(applyEvent(state, later).changed).toBe(false);
  });
});

describe('stateBeforeCallbacks (the base replay folds onto)', () => {
  const base = (status: WorkflowStatus, triggeredAt: number | null) => ({
    ...stateWith(status, { [A]: agent('completed', 1, 2) }, 1, status === 'pending' ? null : 3),
    cancelledAt: status === 'cancelled' ? t(3) : null,
    cancelReason: status === 'cancelled' ? 'why' : null,
    triggeredAt: triggeredAt === null ? null : t(triggeredAt),
    trigger: { attempts: 2, nextAttemptAt: null, lastStatusCode: 200, lastError: null },
  });

  it.each<[WorkflowStatus, number | null, WorkflowStatus]>([
    ['trigger_failed', null, 'trigger_failed'],
    ['pending', null, 'pending'],
    ['pending', 1, 'triggered'],
    ['triggered', 1, 'triggered'],
    ['running', 1, 'triggered'],
    ['completed', 1, 'triggered'],
    ['running', null, 'triggered'],
    ['cancelled', null, 'pending'],
    ['cancelled', 1, 'triggered'],
  ])('a %s workflow (triggered at %p) starts as %s, its delivery kept', (status, triggeredAt, want) => {
    const state = stateBeforeCallbacks(base(status, triggeredAt));
    expect(state.status).toBe(want);
    expect(state.startedAt).toBeNull();
    expect(state.completedAt).toEqual(want === 'trigger_failed' ? t(3) : null);
    expect(state.trigger).toEqual({ attempts: 2, nextAttemptAt: null, lastStatusCode: 200, lastError: null });
    expect([state.cancelledAt, state.cancelReason]).toEqual([null, null]);
    for (const id of OPAL_AGENTS) expect(state.agents[id].status).toBe('pending');
  });
});

describe('callbackEventOf', () => {
  const at = t(1);
  it('reads the outcome of agent_completed from the stored status and drops an unknown agent id', () => {
    expect(
      callbackEventOf({
        eventType: 'agent_completed',
        agentId: 'geo_audit',
        status: 'failed',
        occurredAt: at,
        errorMessage: 'boom',
      }),
    ).toEqual({
      type: 'agent_completed',
      agentId: 'geo_audit',
      outcome: 'failed',
      occurredAt: at,
      error: 'boom',
    });
    expect(
      callbackEventOf({
        eventType: 'agent_completed',
        agentId: 'geo_audit',
        status: 'success',
        occurredAt: at,
        errorMessage: null,
      }),
    ).toMatchObject({ outcome: 'success' });
    expect(
      callbackEventOf({
        eventType: 'agent_started',
        agentId: 'nobody',
        status: 'pending',
        occurredAt: at,
        errorMessage: null,
      }),
    ).toEqual({ type: 'agent_started', agentId: null, outcome: null, occurredAt: at, error: null });
  });
});
