import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import request from 'supertest';
import { EventProcessorService } from '../src/modules/webhooks/event-processor.service';
import { WorkflowEvents, type WorkflowChanged } from '../src/modules/workflows/workflow-events.service';
import { WorkflowsRepository } from '../src/modules/workflows/workflows.repository';
import { operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { waitFor } from './support/wait';
import { createWebhookTestApp, insertWorkflow, postSigned } from './support/webhooks';

const callback = (workflowRef: string, fields: Record<string, unknown>): string =>
  JSON.stringify({
    event_id: `evt-${randomUUID()}`,
    workflow_id: workflowRef,
    workflow_name: 'strategy_workflow',
    timestamp: new Date().toISOString(),
    ...fields,
  });

const versionOf = async (t: TestApp, id: string): Promise<number> =>
  (
    (await request(t.url).get(`/api/opal/sync/${id}`).set(operatorHeaders()).expect(200)).body as {
      version: number;
    }
  ).version;

describe('workflow versions and "workflow changed" notifications (e2e)', () => {
  describe('with the processing loop running', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createWebhookTestApp();
      await resetDatabase(t.dataSource);
    });
    afterAll(async () => {
      await t.close();
    });

    it('announces every stored change of a force sync once, with versions that only go up, ending at the stored one', async () => {
      const heard: WorkflowChanged[] = [];
      const stop = t.app.get(WorkflowEvents).onChange((change) => heard.push(change));
      try {
        const res = await request(t.url)
          .post('/api/opal/sync')
          .set(operatorHeaders())
          .send({ client_context: { client_name: `Versions ${process.pid}` } })
          .expect(200);
        const syncId: string = res.body.sync_id;
        // The simulator sends the whole run (20 callbacks) right after accepting.
        await waitFor(
          async () =>
            (
              (await request(t.url).get(`/api/opal/sync/${syncId}`).set(operatorHeaders())).body as {
                status: string;
              }
            ).status === 'completed',
          'completed',
        );
        const mine = heard.filter((c) => c.syncId === syncId);
        expect(mine[0]).toEqual({ syncId, version: 1, status: 'pending' });
        expect(mine[1]).toMatchObject({ version: 2 }); // OPAL accepted (or its first callbacks got there first)
        for (let i = 1; i < mine.length; i++) expect(mine[i].version).toBeGreaterThan(mine[i - 1].version);
        expect(mine[mine.length - 1]).toMatchObject({
          status: 'completed',
          version: await versionOf(t, syncId),
        });
        const list = await request(t.url).get('/api/opal/syncs').set(operatorHeaders()).expect(200);
        expect(list.body.items.find((w: { sync_id: string }) => w.sync_id === syncId).version).toBe(
          mine[mine.length - 1].version,
        );
      } finally {
        stop();
      }
    });
  });

  describe('one processing batch', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createWebhookTestApp({ processorEnabled: false });
      await resetDatabase(t.dataSource);
    });
    afterAll(async () => {
      await t.close();
    });

    it('stores each changed workflow once (version + 1) and announces it once, after the commit', async () => {
      const a = await insertWorkflow(t.dataSource);
      const b = await insertWorkflow(t.dataSource);
      const c = await insertWorkflow(t.dataSource);
      await postSigned(t.url, callback(a.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
      for (const agent of ['geo_audit', 'content_review', 'cmp_organizer']) {
        await postSigned(
          t.url,
          callback(a.opalWorkflowId!, { event_type: 'agent_started', agent_id: agent }),
        ).expect(202);
      }
      await postSigned(t.url, callback(b.opalWorkflowId!, { event_type: 'workflow_failed' })).expect(202);
      const heard: WorkflowChanged[] = [];
      // Read from another connection when heard: only a committed change is visible there.
      const seen: Promise<{ id: string; version: number }[]>[] = [];
      const stop = t.app.get(WorkflowEvents).onChange((change) => {
        heard.push(change);
        seen.push(t.dataSource.query(`SELECT id, version FROM workflows WHERE id = $1`, [change.syncId]));
      });
      try {
        expect(await t.app.get(EventProcessorService).processBatch()).toBe(5);
      } finally {
        stop();
      }
      expect(heard.sort((x, y) => (x.syncId < y.syncId ? -1 : 1))).toEqual(
        [
          { syncId: a.id, version: 2, status: 'running' },
          { syncId: b.id, version: 2, status: 'failed' },
        ].sort((x, y) => (x.syncId < y.syncId ? -1 : 1)),
      );
      expect(await versionOf(t, a.id)).toBe(2);
      expect(await versionOf(t, b.id)).toBe(2);
      expect(await versionOf(t, c.id)).toBe(1); // untouched
      for (const rows of await Promise.all(seen)) {
        expect(rows[0].version).toBe(heard.find((h) => h.syncId === rows[0].id)?.version);
      }
    });

    it('announces nothing for a change that was rolled back', async () => {
      const broken = await insertWorkflow(t.dataSource);
      const healthy = await insertWorkflow(t.dataSource);
      await postSigned(t.url, callback(broken.opalWorkflowId!, { event_type: 'workflow_started' })).expect(
        202,
      );
      await postSigned(t.url, callback(healthy.opalWorkflowId!, { event_type: 'workflow_started' })).expect(
        202,
      );
      const repo = t.app.get(WorkflowsRepository);
      const original = repo.save.bind(repo);
      const spy = jest.spyOn(repo, 'save').mockImplementation(async (manager, writes) => {
        if (writes.some((w) => w.syncId === broken.id)) throw new Error('simulated write failure');
        return original(manager, writes);
      });
      const heard: WorkflowChanged[] = [];
      const stop = t.app.get(WorkflowEvents).onChange((change) => heard.push(change));
      try {
        expect(await t.app.get(EventProcessorService).processBatch()).toBe(2);
      } finally {
        stop();
        spy.mockRestore();
      }
      expect(heard).toEqual([{ syncId: healthy.id, version: 2, status: 'running' }]);
      expect(await versionOf(t, broken.id)).toBe(1);
    });

    it('a listener that throws neither breaks the writer nor the other listeners', async () => {
      const w = await insertWorkflow(t.dataSource);
      await postSigned(t.url, callback(w.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
      const heard: string[] = [];
      const events = t.app.get(WorkflowEvents);
      const stops = [
        events.onChange(() => {
          throw new Error('listener bug');
        }),
        events.onChange((change) => heard.push(change.syncId)),
      ];
      try {
        expect(await t.app.get(EventProcessorService).processBatch()).toBe(1);
      } finally {
        for (const stop of stops) stop();
      }
      expect(heard).toEqual([w.id]);
      expect(await versionOf(t, w.id)).toBe(2);
    });

    it('offers the same notifications as an Observable, until unsubscribed', async () => {
      const w = await insertWorkflow(t.dataSource);
      await postSigned(t.url, callback(w.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
      const seen: WorkflowChanged[] = [];
      const subscription = t.app
        .get(WorkflowEvents)
        .changes()
        .subscribe((change) => seen.push(change));
      expect(await t.app.get(EventProcessorService).processBatch()).toBe(1);
      subscription.unsubscribe();
      await postSigned(t.url, callback(w.opalWorkflowId!, { event_type: 'workflow_failed' })).expect(202);
      expect(await t.app.get(EventProcessorService).processBatch()).toBe(1);
      expect(seen).toEqual([{ syncId: w.id, version: 2, status: 'running' }]);
      expect(await versionOf(t, w.id)).toBe(3);
    });
  });
});
