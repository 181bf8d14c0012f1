import { isExecutionStatus, normalizeEventType, normalizeEventTypeFilter } from './event-type';
import type { NormalizedEventType } from './event-type';
import { EXECUTION_STATUSES, type EventStatus, type EventType, type ExecutionStatus } from './events';

type Exec = ExecutionStatus | null | undefined;
const EXECS: Exec[] = [...EXECUTION_STATUSES, null, undefined];

/** What the contract says for a canonical type (and whether it arrived as agent_failed) and an execution status. */
function expected(eventType: EventType, forcedFailure: boolean, exec: Exec): NormalizedEventType {
  const failedExecution = exec === 'failure' || exec === 'timeout';
  const outcome =
    eventType === 'agent_completed' ? (forcedFailure || failedExecution ? 'failed' : 'success') : null;
  let status: EventStatus = 'success';
  if (eventType === 'workflow_failed' || failedExecution || forcedFailure) status = 'failed';
  else if (eventType === 'agent_started' && exec === 'pending') status = 'pending';
  return { eventType, outcome, status };
}

const FORMS: [string, EventType, boolean][] = [
  ['workflow_started', 'workflow_started', false],
  ['workflow.started', 'workflow_started', false],
  ['workflow_triggered', 'workflow_started', false],
  ['workflow.triggered', 'workflow_started', false],
  ['agent_started', 'agent_started', false],
  ['agent.started', 'agent_started', false],
  ['agent_completed', 'agent_completed', false],
  ['agent.completed', 'agent_completed', false],
  ['agent_failed', 'agent_completed', true],
  ['agent.failed', 'agent_completed', true],
  ['workflow_completed', 'workflow_completed', false],
  ['workflow.completed', 'workflow_completed', false],
  ['workflow_failed', 'workflow_failed', false],
  ['workflow.failed', 'workflow_failed', false],
];

const UNKNOWN = [
  'workflow',
  'agent',
  'agent_done',
  'agent-completed',
  'agent..completed',
  'agent._completed',
  'agent completed',
  'agentcompleted',
  'workflow_started_',
  '.workflow_started',
  'workflow_started.x',
  'workflow_cancelled',
  'strategy_workflow',
  'AGENT_COMPLETED!',
  'agent_completed;',
];

describe('normalizeEventType — explicit event types', () => {
  const table = FORMS.flatMap(([raw, type, forced]) =>
    EXECS.map((exec) => [raw, exec, type, forced] as const),
  );

  it.each(table)('%s with execution_status %p', (raw, exec, type, forced) => {
    const want = expected(type, forced, exec);
    expect(normalizeEventType(raw, exec, true)).toEqual(want);
    // The agent id only matters when the event type is missing.
    expect(normalizeEventType(raw, exec, false)).toEqual(want);
  });

  it.each<[string, EventType]>([
    ['AGENT_COMPLETED', 'agent_completed'],
    ['Agent.Completed', 'agent_completed'],
    ['  workflow_started\n', 'workflow_started'],
    ['\tWORKFLOW.TRIGGERED ', 'workflow_started'],
    [' Agent_Failed ', 'agent_completed'],
  ])('is case-insensitive and trims: %p', (raw, type) => {
    expect(normalizeEventType(raw, null, true)?.eventType).toBe(type);
  });

  it('spells out the main cases', () => {
    expect(normalizeEventType('agent_completed', 'success', true)).toEqual({
      eventType: 'agent_completed',
      outcome: 'success',
      status: 'success',
    });
    expect(normalizeEventType('agent_completed', 'failure', true)).toEqual({
      eventType: 'agent_completed',
      outcome: 'failed',
      status: 'failed',
    });
    expect(normalizeEventType('agent_completed', 'timeout', true)).toEqual({
      eventType: 'agent_completed',
      outcome: 'failed',
      status: 'failed',
    });
    expect(normalizeEventType('agent.failed', 'success', true)).toEqual({
      eventType: 'agent_completed',
      outcome: 'failed',
      status: 'failed',
    });
    expect(normalizeEventType('agent_started', 'pending', true)).toEqual({
      eventType: 'agent_started',
      outcome: null,
      status: 'pending',
    });
    expect(normalizeEventType('workflow_failed', null, false)).toEqual({
      eventType: 'workflow_failed',
      outcome: null,
      status: 'failed',
    });
    expect(normalizeEventType('workflow_completed', 'failure', false)).toEqual({
      eventType: 'workflow_completed',
      outcome: null,
      status: 'failed',
    });
    expect(normalizeEventType('workflow.triggered', undefined, false)).toEqual({
      eventType: 'workflow_started',
      outcome: null,
      status: 'success',
    });
  });

  it.each(UNKNOWN.map((u) => [u]))('unknown type %p → null, whatever else is present', (raw) => {
    for (const exec of EXECS) {
      expect(normalizeEventType(raw, exec, true)).toBeNull();
      expect(normalizeEventType(raw, exec, false)).toBeNull();
    }
  });
});

describe("normalizeEventType — OPAL's tool callback (no event type)", () => {
  it.each<[ExecutionStatus, NormalizedEventType]>([
    ['success', { eventType: 'agent_completed', outcome: 'success', status: 'success' }],
    ['failure', { eventType: 'agent_completed', outcome: 'failed', status: 'failed' }],
    ['timeout', { eventType: 'agent_completed', outcome: 'failed', status: 'failed' }],
    ['pending', { eventType: 'agent_started', outcome: null, status: 'pending' }],
  ])('execution_status %s with an agent id', (exec, want) => {
    for (const raw of [undefined, null, '', '   ']) {
      expect(normalizeEventType(raw, exec, true)).toEqual(want);
    }
  });

  it.each(EXECS.map((e) => [e]))('execution_status %p without an agent id → null', (exec) => {
    for (const raw of [undefined, null, '', '  ']) {
      expect(normalizeEventType(raw, exec, false)).toBeNull();
    }
  });

  it('an agent id without execution_status → null', () => {
    expect(normalizeEventType(undefined, undefined, true)).toBeNull();
    expect(normalizeEventType(null, null, true)).toBeNull();
    expect(normalizeEventType('', null, true)).toBeNull();
  });

  it('forgives the case of execution_status and treats an unknown one as absent', () => {
    expect(normalizeEventType(undefined, ' FAILURE ' as ExecutionStatus, true)).toEqual({
      eventType: 'agent_completed',
      outcome: 'failed',
      status: 'failed',
    });
    expect(normalizeEventType(undefined, 'done' as ExecutionStatus, true)).toBeNull();
    expect(normalizeEventType('agent_completed', 'done' as ExecutionStatus, true)).toEqual({
      eventType: 'agent_completed',
      outcome: 'success',
      status: 'success',
    });
  });
});

describe('normalizeEventTypeFilter', () => {
  it.each(FORMS.map(([raw, type]) => [raw, type]))('%s → %s', (raw, type) => {
    expect(normalizeEventTypeFilter(raw)).toBe(type);
    expect(normalizeEventTypeFilter(` ${raw.toUpperCase()} `)).toBe(type);
  });

  it.each([...UNKNOWN, '', '   '].map((u) => [u]))('%p → null', (value) => {
    expect(normalizeEventTypeFilter(value)).toBeNull();
  });

  it('returns null for a non-string at run time', () => {
    expect(normalizeEventTypeFilter(undefined as unknown as string)).toBeNull();
    expect(normalizeEventTypeFilter(['agent_completed'] as unknown as string)).toBeNull();
  });
});

describe('isExecutionStatus', () => {
  it.each<[unknown, boolean]>([
    ['success', true],
    ['failure', true],
    ['pending', true],
    ['timeout', true],
    ['failed', false],
    ['SUCCESS', false],
    ['', false],
    [null, false],
    [1, false],
  ])('%p → %p', (value, want) => {
    expect(isExecutionStatus(value)).toBe(want);
  });
});
