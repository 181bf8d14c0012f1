import { randomUUID } from 'node:crypto';
import { SchedulerRegistry } from '@nestjs/schedule';
import { JOBS, RELINK_OVERLAP_MS } from '../src/jobs/periodic-jobs';
import { WebhookEventsService } from '../src/modules/webhooks/webhook-events.service';
import { resetDatabase, type TestApp } from './support/app';
import { createSeededTestApp, seedWorkflow } from './support/seed';

/** Unmatched events kept for workflows that never exist (what a sender with the secret can pile up). */
const ORPHANS = 100_000;
/** Workflows last written hours ago. */
const OLD_WORKFLOWS = 20_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describe('relinking unmatched events (e2e)', () => {
  let t: TestApp;
  let relink: (since: Date | null) => Promise<number>;

  beforeAll(async () => {
    t = await createSeededTestApp();
    // The job would race the calls below; they call what it calls.
    t.app.get(SchedulerRegistry).deleteInterval(JOBS.relinkUnmatched.name);
    await resetDatabase(t.dataSource);
    const events = t.app.get(WebhookEventsService);
    relink = (since) => events.relinkUnmatched(since);
    await t.dataSource.query(
      `INSERT INTO webhook_events (id, idempotency_key, event_type, workflow_ref, workflow_name, agent_id, status,
                                   correlation_id, occurred_at, received_at, processing_status, payload)
       SELECT gen_random_uuid(), 'orphan-' || g, 'agent_completed', 'opal-wf-never-' || (g / 2),
              'strategy_workflow', 'geo_audit', 'success', 'force-sync-never-' || (g / 2), now(), now(),
              'unmatched', '{}'::jsonb
         FROM generate_series(1, $1) g`,
      [ORPHANS],
    );
    await t.dataSource.query(
      `INSERT INTO workflows (id, correlation_id, opal_workflow_id, source, status, sync_scope, client_name,
                              triggered_by, outbound_payload, trigger_attempts, created_at, triggered_at, updated_at)
       SELECT gen_random_uuid(), 'force-sync-old-' || g, 'opal-wf-old-' || g, 'force_sync', 'completed',
              'priority_platforms', 'client-old-' || g, 'e2e', '{}'::jsonb, 1, now() - interval '3 hours',
              now() - interval '3 hours', now() - interval '2 hours'
         FROM generate_series(1, $1) g`,
      [OLD_WORKFLOWS],
    );
    await t.dataSource.query('ANALYZE webhook_events');
    await t.dataSource.query('ANALYZE workflows');
  }, 120_000);
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  async function unmatchedEvent(workflowRef: string, correlationId: string | null = null): Promise<string> {
    const id = randomUUID();
    await t.dataSource.query(
      `INSERT INTO webhook_events (id, idempotency_key, event_type, workflow_ref, workflow_name, agent_id, status,
                                   correlation_id, occurred_at, received_at, processing_status, payload)
       VALUES ($1::uuid, $1::text, 'agent_started', $2, 'strategy_workflow', 'geo_audit', 'pending', $3, now(), now(),
               'unmatched', '{}'::jsonb)`,
      [id, workflowRef, correlationId],
    );
    return id;
  }

  async function statusOf(ids: string[]): Promise<string[]> {
    const rows: { processing_status: string }[] = await t.dataSource.query(
      `SELECT processing_status FROM webhook_events WHERE id = ANY($1::uuid[]) ORDER BY id`,
      [ids],
    );
    return rows.map((r) => r.processing_status);
  }

  const recently = () => new Date(Date.now() - RELINK_OVERLAP_MS);

  it('requeues the unmatched events naming a workflow written since, by each of its references', async () => {
    const opalId = `opal-wf-late-${randomUUID()}`;
    const correlationId = `force-sync-late-${randomUUID()}`;
    const id = randomUUID();
    const events = [
      await unmatchedEvent(opalId),
      await unmatchedEvent('opal-id-we-never-heard-of', correlationId),
      await unmatchedEvent(id.toUpperCase()),
      await unmatchedEvent(correlationId),
    ];
    const other = await unmatchedEvent(`opal-wf-other-${randomUUID()}`);
    await seedWorkflow(t.dataSource, { id, correlationId, opalWorkflowId: opalId });

    expect(await relink(recently())).toBe(4);
    expect(await statusOf(events)).toEqual(['pending', 'pending', 'pending', 'pending']);
    expect(await statusOf([other])).toEqual(['unmatched']);
    // Nothing left to do for that workflow.
    expect(await relink(recently())).toBe(0);
  });

  it('considers only the workflows written since; the first run of the job considers every unmatched event', async () => {
    const w = await seedWorkflow(t.dataSource, { opalWorkflowId: `opal-wf-old-${randomUUID()}` });
    await t.dataSource.query(`UPDATE workflows SET updated_at = now() - interval '2 hours' WHERE id = $1`, [
      w.id,
    ]);
    const event = await unmatchedEvent(w.opalWorkflowId!);

    expect(await relink(recently())).toBe(0);
    expect(await statusOf([event])).toEqual(['unmatched']);
    expect(await relink(null)).toBe(1);
    expect(await statusOf([event])).toEqual(['pending']);
  });

  it(`reads by index only the rows of the workflows written since, beside ${OLD_WORKFLOWS} others and ${ORPHANS} unmatched events (EXPLAIN ANALYZE)`, async () => {
    const written = await Promise.all(
      Array.from({ length: 5 }, () =>
        seedWorkflow(t.dataSource, { opalWorkflowId: `opal-wf-${randomUUID()}` }),
      ),
    );
    for (const w of written) await unmatchedEvent(w.opalWorkflowId!);

    const explain = async (sql: string, values: unknown[]) => {
      const rows: { 'QUERY PLAN': { Plan: PlanNode }[] }[] = await t.dataSource.query(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`,
        values,
      );
      return nodesOf(rows[0]['QUERY PLAN'][0].Plan);
    };
    const since = recently();
    const workflows = await explain(
      `SELECT id, opal_workflow_id, correlation_id FROM workflows WHERE updated_at >= $1`,
      [since],
    );
    const refs = written.flatMap((w) => [w.id, w.id.toUpperCase(), w.correlationId, w.opalWorkflowId!]);
    const events = await explain(
      `SELECT DISTINCT workflow_ref, correlation_id FROM webhook_events
        WHERE processing_status = 'unmatched'
          AND (workflow_ref = ANY($1::text[]) OR correlation_id = ANY($1::text[]))`,
      [refs],
    );
    for (const nodes of [workflows, events]) {
      expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([]);
      const read = nodes
        .filter((n) => n['Relation Name'] !== undefined)
        .reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1), 0);
      expect(read).toBeLessThan(100);
    }
    expect(await relink(since)).toBe(5);
  });
});
