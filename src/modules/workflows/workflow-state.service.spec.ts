import type { DataSource } from 'typeorm';
import type { AppConfig } from '../../config/app-config';
import { OPAL_AGENTS } from '../../domain/opal';
import { applyEvent } from './workflow-state';
import { WorkflowStateService } from './workflow-state.service';

const service = new WorkflowStateService({} as DataSource, { workflowTimeoutMinutes: 10 } as AppConfig);
const at = new Date('2026-01-01T00:00:00.000Z');

describe('WorkflowStateService.initialStateFor', () => {
  it.each<[string, Date | null, string]>([
    ['trigger_failed', null, 'trigger_failed'],
    ['pending', null, 'pending'],
    ['pending', at, 'triggered'],
    ['triggered', at, 'triggered'],
    ['running', at, 'triggered'],
    ['completed', at, 'triggered'],
    ['running', null, 'triggered'],
  ])('a %s workflow (triggered_at %p) starts as %s', (status, triggeredAt, want) => {
    const state = service.initialStateFor({ status: status as never, triggeredAt });
    expect(state.status).toBe(want);
    expect(state.startedAt).toBeNull();
    expect(state.completedAt).toBeNull();
    for (const agent of OPAL_AGENTS) expect(state.agents[agent].status).toBe('pending');
  });
});

describe('WorkflowStateService.stateEventOf', () => {
  it('reads the outcome of agent_completed from the stored status', () => {
    expect(
      service.stateEventOf({
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
      service.stateEventOf({
        eventType: 'agent_completed',
        agentId: 'geo_audit',
        status: 'success',
        occurredAt: at,
        errorMessage: null,
      }),
    ).toMatchObject({ outcome: 'success' });
  });

  it('gives no outcome to other events and drops an unknown agent id', () => {
    expect(
      service.stateEventOf({
        eventType: 'agent_started',
        agentId: 'nobody',
        status: 'pending',
        occurredAt: at,
        errorMessage: null,
      }),
    ).toEqual({ type: 'agent_started', agentId: null, outcome: null, occurredAt: at, error: null });
    expect(
      service.stateEventOf({
        eventType: 'workflow_failed',
        agentId: null,
        status: 'failed',
        occurredAt: at,
        errorMessage: null,
      }),
    ).toMatchObject({ type: 'workflow_failed', outcome: null });
  });

  it('feeds the pure state machine: a stored failed agent event fails the agent', () => {
    const initial = service.initialStateFor({ status: 'triggered', triggeredAt: at });
    const event = service.stateEventOf({
      eventType: 'agent_completed',
      agentId: 'cmp_organizer',
      status: 'failed',
      occurredAt: at,
      errorMessage: null,
    });
    const { state } = applyEvent(initial, event);
    expect(state.status).toBe('running');
    expect(state.agents.cmp_organizer).toEqual({
      status: 'failed',
      startedAt: at,
      completedAt: at,
      error: 'agent failed',
    });
  });
});
