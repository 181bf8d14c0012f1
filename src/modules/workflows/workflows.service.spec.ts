import type { Repository } from 'typeorm';
import type { AgentRunEntity } from './agent-run.entity';
import type { TriggerAttemptEntity } from './trigger-attempt.entity';
import type { WorkflowEntity } from './workflow.entity';
import { isUuid } from '../../domain/ids';
import type { AppConfig } from '../../config/app-config';
import type { WorkflowsRepository } from './workflows.repository';
import { decodeCursor, encodeCursor, WorkflowsService } from './workflows.service';

const ID = '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11';

function workflow(overrides: Partial<WorkflowEntity> = {}): WorkflowEntity {
  return {
    id: ID,
    correlationId: 'force-sync-1732800000000-k3j9x2a1',
    opalWorkflowId: 'opal-wf-1',
    sessionId: null,
    workflowName: 'strategy_workflow',
    source: 'force_sync',
    status: 'running',
    version: 7,
    syncScope: 'priority_platforms',
    clientName: 'ACME Corp',
    triggeredBy: 'force_sync',
    outboundPayload: {},
    triggerAttempts: 2,
    lastStatusCode: 200,
    lastError: null,
    nextAttemptAt: new Date('2026-01-01T00:00:09Z'),
    responseTimeMs: 120,
    createdAt: new Date('2026-01-01T00:00:00Z'),
    triggeredAt: new Date('2026-01-01T00:00:01Z'),
    startedAt: new Date('2026-01-01T00:00:02Z'),
    completedAt: null,
    cancelledAt: null,
    cancelReason: null,
    rerunOf: null,
    updatedAt: new Date('2026-01-01T00:00:03Z'),
    ...overrides,
  };
}

function agent(agentId: string, overrides: Partial<AgentRunEntity> = {}): AgentRunEntity {
  return {
    workflowId: ID,
    agentId,
    status: 'pending',
    startedAt: null,
    completedAt: null,
    error: null,
    ...overrides,
  };
}

const service = new WorkflowsService(
  null as unknown as Repository<WorkflowEntity>,
  null as unknown as Repository<AgentRunEntity>,
  null as unknown as Repository<TriggerAttemptEntity>,
  null as unknown as WorkflowsRepository,
  {} as AppConfig,
);

describe('WorkflowsService.toWorkflowResponse', () => {
  it('maps the workflow, nine agents in OPAL order, progress and the trigger history', () => {
    const agents = [
      agent('content_review', {
        status: 'failed',
        startedAt: new Date('2026-01-01T00:00:04Z'),
        completedAt: new Date('2026-01-01T00:00:05Z'),
        error: 'boom',
      }),
      agent('integration_health', {
        status: 'completed',
        startedAt: new Date('2026-01-01T00:00:02Z'),
        completedAt: new Date('2026-01-01T00:00:03.500Z'),
      }),
      agent('geo_audit', { status: 'running', startedAt: new Date('2026-01-01T00:00:05Z') }),
    ];
    const attempts: TriggerAttemptEntity[] = [
      {
        id: '1',
        workflowId: ID,
        attempt: 1,
        startedAt: new Date('2026-01-01T00:00:00.100Z'),
        durationMs: 30,
        statusCode: 503,
        outcome: 'retryable',
        error: 'OPAL answered HTTP 503',
      },
    ];
    const res = service.toWorkflowResponse(workflow(), agents, attempts);
    expect(res).toMatchObject({
      sync_id: ID,
      version: 7,
      correlation_id: 'force-sync-1732800000000-k3j9x2a1',
      opal_workflow_id: 'opal-wf-1',
      workflow_name: 'strategy_workflow',
      status: 'running',
      sync_scope: 'priority_platforms',
      client_name: 'ACME Corp',
      triggered_by: 'force_sync',
      created_at: '2026-01-01T00:00:00.000Z',
      triggered_at: '2026-01-01T00:00:01.000Z',
      started_at: '2026-01-01T00:00:02.000Z',
      completed_at: null,
      duration_ms: null,
      progress: { agents_total: 9, agents_completed: 1, agents_failed: 1, percent: 22 },
      // next_attempt_at only means something while the trigger is pending.
      trigger: {
        attempts: 2,
        last_status_code: 200,
        last_error: null,
        next_attempt_at: null,
        history: [
          {
            attempt: 1,
            started_at: '2026-01-01T00:00:00.100Z',
            duration_ms: 30,
            status_code: 503,
            outcome: 'retryable',
            error: 'OPAL answered HTTP 503',
          },
        ],
      },
    });
    expect(res.agents.map((a) => a.agent_id)).toEqual([
      'integration_health',
      'content_review',
      'geo_audit',
      'audience_suggester',
      'experiment_blueprinter',
      'personalization_idea_generator',
      'customer_journey',
      'roadmap_generator',
      'cmp_organizer',
    ]);
    expect(res.agents[0]).toEqual({
      agent_id: 'integration_health',
      status: 'completed',
      started_at: '2026-01-01T00:00:02.000Z',
      completed_at: '2026-01-01T00:00:03.500Z',
      duration_ms: 1500,
      error: null,
    });
    expect(res.agents[1]).toMatchObject({ status: 'failed', error: 'boom', duration_ms: 1000 });
    expect(res.agents[2]).toMatchObject({ status: 'running', duration_ms: null });
    expect(res.agents[8]).toEqual({
      agent_id: 'cmp_organizer',
      status: 'pending',
      started_at: null,
      completed_at: null,
      duration_ms: null,
      error: null,
    });
  });

  it('shows the next attempt of a pending trigger and the duration of a finished workflow', () => {
    const pending = service.toWorkflowSummary(workflow({ status: 'pending', opalWorkflowId: null }), []);
    expect(pending.trigger.next_attempt_at).toBe('2026-01-01T00:00:09.000Z');
    expect(pending).not.toHaveProperty('agents');
    expect(pending.trigger).not.toHaveProperty('history');
    const done = service.toWorkflowSummary(
      workflow({ status: 'completed', completedAt: new Date('2026-01-01T00:05:00Z') }),
      [],
    );
    expect(done.duration_ms).toBe(300000);
  });
});

describe('list cursor', () => {
  it('round-trips and is opaque', () => {
    const cursor = encodeCursor('1767225600123456', ID);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual({ createdAtMicros: '1767225600123456', id: ID });
  });
  it('refuses anything else', () => {
    for (const bad of [
      'garbage',
      '',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from(JSON.stringify(['12x', ID])).toString('base64url'),
      Buffer.from(JSON.stringify(['12', 'not-a-uuid'])).toString('base64url'),
      Buffer.from(JSON.stringify({ a: 1 })).toString('base64url'),
    ]) {
      expect(decodeCursor(bad)).toBeNull();
    }
  });
});

describe('isUuid', () => {
  it('accepts UUIDs in either case and nothing else', () => {
    expect(isUuid(ID)).toBe(true);
    expect(isUuid(ID.toUpperCase())).toBe(true);
    expect(isUuid('opal-wf-1')).toBe(false);
    expect(isUuid(`${ID}x`)).toBe(false);
  });
});
