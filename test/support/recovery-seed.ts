import type { Client } from 'pg';
import { OPAL_AGENTS } from '../../src/domain/opal';

/**
 * `count` running workflows created `createdMinutesAgo` minutes ago, each with its full stream of callbacks
 * (workflow_started, nine agents started and completed, workflow_completed) stored and processed, except the
 * workflow_completed, whose processing failed: a replay completes each of them. Written in a handful of
 * statements, so that hundreds of workflows take a moment.
 */
export async function seedBrokenWorkflows(
  db: Pick<Client, 'query'>,
  count: number,
  createdMinutesAgo = 5,
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                            triggered_by, outbound_payload, trigger_attempts, created_at, triggered_at,
                            started_at, updated_at)
     SELECT gen_random_uuid(), 'force-sync-' || g || '-' || md5(random()::text), 'opal-wf-broken-' || md5(random()::text),
            'force_sync', 'running', 'priority_platforms', 'client-' || g, 'e2e', '{}'::jsonb, 1,
            now() - $2::int * interval '1 minute' + g * interval '1 millisecond',
            now() - $2::int * interval '1 minute', now() - $2::int * interval '1 minute', now()
       FROM generate_series(1, $1::int) g
     RETURNING id`,
    [count, createdMinutesAgo],
  );
  const ids = rows.map((r) => r.id);
  await db.query(
    `INSERT INTO agent_runs (workflow_id, agent_id, status, started_at, completed_at)
     SELECT w, a, 'completed', now() - interval '4 minutes', now() - interval '3 minutes'
       FROM unnest($1::uuid[]) w, unnest($2::text[]) a`,
    [ids, [...OPAL_AGENTS]],
  );
  // Each workflow's stream in OPAL's order: step 0 workflow_started, 1..18 agents, 19 workflow_completed.
  await db.query(
    `INSERT INTO webhook_events (id, idempotency_key, event_type, raw_event_type, workflow_ref, workflow_name, sync_id,
                                 agent_id, execution_status, status, correlation_id, occurred_at, received_at,
                                 processing_status, processed_at, processing_error, payload)
     SELECT gen_random_uuid(), 'seed-' || gen_random_uuid(), s.event_type, s.event_type, w.opal_workflow_id,
            'strategy_workflow', w.id, s.agent_id, s.execution_status, 'success', w.correlation_id,
            w.created_at + s.step * interval '1 second', w.created_at + s.step * interval '1 second',
            CASE WHEN s.step = 19 THEN 'failed' ELSE 'processed' END,
            w.created_at + s.step * interval '1 second',
            CASE WHEN s.step = 19 THEN 'deadlock detected' END,
            jsonb_build_object('event_type', s.event_type, 'workflow_id', w.opal_workflow_id, 'agent_id', s.agent_id)
       FROM workflows w
       CROSS JOIN LATERAL (
         SELECT 0 AS step, 'workflow_started' AS event_type, NULL::text AS agent_id, NULL::text AS execution_status
         UNION ALL
         SELECT 2 * a.n - 1, 'agent_started', a.agent, NULL FROM unnest($2::text[]) WITH ORDINALITY a(agent, n)
         UNION ALL
         SELECT 2 * a.n, 'agent_completed', a.agent, 'success' FROM unnest($2::text[]) WITH ORDINALITY a(agent, n)
         UNION ALL
         SELECT 19, 'workflow_completed', NULL, NULL) s
      WHERE w.id = ANY($1::uuid[])
      ORDER BY w.created_at, s.step`,
    [ids, [...OPAL_AGENTS]],
  );
  return ids;
}
