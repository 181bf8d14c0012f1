import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { OPAL_AGENTS } from '../src/domain/opal';
import { WorkflowStateService } from '../src/modules/workflows/workflow-state.service';
import { operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { waitFor } from './support/wait';
import { createWebhookTestApp, insertWorkflow, postSigned, workflowStatus } from './support/webhooks';

/*
 * The service levels of contract section 15, end to end: callbacks posted to the receiver move workflows to their
 * end through the write path, and the outcome series of /metrics, system_health and the diagnostics alerts follow.
 */

type Fields = Record<string, unknown>;

/** Every sample of the exposition, by its series text (`name{labels}`). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The sum of a metric's samples whose labels include every `labels` pair. */
function total(all: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, value] of all) {
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

async function scrape(t: TestApp): Promise<Map<string, number>> {
  return samples((await request(t.url).get('/metrics').expect(200)).text);
}

function event(workflowRef: string, fields: Fields, at: Date): string {
  return JSON.stringify({
    event_id: `evt-${randomUUID()}`,
    workflow_id: workflowRef,
    workflow_name: 'strategy_workflow',
    timestamp: at.toISOString(),
    ...fields,
  });
}

/** One full run of OPAL's callbacks, `fail` agents unsuccessful, from `start` one second apart. */
function fullRun(workflowRef: string, start: number, fail: string[] = []): string[] {
  let n = 0;
  const at = () => new Date(start + 1000 * n++);
  const bodies = [event(workflowRef, { event_type: 'workflow_started' }, at())];
  for (const agent of OPAL_AGENTS) {
    bodies.push(
      event(
        workflowRef,
        fail.includes(agent)
          ? { event_type: 'agent_completed', agent_id: agent, execution_status: 'failure' }
          : { event_type: 'agent_completed', agent_id: agent, execution_status: 'success' },
        at(),
      ),
    );
  }
  bodies.push(event(workflowRef, { event_type: 'workflow_completed' }, at()));
  return bodies;
}

async function pendingEvents(t: TestApp): Promise<number> {
  const [row]: { n: number }[] = await t.dataSource.query(
    `SELECT count(*)::int AS n FROM webhook_events WHERE processing_status = 'pending'`,
  );
  return row.n;
}

describe('service levels: outcome series, system_health and alerts (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createWebhookTestApp();
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('counts each finished workflow and agent run once, with its duration and first-callback time', async () => {
    const before = await scrape(t);
    // Created 3 minutes ago; OPAL reports the run as it happened over the last minute.
    const good = await insertWorkflow(t.dataSource, { createdMinutesAgo: 3 });
    const partial = await insertWorkflow(t.dataSource, { createdMinutesAgo: 3 });
    const start = Date.now() - 60_000;
    const bodies = [
      ...fullRun(good.opalWorkflowId!, start),
      ...fullRun(partial.opalWorkflowId!, start, ['geo_audit']),
      event(`opal-wf-unknown-${randomUUID()}`, { event_type: 'workflow_started' }, new Date()),
    ];
    for (const body of bodies) await postSigned(t.url, body).expect(202);
    await waitFor(
      async () =>
        (await workflowStatus(t.dataSource, good.id)).status === 'completed' &&
        (await workflowStatus(t.dataSource, partial.id)).status === 'partially_completed' &&
        (await pendingEvents(t)) === 0,
      'both workflows to finish and every event to be handled',
    );

    const after = await scrape(t);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      total(after, name, labels) - total(before, name, labels);
    expect({
      completed: delta('workflows_finished_total', { status: 'completed' }),
      partially_completed: delta('workflows_finished_total', { status: 'partially_completed' }),
      all: delta('workflows_finished_total'),
      agentsCompleted: delta('agent_runs_finished_total', { status: 'completed' }),
      geoAuditFailed: delta('agent_runs_finished_total', { agent: 'geo_audit', status: 'failed' }),
      agentsAll: delta('agent_runs_finished_total'),
      durations: delta('workflow_duration_seconds_count'),
      firstCallbacks: delta('workflow_first_callback_seconds_count'),
      processed: delta('webhook_events_processed_total', { result: 'processed' }),
      unmatched: delta('webhook_events_processed_total', { result: 'unmatched' }),
      failed: delta('webhook_events_processed_total', { result: 'failed' }),
    }).toEqual({
      completed: 1,
      partially_completed: 1,
      all: 2,
      agentsCompleted: 17,
      geoAuditFailed: 1,
      agentsAll: 18,
      durations: 2,
      firstCallbacks: 2,
      processed: bodies.length - 1,
      unmatched: 1,
      failed: 0,
    });
    // Creation (3 min ago) to workflow_completed (about 50 s ago): about 130 s each.
    const durationSum = delta('workflow_duration_seconds_sum');
    expect(durationSum).toBeGreaterThan(2 * 100);
    expect(durationSum).toBeLessThan(2 * 180);
    expect(delta('workflow_duration_seconds_bucket', { le: '60' })).toBe(0);
    expect(delta('workflow_duration_seconds_bucket', { le: '180' })).toBe(2);
    // Creation to receipt of the first callback: about 3 minutes each.
    expect(delta('workflow_first_callback_seconds_sum')).toBeGreaterThan(2 * 170);
    expect(delta('workflow_first_callback_seconds_bucket', { le: '120' })).toBe(0);
  });

  it('reports the rates from the database in system_health, and the alerts they break', async () => {
    const res = await request(t.url).get('/api/diagnostics/last-webhook').set(operatorHeaders()).expect(200);
    const health = res.body.system_health;
    expect(health.workflow_success_rate).toBe(50);
    expect(health.agent_success_rate).toBe(94.44); // 17 of 18
    expect(health.p95_workflow_duration_ms).toBeGreaterThan(100_000);
    expect(health.p95_workflow_duration_ms).toBeLessThan(180_000);
    const rules = (res.body.alerts as { rule: string; severity: string }[]).map(
      (a) => `${a.severity}:${a.rule}`,
    );
    expect(rules).toEqual(
      expect.arrayContaining(['critical:workflow_success_rate', 'warning:agent_success_rate']),
    );
    // 1 unmatched of the hour's handled events: below 99 % only when fewer than 100 were handled.
    expect(rules).toContain('warning:event_processing_success_rate');
    expect(rules).not.toContain('warning:workflow_duration_p95');
  });

  it('keeps the first outcome in the counters when OPAL retries the failed agent; the database shows the current one', async () => {
    const [partial]: { id: string; opal_workflow_id: string }[] = await t.dataSource.query(
      `SELECT id, opal_workflow_id FROM workflows WHERE status = 'partially_completed'`,
    );
    const before = await scrape(t);
    await postSigned(
      t.url,
      event(
        partial.opal_workflow_id,
        { event_type: 'agent_completed', agent_id: 'geo_audit', execution_status: 'success' },
        new Date(),
      ),
    ).expect(202);
    await waitFor(
      async () => (await workflowStatus(t.dataSource, partial.id)).status === 'completed',
      'the retried agent to complete the workflow',
    );
    const after = await scrape(t);
    expect(total(after, 'workflows_finished_total')).toBe(total(before, 'workflows_finished_total'));
    expect(total(after, 'agent_runs_finished_total')).toBe(total(before, 'agent_runs_finished_total'));
    expect(total(after, 'workflow_duration_seconds_count')).toBe(
      total(before, 'workflow_duration_seconds_count'),
    );
    const res = await request(t.url).get('/api/diagnostics/last-webhook').set(operatorHeaders()).expect(200);
    expect(res.body.system_health.workflow_success_rate).toBe(100);
    expect(res.body.system_health.agent_success_rate).toBe(100);
  });

  it('counts the workflows and agents the timeout sweep ends', async () => {
    const stale = await insertWorkflow(t.dataSource, { createdMinutesAgo: 60 });
    const before = await scrape(t);
    await postSigned(
      t.url,
      event(
        stale.opalWorkflowId!,
        { event_type: 'agent_completed', agent_id: 'geo_audit', execution_status: 'success' },
        new Date(),
      ),
    ).expect(202);
    await waitFor(async () => (await pendingEvents(t)) === 0, 'the event to be processed');
    // The scheduler's sweep may get there first; either way it is swept once.
    await t.app.get(WorkflowStateService).sweepTimeouts(t.settings.workflowTimeoutMinutes);
    await waitFor(
      async () => (await workflowStatus(t.dataSource, stale.id)).status === 'timed_out',
      'the workflow to time out',
    );
    const after = await scrape(t);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      total(after, name, labels) - total(before, name, labels);
    expect({
      timedOut: delta('workflows_finished_total', { status: 'timed_out' }),
      agentsTimedOut: delta('agent_runs_finished_total', { status: 'timed_out' }),
      agentsCompleted: delta('agent_runs_finished_total', { status: 'completed' }),
      firstCallbacks: delta('workflow_first_callback_seconds_count'),
      durationOver15Min:
        delta('workflow_duration_seconds_bucket', { le: '+Inf' }) -
        delta('workflow_duration_seconds_bucket', { le: '900' }),
    }).toEqual({
      timedOut: 1,
      agentsTimedOut: 8,
      agentsCompleted: 1,
      firstCallbacks: 1,
      durationOver15Min: 1,
    });
  });
});

describe('service levels: the p95 duration alert fires and clears (e2e)', () => {
  let t: TestApp;
  const alert = async (rule: string) =>
    (
      (await request(t.url).get('/api/diagnostics/last-webhook').set(operatorHeaders()).expect(200)).body
        .alerts as { rule: string; severity: string; value: number; threshold: number }[]
    ).find((a) => a.rule === rule);

  beforeAll(async () => {
    t = await createWebhookTestApp({ processorEnabled: false });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('from the workflows that finished in the last hour', async () => {
    const finish = async (createdMinutesAgo: number, completedMinutesAgo: number) => {
      const w = await insertWorkflow(t.dataSource, { createdMinutesAgo });
      await t.dataSource.query(
        `UPDATE workflows SET status = 'completed', completed_at = now() - $2::int * interval '1 minute'
          WHERE id = $1`,
        [w.id, completedMinutesAgo],
      );
      return w.id;
    };
    for (let i = 0; i < 9; i++) await finish(10, 6); // 4 minutes each
    const slow = await finish(30, 5); // 25 minutes
    const fired = await alert('workflow_duration_p95');
    expect(fired).toMatchObject({ severity: 'warning', threshold: 480 });
    expect(fired!.value).toBeGreaterThan(480);
    // Finished more than an hour ago: no longer in the window.
    await t.dataSource.query(
      `UPDATE workflows SET created_at = now() - interval '3 hours', completed_at = now() - interval '2 hours'
        WHERE id = $1`,
      [slow],
    );
    expect(await alert('workflow_duration_p95')).toBeUndefined();
  });
});

describe('service levels with two instances on one database (e2e)', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await createWebhookTestApp();
    b = await createWebhookTestApp();
    await resetDatabase(a.dataSource);
  });
  afterAll(async () => {
    await resetDatabase(a.dataSource);
    await Promise.all([a.close(), b.close()]);
  });

  it('counts every transition exactly once across the instances: their sum is the truth', async () => {
    const before = [await scrape(a), await scrape(b)];
    const workflows = await Promise.all(
      [0, 1, 2, 3, 4, 5].map(() => insertWorkflow(a.dataSource, { createdMinutesAgo: 2 })),
    );
    const start = Date.now() - 30_000;
    // Each workflow's callbacks alternate between the instances, so both apply some of every workflow.
    const runs = workflows.map((w, i) =>
      fullRun(w.opalWorkflowId!, start, i % 3 === 0 ? ['cmp_organizer'] : []),
    );
    let n = 0;
    for (let step = 0; step < runs[0].length; step++) {
      await Promise.all(runs.map((run) => postSigned((n++ % 2 === 0 ? a : b).url, run[step]).expect(202)));
    }
    await waitFor(
      async () => {
        const rows: { n: number }[] = await a.dataSource.query(
          `SELECT count(*)::int AS n FROM workflows WHERE status IN ('completed', 'partially_completed')`,
        );
        return rows[0].n === workflows.length && (await pendingEvents(a)) === 0;
      },
      'every workflow to finish',
      { timeoutMs: 40_000 },
    );
    const after = [await scrape(a), await scrape(b)];
    const summed = (name: string, labels: Record<string, string> = {}) =>
      [0, 1].reduce((sum, i) => sum + total(after[i], name, labels) - total(before[i], name, labels), 0);
    expect({
      completed: summed('workflows_finished_total', { status: 'completed' }),
      partial: summed('workflows_finished_total', { status: 'partially_completed' }),
      agentsCompleted: summed('agent_runs_finished_total', { status: 'completed' }),
      agentsFailed: summed('agent_runs_finished_total', { status: 'failed' }),
      durations: summed('workflow_duration_seconds_count'),
      firstCallbacks: summed('workflow_first_callback_seconds_count'),
      processed: summed('webhook_events_processed_total', { result: 'processed' }),
    }).toEqual({
      completed: 4,
      partial: 2,
      agentsCompleted: 52,
      agentsFailed: 2,
      durations: 6,
      firstCallbacks: 6,
      processed: runs.length * runs[0].length,
    });
  });
});
