import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Env } from '../../src/config/settings';
import { OPAL_AGENTS } from '../../src/domain/opal';
import type { TestApp } from './app';
import { createWebhookTestApp } from './webhooks';

/**
 * SQL helpers that put realistic rows straight into the tables (workflows, agent runs, webhook events, rejected
 * deliveries), for suites that read what the receiver and processor would have stored.
 */

export interface SeedWorkflow {
  id?: string;
  correlationId?: string;
  opalWorkflowId?: string | null;
  source?: 'force_sync' | 'orchestration_trigger';
  status?: string;
  clientName?: string;
  /** Minutes ago the workflow was created (default 0). */
  createdMinutesAgo?: number;
  /** Set triggered_at (OPAL accepted the trigger) this many minutes ago; null = never accepted. */
  triggeredMinutesAgo?: number | null;
  responseTimeMs?: number | null;
}

export async function seedWorkflow(
  ds: DataSource,
  w: SeedWorkflow = {},
): Promise<{
  id: string;
  correlationId: string;
  opalWorkflowId: string | null;
}> {
  const id = w.id ?? randomUUID();
  const correlationId =
    w.correlationId ?? `force-sync-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
  const opalWorkflowId = w.opalWorkflowId === undefined ? `opal-wf-${id.slice(0, 8)}` : w.opalWorkflowId;
  const created = w.createdMinutesAgo ?? 0;
  const triggered = w.triggeredMinutesAgo === undefined ? created : w.triggeredMinutesAgo;
  await ds.query(
    `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                            triggered_by, outbound_payload, trigger_attempts, response_time_ms, created_at,
                            triggered_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'priority_platforms', $6, 'e2e', '{}'::jsonb, 1, $7,
             now() - $8::float8 * interval '1 minute',
             CASE WHEN $9::float8 IS NULL THEN NULL ELSE now() - $9::float8 * interval '1 minute' END, now())`,
    [
      id,
      correlationId,
      opalWorkflowId,
      w.source ?? 'force_sync',
      w.status ?? 'running',
      w.clientName ?? `client-${id.slice(0, 8)}`,
      w.responseTimeMs ?? null,
      created,
      triggered,
    ],
  );
  await ds.query(
    `INSERT INTO agent_runs (workflow_id, agent_id, status) SELECT $1, unnest($2::text[]), 'pending'`,
    [id, [...OPAL_AGENTS]],
  );
  return { id, correlationId, opalWorkflowId };
}

export interface SeedEvent {
  eventType: string;
  workflowRef: string;
  syncId?: string | null;
  agentId?: string | null;
  executionStatus?: string | null;
  /** Default: derived like the receiver (failed for workflow_failed / failure / timeout, pending for a pending start). */
  status?: string;
  correlationId?: string | null;
  errorMessage?: string | null;
  workflowName?: string | null;
  sourceEventId?: string | null;
  processingStatus?: 'pending' | 'processed' | 'unmatched' | 'failed';
  processingTimeMs?: number | null;
  /** Minutes before now the event was received (default 0). */
  receivedMinutesAgo?: number;
  payload?: Record<string, unknown>;
}

export interface SeededEvent {
  id: string;
  sequence: number;
}

function derivedStatus(e: SeedEvent): string {
  if (e.status) return e.status;
  if (e.eventType === 'workflow_failed') return 'failed';
  if (e.executionStatus === 'failure' || e.executionStatus === 'timeout') return 'failed';
  if (e.eventType === 'agent_started' && e.executionStatus === 'pending') return 'pending';
  return 'success';
}

export async function seedEvent(ds: DataSource, e: SeedEvent): Promise<SeededEvent> {
  const id = randomUUID();
  const processing = e.processingStatus ?? 'processed';
  const ago = e.receivedMinutesAgo ?? 0;
  const payload = e.payload ?? {
    event_type: e.eventType,
    workflow_id: e.workflowRef,
    ...(e.agentId ? { agent_id: e.agentId } : {}),
    ...(e.executionStatus ? { execution_status: e.executionStatus } : {}),
    ...(e.correlationId ? { correlation_id: e.correlationId } : {}),
  };
  const rows: { sequence: string }[] = await ds.query(
    `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                                 workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                                 error_message, occurred_at, received_at, processing_status, processed_at,
                                 processing_time_ms, payload)
     VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12,
             now() - $13::float8 * interval '1 minute', now() - $13::float8 * interval '1 minute',
             $14, CASE WHEN $14 = 'processed' THEN now() - $13::float8 * interval '1 minute' END, $15, $16)
     RETURNING sequence`,
    [
      id,
      `seed-${id}`,
      e.sourceEventId ?? null,
      e.eventType,
      e.workflowRef,
      e.workflowName === undefined ? 'strategy_workflow' : e.workflowName,
      e.syncId ?? null,
      e.agentId ?? null,
      e.executionStatus ?? null,
      derivedStatus(e),
      e.correlationId ?? null,
      e.errorMessage ?? null,
      ago,
      processing,
      e.processingTimeMs === undefined ? (processing === 'processed' ? 5 : null) : e.processingTimeMs,
      JSON.stringify(payload),
    ],
  );
  return { id, sequence: Number(rows[0].sequence) };
}

export interface StreamOptions {
  /** Agents whose agent_completed is a failure. */
  failAgents?: string[];
  /** Stop after this many agents (the workflow is still running: no workflow_completed). */
  agents?: number;
  processingStatus?: SeedEvent['processingStatus'];
  receivedMinutesAgo?: number;
  linked?: boolean;
}

/**
 * A workflow's callbacks in OPAL's order: workflow_started, per agent agent_started + agent_completed, then
 * workflow_completed (unless cut short). Returns the events in insertion (= sequence) order.
 */
export async function seedEventStream(
  ds: DataSource,
  workflow: { id: string; correlationId: string; opalWorkflowId: string | null },
  options: StreamOptions = {},
): Promise<(SeededEvent & SeedEvent)[]> {
  const out: (SeededEvent & SeedEvent)[] = [];
  const agents = OPAL_AGENTS.slice(0, options.agents ?? OPAL_AGENTS.length);
  const base: Omit<SeedEvent, 'eventType'> = {
    workflowRef: workflow.opalWorkflowId ?? workflow.id,
    syncId: options.linked === false ? null : workflow.id,
    correlationId: workflow.correlationId,
    processingStatus: options.processingStatus ?? 'processed',
    receivedMinutesAgo: options.receivedMinutesAgo ?? 0,
  };
  const add = async (e: SeedEvent) => out.push({ ...e, ...(await seedEvent(ds, e)) });
  await add({ ...base, eventType: 'workflow_started' });
  for (const agentId of agents) {
    await add({ ...base, eventType: 'agent_started', agentId });
    const failed = options.failAgents?.includes(agentId) ?? false;
    await add({
      ...base,
      eventType: 'agent_completed',
      agentId,
      executionStatus: failed ? 'failure' : 'success',
      errorMessage: failed ? `${agentId} failed: upstream timeout` : null,
    });
  }
  if (agents.length === OPAL_AGENTS.length) await add({ ...base, eventType: 'workflow_completed' });
  return out;
}

export async function seedRejected(
  ds: DataSource,
  reason: string,
  count: number,
  minutesAgo = 0,
  clientIp = '203.0.113.7',
): Promise<void> {
  await ds.query(
    `INSERT INTO rejected_deliveries (bucket, reason, client_ip, count, first_at, last_at)
     VALUES (date_trunc('minute', now() - $3::float8 * interval '1 minute'), $1, $4, $2,
             now() - $3::float8 * interval '1 minute', now() - $3::float8 * interval '1 minute')
     ON CONFLICT (bucket, reason, client_ip) DO UPDATE SET count = rejected_deliveries.count + EXCLUDED.count`,
    [reason, count, minutesAgo, clientIp],
  );
}

/**
 * The real app with the event processing loop switched off: the seeded rows stay exactly as written (a pending
 * event stays pending, a running workflow is not swept), as if the processor had left them so.
 */
export function createSeededTestApp(overrides: Env = {}): Promise<TestApp> {
  return createWebhookTestApp({ overrides, processorEnabled: false });
}
