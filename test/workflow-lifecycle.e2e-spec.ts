import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { OpalTargetService } from '../src/modules/opal/opal-target.service';
import type { OpalSimulator } from '../src/modules/opal/simulator/opal-simulator';
import { TriggerDispatcherService } from '../src/modules/sync/trigger-dispatcher.service';
import { WorkflowEvents, type WorkflowChanged } from '../src/modules/workflows/workflow-events.service';
import { operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { waitFor } from './support/wait';
import { createWebhookTestApp, insertWorkflow, postSigned, workflowStatus } from './support/webhooks';

interface WorkflowBody {
  sync_id: string;
  status: string;
  version: number;
  rerun_of: string | null;
  cancelled_at: string | null;
  cancel_reason: string | null;
  started_at: string | null;
  agents: { agent_id: string; status: string }[];
}

const callback = (workflowRef: string, fields: Record<string, unknown>): string =>
  JSON.stringify({
    event_id: `evt-${randomUUID()}`,
    workflow_id: workflowRef,
    workflow_name: 'strategy_workflow',
    timestamp: new Date().toISOString(),
    ...fields,
  });

describe('workflow lifecycle: cancel and rerun (e2e)', () => {
  let t: TestApp;
  let sim: OpalSimulator;

  beforeAll(async () => {
    t = await createWebhookTestApp();
    await resetDatabase(t.dataSource);
    sim = t.app.get(OpalTargetService).simulator!;
  });
  afterAll(async () => {
    sim.setTriggerFailures(0);
    await resetDatabase(t.dataSource);
    await t.close();
  });

  const getWorkflow = async (id: string): Promise<WorkflowBody> =>
    (await request(t.url).get(`/api/opal/sync/${id}`).set(operatorHeaders()).expect(200))
      .body as WorkflowBody;
  const cancel = (id: string, body?: object) => {
    const req = request(t.url).post(`/api/opal/sync/${id}/cancel`).set(operatorHeaders());
    return body === undefined ? req : req.send(body);
  };
  const rerun = (id: string, key?: string) => {
    const req = request(t.url).post(`/api/opal/sync/${id}/rerun`).set(operatorHeaders());
    return key === undefined ? req : req.set('Idempotency-Key', key);
  };
  const auditOf = async (action: string): Promise<{ details: Record<string, unknown>; actor: string }[]> =>
    t.dataSource.query(`SELECT details, actor FROM audit_log WHERE action = $1 ORDER BY id`, [action]);
  const finishedForceSync = async (client: string): Promise<string> => {
    const res = await request(t.url)
      .post('/api/opal/sync')
      .set(operatorHeaders())
      .send({
        sync_scope: 'odp_only',
        client_context: { client_name: client, industry: 'Retail', recipients: ['ops@acme.test'] },
        include_rag_update: false,
        metadata: { ticket: 'OPS-7' },
      })
      .expect(200);
    const syncId: string = res.body.sync_id;
    await waitFor(async () => (await getWorkflow(syncId)).status === 'completed', `${syncId} completed`);
    return syncId;
  };

  describe('cancel', () => {
    it('cancels a running workflow: cancelled, its time and reason, the version bumped and announced, audited', async () => {
      const w = await insertWorkflow(t.dataSource, { status: 'running' });
      const before = await getWorkflow(w.id);
      const heard: WorkflowChanged[] = [];
      const stop = t.app.get(WorkflowEvents).onChange((c) => heard.push(c));
      try {
        const res = await cancel(w.id, { reason: 'started with the wrong scope' }).expect(200);
        expect(res.body).toMatchObject({
          sync_id: w.id,
          status: 'cancelled',
          cancel_reason: 'started with the wrong scope',
          version: before.version + 1,
          rerun_of: null,
        });
        expect(Date.parse(res.body.cancelled_at)).not.toBeNaN();
        expect(res.body.completed_at).toBe(res.body.cancelled_at);
        expect(heard.filter((c) => c.syncId === w.id)).toEqual([
          { syncId: w.id, version: before.version + 1, status: 'cancelled' },
        ]);
      } finally {
        stop();
      }
      const audit = await auditOf('cancel');
      expect(audit.at(-1)?.details).toEqual({ sync_id: w.id, reason: 'started with the wrong scope' });
      expect(audit.at(-1)?.actor).toMatch(/^key:/);
      const list = await request(t.url)
        .get('/api/opal/syncs?status=cancelled')
        .set(operatorHeaders())
        .expect(200);
      expect(list.body.items.map((i: { sync_id: string }) => i.sync_id)).toContain(w.id);
    });

    it('cancels without a body (reason null), and refuses a second cancel with 409 WORKFLOW_ALREADY_FINISHED', async () => {
      const w = await insertWorkflow(t.dataSource, { status: 'triggered' });
      const res = await cancel(w.id).expect(200);
      expect(res.body).toMatchObject({ status: 'cancelled', cancel_reason: null });
      const again = await cancel(w.id, { reason: 'twice' }).expect(409);
      expect(again.body).toMatchObject({
        success: false,
        code: 'WORKFLOW_ALREADY_FINISHED',
        details: [{ sync_id: w.id, status: 'cancelled' }],
      });
    });

    it.each(['completed', 'partially_completed', 'failed', 'timed_out', 'trigger_failed'])(
      'refuses a %s workflow with 409 WORKFLOW_ALREADY_FINISHED and changes nothing',
      async (status) => {
        const w = await insertWorkflow(t.dataSource, { status });
        const before = await getWorkflow(w.id);
        const res = await cancel(w.id).expect(409);
        expect(res.body.code).toBe('WORKFLOW_ALREADY_FINISHED');
        expect(await getWorkflow(w.id)).toEqual(before);
      },
    );

    it('answers 404 WORKFLOW_NOT_FOUND for an unknown id and 400 for a reason over 500 characters', async () => {
      const res = await cancel(randomUUID()).expect(404);
      expect(res.body.code).toBe('WORKFLOW_NOT_FOUND');
      const w = await insertWorkflow(t.dataSource, { status: 'running' });
      const long = await cancel(w.id, { reason: 'x'.repeat(501) }).expect(400);
      expect(long.body.code).toBe('VALIDATION_FAILED');
      expect((await getWorkflow(w.id)).status).toBe('running');
    });

    it('stores and lists callbacks that arrive after the cancel, and they change nothing', async () => {
      const w = await insertWorkflow(t.dataSource, { status: 'running' });
      await cancel(w.id, { reason: 'late callbacks test' }).expect(200);
      const cancelled = await getWorkflow(w.id);
      const late = [
        callback(w.opalWorkflowId!, { event_type: 'agent_started', agent_id: 'content_review' }),
        callback(w.opalWorkflowId!, {
          event_type: 'agent_completed',
          agent_id: 'content_review',
          execution_status: 'success',
        }),
        callback(w.opalWorkflowId!, { event_type: 'workflow_completed' }),
      ];
      for (const body of late) await postSigned(t.url, body).expect(202);
      const processed = async () =>
        (
          await t.dataSource.query<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM webhook_events WHERE sync_id = $1 AND processing_status = 'processed'`,
            [w.id],
          )
        )[0].n;
      await waitFor(async () => (await processed()) === 3, 'the late callbacks processed');
      expect(await getWorkflow(w.id)).toEqual(cancelled);
      const diagnostics = await request(t.url)
        .get(`/api/diagnostics/last-webhook?workflow_id=${w.id}&limit=10`)
        .set(operatorHeaders())
        .expect(200);
      expect(diagnostics.body.events).toHaveLength(3);
    });

    it('stops the pending retries of a trigger OPAL has not accepted yet', async () => {
      sim.setTriggerFailures(50);
      try {
        const res = await request(t.url)
          .post('/api/opal/sync')
          .set(operatorHeaders())
          .send({ client_context: { client_name: `retrying ${randomUUID()}` } })
          .expect(202);
        const syncId: string = res.body.sync_id;
        await cancel(syncId, { reason: 'OPAL is down' }).expect(200);
        const attempts = async () =>
          (
            await t.dataSource.query<{ n: number }[]>(
              `SELECT count(*)::int AS n FROM trigger_attempts WHERE workflow_id = $1`,
              [syncId],
            )
          )[0].n;
        const made = await attempts();
        // Even a dispatcher pass run right now (or any number of them) claims nothing for it.
        await t.app.get(TriggerDispatcherService).dispatchDue();
        await t.app.get(TriggerDispatcherService).dispatchDue();
        expect(await attempts()).toBe(made);
        const [row] = await t.dataSource.query<{ status: string; next_attempt_at: Date | null }[]>(
          `SELECT status, next_attempt_at FROM workflows WHERE id = $1`,
          [syncId],
        );
        expect(row).toEqual({ status: 'cancelled', next_attempt_at: null });
        expect(sim.triggers.filter((tr) => tr.idempotencyKey === syncId)).toHaveLength(made);
      } finally {
        sim.setTriggerFailures(0);
      }
    });

    it('a replay rebuilds a cancelled workflow as cancelled (the cancel is put back where it happened)', async () => {
      const w = await insertWorkflow(t.dataSource, { status: 'triggered' });
      await postSigned(t.url, callback(w.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
      await waitFor(async () => (await workflowStatus(t.dataSource, w.id)).status === 'running', 'running');
      await cancel(w.id, { reason: 'replay test' }).expect(200);
      await postSigned(t.url, callback(w.opalWorkflowId!, { event_type: 'workflow_completed' })).expect(202);
      const res = await request(t.url)
        .post('/api/orchestrations/replay')
        .set(operatorHeaders())
        .send({ workflow_id: w.id, replay_options: { force_reprocess: true } })
        .expect(200);
      expect(res.body.resulting_state.status).toBe('cancelled');
      const after = await getWorkflow(w.id);
      expect(after).toMatchObject({ status: 'cancelled', cancel_reason: 'replay test' });
      expect(after.started_at).not.toBeNull();
    });
  });

  describe('rerun', () => {
    it("starts a new workflow with a finished force sync's inputs and rerun_of, answered like a force sync, audited", async () => {
      const client = `rerun ${randomUUID()}`;
      const original = await finishedForceSync(client);
      const res = await rerun(original).expect(200);
      expect(res.body).toMatchObject({
        success: true,
        rerun_of: original,
        status_url: `/api/opal/sync/${res.body.sync_id}`,
        sync_details: { scope: 'odp_only', internal_workflow: { workflow_id: res.body.sync_id } },
      });
      expect(res.body.sync_id).not.toBe(original);
      const created = await getWorkflow(res.body.sync_id);
      expect(created).toMatchObject({ rerun_of: original, cancelled_at: null });
      const rows = await t.dataSource.query<
        {
          id: string;
          source: string;
          sync_scope: string;
          client_name: string;
          outbound_payload: { input_data: unknown; metadata: Record<string, unknown> };
        }[]
      >(
        `SELECT id, source, sync_scope, client_name, outbound_payload FROM workflows WHERE id = ANY($1::uuid[])`,
        [[original, res.body.sync_id]],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const [a, b] = [byId.get(original)!, byId.get(res.body.sync_id)!];
      expect([b.source, b.sync_scope, b.client_name]).toEqual([a.source, a.sync_scope, a.client_name]);
      expect(b.outbound_payload.input_data).toEqual(a.outbound_payload.input_data);
      expect(b.outbound_payload.metadata.client_metadata).toEqual({ ticket: 'OPS-7' });
      expect(b.outbound_payload.metadata.sync_id).toBe(res.body.sync_id);
      const audit = await auditOf('rerun');
      expect(audit.at(-1)?.details).toEqual({ rerun_of: original, sync_id: res.body.sync_id });
    });

    it('honours Idempotency-Key: a repeat answers the first rerun again; the key on another workflow is 409', async () => {
      const original = await finishedForceSync(`rerun-key ${randomUUID()}`);
      const key = `rerun-${randomUUID()}`;
      const first = await rerun(original, key).expect(200);
      const repeat = await rerun(original, key).expect(200);
      expect(repeat.headers['idempotent-replayed']).toBe('true');
      expect(repeat.body.sync_id).toBe(first.body.sync_id);
      const count = await t.dataSource.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM workflows WHERE rerun_of = $1`,
        [original],
      );
      expect(count[0].n).toBe(1);
      const other = await finishedForceSync(`rerun-key-other ${randomUUID()}`);
      const reused = await rerun(other, key).expect(409);
      expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('keeps the trigger kind and session id of an orchestration trigger', async () => {
      const sessionId = `session-${randomUUID()}`;
      const res = await request(t.url)
        .post('/api/orchestrations/trigger')
        .set(operatorHeaders())
        .send({ workflow_name: 'strategy_workflow', session_id: sessionId, client_name: 'Trigger Co' })
        .expect(200);
      const original: string = res.body.workflow_id;
      await waitFor(async () => (await getWorkflow(original)).status === 'completed', 'trigger done');
      const again = await rerun(original).expect(200);
      const [row] = await t.dataSource.query<
        { source: string; session_id: string; client_name: string; rerun_of: string }[]
      >(`SELECT source, session_id, client_name, rerun_of FROM workflows WHERE id = $1`, [
        again.body.sync_id,
      ]);
      expect(row).toEqual({
        source: 'orchestration_trigger',
        session_id: sessionId,
        client_name: 'Trigger Co',
        rerun_of: original,
      });
    });

    it('refuses an active workflow with 409 WORKFLOW_STILL_ACTIVE and an unknown one with 404', async () => {
      for (const status of ['pending', 'triggered', 'running']) {
        const w = await insertWorkflow(t.dataSource, { status });
        const res = await rerun(w.id).expect(409);
        expect(res.body).toMatchObject({
          code: 'WORKFLOW_STILL_ACTIVE',
          details: [{ sync_id: w.id, status }],
        });
      }
      expect((await rerun(randomUUID()).expect(404)).body.code).toBe('WORKFLOW_NOT_FOUND');
    });

    it('reruns a cancelled workflow', async () => {
      const w = await insertWorkflow(t.dataSource, { status: 'running' });
      await cancel(w.id).expect(200);
      const res = await rerun(w.id).expect(200);
      expect(res.body.rerun_of).toBe(w.id);
    });
  });
});
