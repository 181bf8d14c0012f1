import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { testHmac } from './hmac';
import type { Env } from '../../src/config/settings';
import { OPAL_AGENTS } from '../../src/domain/opal';
import { EVENT_PROCESSOR_OPTIONS } from '../../src/modules/webhooks/event-processor.service';
import { createTestApp, TEST_WEBHOOK_SECRET, type TestApp } from './app';

export { WEBHOOK_PATH } from '../../src/domain/routes';
import { WEBHOOK_PATH } from '../../src/domain/routes';

export interface SignedPostOptions {
  secret?: string;
  /** Signature timestamp (ms); default now. */
  t?: number;
  /** Replaces the computed X-OSA-Signature (null = no header). */
  signature?: string | null;
  contentType?: string;
  headers?: Record<string, string>;
}

/** Posts the exact string that was signed, as the receiver must verify the raw bytes. */
export function postSigned(baseUrl: string, body: string, options: SignedPostOptions = {}): request.Test {
  const signature =
    options.signature === undefined
      ? testHmac(options.secret ?? TEST_WEBHOOK_SECRET).sign(body, options.t ?? Date.now())
      : options.signature;
  let req = request(baseUrl)
    .post(WEBHOOK_PATH)
    .set('Content-Type', options.contentType ?? 'application/json');
  if (signature !== null) req = req.set('X-OSA-Signature', signature);
  for (const [name, value] of Object.entries(options.headers ?? {})) req = req.set(name, value);
  return req.send(body);
}

/** Like createTestApp, with the event processing loop optionally switched off (a crash before processing). */
export function createWebhookTestApp(
  options: { overrides?: Env; processorEnabled?: boolean } = {},
): Promise<TestApp> {
  return createTestApp(options.overrides ?? {}, (builder) =>
    builder.overrideProvider(EVENT_PROCESSOR_OPTIONS).useValue({ enabled: options.processorEnabled ?? true }),
  );
}

export interface InsertedWorkflow {
  id: string;
  correlationId: string;
  opalWorkflowId: string | null;
}

/** A workflow row as force sync leaves it once OPAL accepted it, with its nine pending agents. */
export async function insertWorkflow(
  ds: DataSource,
  w: {
    id?: string;
    correlationId?: string;
    opalWorkflowId?: string | null;
    status?: string;
    createdMinutesAgo?: number;
    triggered?: boolean;
  } = {},
): Promise<InsertedWorkflow> {
  const id = w.id ?? randomUUID();
  const correlationId = w.correlationId ?? `force-sync-${Date.now()}-${id.slice(0, 8)}`;
  const opalWorkflowId = w.opalWorkflowId === undefined ? `opal-wf-${id.slice(0, 8)}` : w.opalWorkflowId;
  await ds.query(
    `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                            triggered_by, outbound_payload, trigger_attempts, created_at, triggered_at)
     VALUES ($1, $2, $3, 'force_sync', $4, 'priority_platforms', $5, 'e2e', '{}'::jsonb, 1,
             now() - $6::int * interval '1 minute',
             CASE WHEN $7 THEN now() - $6::int * interval '1 minute' END)`,
    [
      id,
      correlationId,
      opalWorkflowId,
      w.status ?? 'triggered',
      `client-${id}`,
      w.createdMinutesAgo ?? 0,
      w.triggered ?? true,
    ],
  );
  await ds.query(
    `INSERT INTO agent_runs (workflow_id, agent_id, status) SELECT $1, unnest($2::text[]), 'pending'`,
    [id, [...OPAL_AGENTS]],
  );
  return { id, correlationId, opalWorkflowId };
}

export async function workflowStatus(
  ds: DataSource,
  id: string,
): Promise<{ status: string; agents: Record<string, string> }> {
  const [w]: { status: string }[] = await ds.query(`SELECT status FROM workflows WHERE id = $1`, [id]);
  const agents: { agent_id: string; status: string }[] = await ds.query(
    `SELECT agent_id, status FROM agent_runs WHERE workflow_id = $1`,
    [id],
  );
  return { status: w?.status, agents: Object.fromEntries(agents.map((a) => [a.agent_id, a.status])) };
}
