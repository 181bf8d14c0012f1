import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { jest } from '@jest/globals';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { buildSignatureHeader } from '../src/common/signature';
import { buildDataSourceOptions, runMigrationsLocked } from '../src/database/data-source-options';
import { OPAL_AGENTS } from '../src/domain/opal';
import { EventProcessorService } from '../src/modules/webhooks/event-processor.service';
import { WorkflowStateService } from '../src/modules/workflows/workflow-state.service';
import { WorkflowsRepository } from '../src/modules/workflows/workflows.repository';
import {
  baseTestEnv,
  freePort,
  operatorHeaders,
  resetDatabase,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';
import { testDatabaseUrl } from './support/database';
import { ServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';
import {
  createWebhookTestApp,
  insertWorkflow,
  postSigned,
  WEBHOOK_PATH,
  workflowStatus,
} from './support/webhooks';

type Fields = Record<string, unknown>;

function event(workflowRef: string, fields: Fields, at: Date): string {
  return JSON.stringify({
    event_id: `evt-${randomUUID()}`,
    workflow_id: workflowRef,
    workflow_name: 'strategy_workflow',
    timestamp: at.toISOString(),
    ...fields,
  });
}

/** The callbacks of one full run, in the order OPAL sends them; `fail` agents finish unsuccessfully. */
function fullRun(
  workflowRef: string,
  fail: string[] = [],
  extra: Fields = {},
  start: number = Date.now() - 60_000,
): string[] {
  let n = 0;
  const at = () => new Date(start + 1000 * n++);
  const bodies = [event(workflowRef, { event_type: 'workflow_started', ...extra }, at())];
  for (const agent of OPAL_AGENTS) {
    bodies.push(
      event(
        workflowRef,
        { event_type: 'agent_started', agent_id: agent, execution_status: 'pending', ...extra },
        at(),
      ),
    );
    bodies.push(
      event(
        workflowRef,
        fail.includes(agent)
          ? {
              event_type: 'agent_completed',
              agent_id: agent,
              execution_status: 'failure',
              error: { message: `${agent} broke` },
              ...extra,
            }
          : { event_type: 'agent_completed', agent_id: agent, execution_status: 'success', ...extra },
        at(),
      ),
    );
  }
  bodies.push(event(workflowRef, { event_type: 'workflow_completed', ...extra }, at()));
  return bodies;
}

async function postAll(url: string, bodies: string[]): Promise<void> {
  for (const body of bodies) await postSigned(url, body).expect(202);
}

async function processingStates(t: TestApp, workflowRef: string): Promise<string[]> {
  const rows: { processing_status: string }[] = await t.dataSource.query(
    `SELECT processing_status FROM webhook_events WHERE workflow_ref = $1 ORDER BY sequence`,
    [workflowRef],
  );
  return rows.map((r) => r.processing_status);
}

const allProcessed = (states: string[], n: number) =>
  states.length === n && states.every((s) => s === 'processed');
const allAgents = (status: string) => Object.fromEntries(OPAL_AGENTS.map((a) => [a, status]));

describe('webhook event processing (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createWebhookTestApp();
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  it('applies a full run in order: completed with nine completed agents, processing time recorded', async () => {
    const w = await insertWorkflow(t.dataSource);
    const bodies = fullRun(w.opalWorkflowId!);
    await postAll(t.url, bodies);
    await waitFor(
      async () => allProcessed(await processingStates(t, w.opalWorkflowId!), bodies.length),
      'processed',
    );
    expect(await workflowStatus(t.dataSource, w.id)).toEqual({
      status: 'completed',
      agents: allAgents('completed'),
    });
    const rows: { sync_id: string; processed_at: Date; processing_time_ms: number; received_at: Date }[] =
      await t.dataSource.query(
        `SELECT sync_id, processed_at, processing_time_ms, received_at FROM webhook_events WHERE workflow_ref = $1`,
        [w.opalWorkflowId],
      );
    for (const row of rows) {
      expect(row.sync_id).toBe(w.id);
      expect(row.processing_time_ms).toBeGreaterThanOrEqual(0);
      expect(
        Math.abs(row.processed_at.getTime() - row.received_at.getTime() - row.processing_time_ms),
      ).toBeLessThanOrEqual(1);
    }
    const [wf] = await t.dataSource.query(`SELECT started_at, completed_at FROM workflows WHERE id = $1`, [
      w.id,
    ]);
    expect(wf.started_at.toISOString()).toBe(JSON.parse(bodies[0]).timestamp);
    expect(wf.completed_at.toISOString()).toBe(JSON.parse(bodies[bodies.length - 1]).timestamp);
  });

  it('gives the same final state when the events arrive in reverse order', async () => {
    const inOrder = await insertWorkflow(t.dataSource);
    const reversed = await insertWorkflow(t.dataSource);
    const start = Date.now() - 60_000;
    const run = (ref: string) => fullRun(ref, ['geo_audit'], {}, start);
    const a = run(inOrder.opalWorkflowId!);
    const b = run(reversed.opalWorkflowId!).reverse();
    await postAll(t.url, a);
    await postAll(t.url, b);
    await waitFor(
      async () => allProcessed(await processingStates(t, inOrder.opalWorkflowId!), a.length),
      'a',
    );
    await waitFor(
      async () => allProcessed(await processingStates(t, reversed.opalWorkflowId!), b.length),
      'b',
    );
    const expected = {
      status: 'partially_completed',
      agents: { ...allAgents('completed'), geo_audit: 'failed' },
    };
    expect(await workflowStatus(t.dataSource, inOrder.id)).toEqual(expected);
    expect(await workflowStatus(t.dataSource, reversed.id)).toEqual(expected);
    const times = async (id: string) =>
      t.dataSource.query(
        `SELECT agent_id, status, started_at, completed_at, error FROM agent_runs WHERE workflow_id = $1 ORDER BY agent_id`,
        [id],
      );
    const timesA = (await times(inOrder.id)) as Fields[];
    const timesB = (await times(reversed.id)) as Fields[];
    expect(timesB).toEqual(timesA);
    expect(timesA.find((r) => r.agent_id === 'geo_audit')?.error).toBe('geo_audit broke');

    // OPAL retried the failed agent: the later success completes it and the workflow.
    await postSigned(
      t.url,
      event(
        reversed.opalWorkflowId!,
        { event_type: 'agent_completed', agent_id: 'geo_audit', execution_status: 'success' },
        new Date(),
      ),
    ).expect(202);
    await waitFor(
      async () => (await workflowStatus(t.dataSource, reversed.id)).status === 'completed',
      'retry',
    );
    expect((await workflowStatus(t.dataSource, reversed.id)).agents).toEqual(allAgents('completed'));
  });

  it('matches by sync id, OPAL workflow id, or correlation id (top level or metadata)', async () => {
    const bySyncId = await insertWorkflow(t.dataSource, { opalWorkflowId: null });
    const byCorrelation = await insertWorkflow(t.dataSource, { opalWorkflowId: null });
    const byMetadata = await insertWorkflow(t.dataSource, { opalWorkflowId: null });
    await postSigned(
      t.url,
      event(bySyncId.id.toUpperCase(), { event_type: 'workflow_started' }, new Date()),
    ).expect(202);
    await postSigned(
      t.url,
      event(byCorrelation.correlationId, { event_type: 'workflow_started' }, new Date()),
    ).expect(202);
    await postSigned(
      t.url,
      event(
        'opal-id-we-never-heard-of',
        { event_type: 'workflow_failed', metadata: { correlation_id: byMetadata.correlationId } },
        new Date(),
      ),
    ).expect(202);
    await waitFor(
      async () => (await workflowStatus(t.dataSource, bySyncId.id)).status === 'running',
      'sync id',
    );
    await waitFor(
      async () => (await workflowStatus(t.dataSource, byCorrelation.id)).status === 'running',
      'corr',
    );
    await waitFor(
      async () => (await workflowStatus(t.dataSource, byMetadata.id)).status === 'failed',
      'metadata',
    );
  });

  it('keeps an event for an unknown workflow unmatched and links it once the workflow is known', async () => {
    const opalId = `opal-wf-late-${randomUUID()}`;
    const bodies = fullRun(opalId).slice(0, 3);
    await postAll(t.url, bodies);
    await waitFor(async () => {
      const states = await processingStates(t, opalId);
      return states.length === 3 && states.every((s) => s === 'unmatched');
    }, 'unmatched');

    // The force sync records OPAL's workflow id only after OPAL answered.
    const w = await insertWorkflow(t.dataSource, { opalWorkflowId: null });
    await t.dataSource.query(`UPDATE workflows SET opal_workflow_id = $2, updated_at = now() WHERE id = $1`, [
      w.id,
      opalId,
    ]);
    await waitFor(async () => allProcessed(await processingStates(t, opalId), 3), 'linked');
    const status = await workflowStatus(t.dataSource, w.id);
    expect(status.status).toBe('running');
    expect(status.agents.integration_health).toBe('completed');
    const rows = await t.dataSource.query(
      `SELECT DISTINCT sync_id FROM webhook_events WHERE workflow_ref = $1`,
      [opalId],
    );
    expect(rows).toEqual([{ sync_id: w.id }]);
  });

  it('times out workflows without a terminal event after WORKFLOW_TIMEOUT_MINUTES, agents included', async () => {
    const stale = await insertWorkflow(t.dataSource, { createdMinutesAgo: 11 });
    const fresh = await insertWorkflow(t.dataSource, { createdMinutesAgo: 5 });
    const done = await insertWorkflow(t.dataSource, { createdMinutesAgo: 30, status: 'completed' });
    const bodies = fullRun(stale.opalWorkflowId!).slice(0, 4); // started; agent 1 done; agent 2 running
    await postAll(t.url, bodies);
    await waitFor(async () => allProcessed(await processingStates(t, stale.opalWorkflowId!), 4), 'processed');

    const swept = await t.app.get(WorkflowStateService).sweepTimeouts(t.settings.workflowTimeoutMinutes);
    expect(swept).toBe(1);
    const status = await workflowStatus(t.dataSource, stale.id);
    expect(status.status).toBe('timed_out');
    expect(status.agents).toEqual({
      ...allAgents('timed_out'),
      integration_health: 'completed',
    });
    expect((await workflowStatus(t.dataSource, fresh.id)).status).toBe('triggered');
    expect((await workflowStatus(t.dataSource, done.id)).status).toBe('completed');
    // A second sweep changes nothing; a late terminal event does not move a timed-out workflow.
    expect(await t.app.get(WorkflowStateService).sweepTimeouts(t.settings.workflowTimeoutMinutes)).toBe(0);
    await postSigned(
      t.url,
      event(stale.opalWorkflowId!, { event_type: 'workflow_completed' }, new Date()),
    ).expect(202);
    await waitFor(
      async () => allProcessed(await processingStates(t, stale.opalWorkflowId!), 5),
      'late event',
    );
    expect((await workflowStatus(t.dataSource, stale.id)).status).toBe('timed_out');
  });

  it('does not let events move a workflow OPAL never accepted', async () => {
    const refused = await insertWorkflow(t.dataSource, { status: 'trigger_failed', triggered: false });
    await postSigned(
      t.url,
      event(refused.opalWorkflowId!, { event_type: 'workflow_started' }, new Date()),
    ).expect(202);
    await waitFor(
      async () => allProcessed(await processingStates(t, refused.opalWorkflowId!), 1),
      'processed',
    );
    expect((await workflowStatus(t.dataSource, refused.id)).status).toBe('trigger_failed');
  });
});

describe('webhook processing across failures and instances (e2e)', () => {
  it('marks the events of a workflow whose update fails as failed, and goes on with the rest of the batch', async () => {
    const app = await createWebhookTestApp({ processorEnabled: false });
    try {
      await resetDatabase(app.dataSource);
      const broken = await insertWorkflow(app.dataSource);
      const healthy = await insertWorkflow(app.dataSource);
      await postAll(app.url, fullRun(broken.opalWorkflowId!).slice(0, 2));
      await postAll(app.url, fullRun(healthy.opalWorkflowId!).slice(0, 2));
      const repo = app.app.get(WorkflowsRepository);
      // Every state write (the batch's and the per-workflow fallback's) goes through WorkflowsRepository.save.
      const original = repo.save.bind(repo);
      const spy = jest.spyOn(repo, 'save').mockImplementation(async (manager, writes) => {
        if (writes.some((write) => write.syncId === broken.id)) throw new Error('simulated write failure');
        return original(manager, writes);
      });
      try {
        expect(await app.app.get(EventProcessorService).processBatch()).toBe(4);
      } finally {
        spy.mockRestore();
      }
      const rows: { processing_status: string; processing_error: string | null; sync_id: string }[] =
        await app.dataSource.query(
          `SELECT processing_status, processing_error, sync_id FROM webhook_events WHERE workflow_ref = $1`,
          [broken.opalWorkflowId],
        );
      expect(rows).toEqual([
        { processing_status: 'failed', processing_error: 'simulated write failure', sync_id: broken.id },
        { processing_status: 'failed', processing_error: 'simulated write failure', sync_id: broken.id },
      ]);
      expect(await processingStates(app, healthy.opalWorkflowId!)).toEqual(['processed', 'processed']);
      expect((await workflowStatus(app.dataSource, healthy.id)).status).toBe('running');
      expect((await workflowStatus(app.dataSource, broken.id)).status).toBe('triggered');
    } finally {
      await app.close();
    }
  });

  it('two instances on one database apply every event exactly once and agree on the result', async () => {
    const a = await createWebhookTestApp();
    const b = await createWebhookTestApp();
    try {
      await resetDatabase(a.dataSource);
      const workflows = await Promise.all(Array.from({ length: 4 }, () => insertWorkflow(a.dataSource)));
      const bodies = workflows.flatMap((w, i) =>
        fullRun(w.opalWorkflowId!, i % 2 === 0 ? [] : ['customer_journey']),
      );
      // Half the deliveries to each instance, concurrently, each one also delivered twice.
      await Promise.all(
        bodies.map(async (body, i) => {
          const first = await postSigned(i % 2 === 0 ? a.url : b.url, body);
          const again = await postSigned(i % 2 === 0 ? b.url : a.url, body);
          expect([first.status, again.status]).toEqual([202, 409]);
        }),
      );
      await waitFor(async () => {
        const [row] = await a.dataSource.query(
          `SELECT count(*) FILTER (WHERE processing_status = 'processed')::int AS done, count(*)::int AS n FROM webhook_events`,
        );
        return row.done === bodies.length && row.n === bodies.length;
      }, 'all processed');
      for (const [i, w] of workflows.entries()) {
        expect(await workflowStatus(a.dataSource, w.id)).toEqual(
          i % 2 === 0
            ? { status: 'completed', agents: allAgents('completed') }
            : {
                status: 'partially_completed',
                agents: { ...allAgents('completed'), customer_journey: 'failed' },
              },
        );
      }
      // Both drain loops stop cleanly with nothing left.
      expect(await a.app.get(EventProcessorService).drain()).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

/** One signed POST on its own connection: the status, or 'lost' when the connection broke before an answer. */
function deliver(baseUrl: string, body: string): Promise<number | 'lost'> {
  return new Promise((resolve) => {
    const req = httpRequest(
      `${baseUrl}${WEBHOOK_PATH}`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': String(Buffer.byteLength(body)),
          'X-OSA-Signature': buildSignatureHeader(TEST_WEBHOOK_SECRET, body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve('lost'));
      },
    );
    req.on('error', () => resolve('lost'));
    req.end(body);
  });
}

/**
 * The built service as a child process, killed with SIGKILL: nothing of it runs after the kill (no shutdown
 * hook, no drain, no pending promise), which is what a crash or an OOM kill leaves.
 */
describe('webhook ingest and processing across a SIGKILL of the service (e2e)', () => {
  let ds: DataSource;

  beforeAll(async () => {
    ds = await new DataSource(
      buildDataSourceOptions({ url: await testDatabaseUrl(), poolSize: 3 }),
    ).initialize();
    await runMigrationsLocked(ds);
  });
  afterAll(async () => {
    await resetDatabase(ds);
    await ds.destroy();
  });

  const statesOf = async (workflowRef: string): Promise<string[]> => {
    const rows: { processing_status: string }[] = await ds.query(
      `SELECT processing_status FROM webhook_events WHERE workflow_ref = $1 ORDER BY sequence`,
      [workflowRef],
    );
    return rows.map((r) => r.processing_status);
  };

  /** Backends of this database running a statement that starts with `prefix` (only those waiting for a lock). */
  const backends = async (prefix: string, waitingForLock: boolean): Promise<number> => {
    const rows: { n: number }[] = await ds.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'active' AND ltrim(query) LIKE $1
          AND ($2::boolean IS FALSE OR wait_event_type = 'Lock')`,
      [`${prefix}%`, waitingForLock],
    );
    return rows[0].n;
  };
  const waitingOnLock = (prefix: string) => backends(prefix, true);
  /** How the receiver's batch INSERT begins (it also names the stored events of skipped keys). */
  const BATCH_INSERT = 'WITH inserted AS (%INSERT INTO webhook_events';

  it('processes events committed before the crash when the service starts again', async () => {
    await resetDatabase(ds);
    const w = await insertWorkflow(ds);
    const bodies = fullRun(w.opalWorkflowId!, ['roadmap_generator']);
    // Holding the workflow's row lock keeps processing from applying anything: its pass waits, inside the
    // transaction that claimed the events, so the events stay committed and pending until the crash.
    const holder = ds.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query(`SELECT 1 FROM workflows WHERE id = $1 FOR UPDATE`, [w.id]);
    const env = await baseTestEnv(await freePort());
    const first = new ServiceProcess(env);
    let second: ServiceProcess | null = null;
    try {
      await first.start();
      for (const body of bodies) expect(await deliver(first.url, body)).toBe(202);
      await waitFor(async () => (await waitingOnLock('SELECT')) > 0, 'processing to wait for the workflow');
      expect(await first.stop('SIGKILL')).toBe(137); // 128 + SIGKILL: killed, it never exited by itself
      // Committed and acknowledged, never processed, and the process that took them is gone.
      expect(await statesOf(w.opalWorkflowId!)).toEqual(bodies.map(() => 'pending'));
      expect((await workflowStatus(ds, w.id)).status).toBe('triggered');
      await holder.rollbackTransaction();

      second = new ServiceProcess(env);
      await second.start();
      await waitFor(
        async () => allProcessed(await statesOf(w.opalWorkflowId!), bodies.length),
        'processed after the restart',
      );
      expect(await workflowStatus(ds, w.id)).toEqual({
        status: 'partially_completed',
        agents: { ...allAgents('completed'), roadmap_generator: 'failed' },
      });
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
      await first.stop('SIGKILL');
      await second?.stop('SIGKILL');
    }
  });

  it('a SIGKILL while a group-commit batch is being written loses no acknowledged event and stores none twice', async () => {
    await resetDatabase(ds);
    const w = await insertWorkflow(ds);
    const before = fullRun(w.opalWorkflowId!).slice(0, 6);
    const during = Array.from({ length: 40 }, (_, i) =>
      event(
        w.opalWorkflowId!,
        { event_type: 'agent_started', agent_id: OPAL_AGENTS[i % 9], execution_status: 'pending', seq: i },
        new Date(),
      ),
    );
    const idOf = (body: string) => (JSON.parse(body) as { event_id: string }).event_id;
    const answers = new Map<string, (number | 'lost')[]>();
    const note = (body: string, answer: number | 'lost') =>
      answers.set(idOf(body), [...(answers.get(idOf(body)) ?? []), answer]);

    const env = await baseTestEnv(await freePort());
    const first = new ServiceProcess(env);
    let second: ServiceProcess | null = null;
    // Another transaction holds the keys of the second wave (uncommitted rows with the same idempotency keys):
    // each batch INSERT that contains one of them waits inside PostgreSQL, i.e. the batch is in flight.
    const blocker = ds.createQueryRunner();
    await blocker.connect();
    try {
      await first.start();
      for (const body of before) note(body, await deliver(first.url, body));
      await blocker.startTransaction();
      await blocker.query(
        `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, workflow_ref, status,
                                     occurred_at, received_at, processing_status, payload)
         SELECT gen_random_uuid(), 'id:' || k, k, 'agent_started', 'blocker', 'pending', now(), now(), 'pending',
                '{}'::jsonb
           FROM unnest($1::text[]) k`,
        [during.map(idOf)],
      );
      const inFlight = during.map((body) => deliver(first.url, body).then((answer) => note(body, answer)));
      await waitFor(
        async () => (await waitingOnLock(BATCH_INSERT)) > 0,
        'a batch INSERT waiting inside PostgreSQL',
      );
      expect(await first.stop('SIGKILL')).toBe(137); // 128 + SIGKILL: killed, it never exited by itself
      await Promise.all(inFlight);
      // The killed process's statements are still in PostgreSQL: released, they finish and commit, and
      // their answers go nowhere.
      await blocker.rollbackTransaction();
      await waitFor(
        async () => (await backends(BATCH_INSERT, false)) === 0,
        'the orphaned batch statements to finish',
      );
      const storedByOrphans: number = (
        await ds.query(
          `SELECT count(*)::int AS n FROM webhook_events WHERE source_event_id = ANY($1::text[])`,
          [during.map(idOf)],
        )
      )[0].n;

      // The sender retries what it has no answer for, as OPAL does.
      second = new ServiceProcess(env);
      await second.start();
      for (const body of during) {
        if (answers.get(idOf(body))?.at(-1) === 'lost') note(body, await deliver(second.url, body));
      }

      const rows: { source_event_id: string; n: number }[] = await ds.query(
        `SELECT source_event_id, count(*)::int AS n FROM webhook_events WHERE workflow_ref = $1 GROUP BY 1`,
        [w.opalWorkflowId],
      );
      const stored = new Map(rows.map((r) => [r.source_event_id, r.n]));
      const all = [...before, ...during].map(idOf);
      // Every event stored exactly once, after exactly one 202 or after a lost connection answered 409 on retry.
      expect(all.filter((id) => stored.get(id) !== 1)).toEqual([]);
      for (const id of all) {
        const seen = answers.get(id) ?? [];
        const ok = seen.join(',') === '202' || seen.join(',') === 'lost,202' || seen.join(',') === 'lost,409';
        expect([id, seen, ok]).toEqual([id, seen, true]);
      }
      // The kill really cut a batch that was being written: some events were stored without their answer.
      expect(storedByOrphans).toBeGreaterThan(0);
      expect(all.filter((id) => answers.get(id)?.join(',') === 'lost,409')).toHaveLength(storedByOrphans);
      expect([...stored.keys()].filter((id) => !all.includes(id))).toEqual([]);
    } finally {
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
      await first.stop('SIGKILL');
      await second?.stop('SIGKILL');
    }
  });
});

describe('force sync with the built-in simulator, end to end (e2e)', () => {
  async function runForceSync(
    overrides: Record<string, string>,
  ): Promise<{ status: string; agents: Record<string, string> }> {
    const t = await createWebhookTestApp({ overrides });
    try {
      await resetDatabase(t.dataSource);
      const res = await request(t.url)
        .post('/api/opal/sync')
        .set(operatorHeaders())
        .send({ client_context: { client_name: `e2e ${randomUUID()}` } })
        .expect(200);
      const syncId: string = res.body.sync_id;
      const terminal = ['completed', 'partially_completed', 'failed', 'timed_out'];
      const done = await waitFor(async () => {
        const live = await request(t.url).get(`/api/opal/sync/${syncId}`).set(operatorHeaders()).expect(200);
        return terminal.includes(live.body.status) ? live.body : null;
      }, 'terminal workflow status');
      const [{ n }] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM webhook_events WHERE sync_id = $1 AND processing_status = 'processed'`,
        [syncId],
      );
      expect(n).toBe(20);
      return {
        status: done.status,
        agents: Object.fromEntries(
          done.agents.map((a: { agent_id: string; status: string }) => [a.agent_id, a.status]),
        ),
      };
    } finally {
      await t.close();
    }
  }

  it('reaches completed with nine completed agents', async () => {
    expect(await runForceSync({})).toEqual({ status: 'completed', agents: allAgents('completed') });
  });

  it('reaches partially_completed with geo_audit failed when the simulator fails it', async () => {
    expect(await runForceSync({ OPAL_SIMULATOR_FAIL_AGENTS: 'geo_audit' })).toEqual({
      status: 'partially_completed',
      agents: { ...allAgents('completed'), geo_audit: 'failed' },
    });
  });
});
