import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Client } from 'pg';
import { freePort } from '../src/common/free-port';
import { OPAL_AGENTS } from '../src/domain/opal';
import { FEED_APPLICATION_NAME } from '../src/modules/live/workflow-feed.service';
import { baseTestEnv, createTestApp, operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { ServiceProcess } from './support/service-process';
import { openStream, type SseFrame } from './support/sse';
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

const syncEvents = (t: { url: string }, id: string): string => `${t.url}/api/opal/sync/${id}/events`;

const versionOf = (frame: SseFrame): number => frame.data.version as number;

/** The listening connections of the apps on this test database. */
async function feedBackends(url: string): Promise<number[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`,
      [FEED_APPLICATION_NAME],
    );
    return rows.rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}

async function terminateFeeds(url: string): Promise<number[]> {
  const pids = await feedBackends(url);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    // One statement per backend: a filter and pg_terminate_backend in one WHERE may run in either order.
    for (const pid of pids) await client.query(`SELECT pg_terminate_backend($1)`, [pid]);
    return pids;
  } finally {
    await client.end();
  }
}

describe('live progress: server-sent events (e2e)', () => {
  describe('one instance', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ OPAL_SIMULATOR_AGENT_DELAY_MS: '40', SSE_HEARTBEAT_SECONDS: '1' });
      await resetDatabase(t.dataSource);
    });
    afterAll(async () => {
      await t.close();
    });

    it('streams a simulated workflow from its snapshot to `end`, nine agents completed, then closes', async () => {
      const started = await request(t.url)
        .post('/api/opal/sync')
        .set(operatorHeaders())
        .send({ client_context: { client_name: `Live ${process.pid}` } })
        .expect(200);
      const syncId: string = started.body.sync_id;
      const stream = await openStream(syncEvents(t, syncId), operatorHeaders());
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(stream.headers.get('cache-control')).toBe('no-cache, no-transform');
      expect(stream.headers.get('x-accel-buffering')).toBe('no');
      await stream.waitEnded('the server to close the stream after `end`');

      const { frames } = stream;
      expect(frames[0].event).toBe('snapshot');
      expect(frames[frames.length - 1].event).toBe('end');
      expect(frames.slice(1, -1).every((f) => f.event === 'progress')).toBe(true);
      expect(frames.length).toBeGreaterThan(2); // the agents' progress arrived on the way
      for (let i = 0; i < frames.length; i++) {
        expect(frames[i].id).toBe(String(versionOf(frames[i])));
        if (i > 0) expect(versionOf(frames[i])).toBeGreaterThan(versionOf(frames[i - 1]));
      }
      const last = frames[frames.length - 1].data as {
        status: string;
        agents: { agent_id: string; status: string }[];
        progress: { percent: number };
      };
      expect(last.status).toBe('completed');
      expect(last.progress.percent).toBe(100);
      expect(last.agents.map((a) => a.agent_id)).toEqual([...OPAL_AGENTS]);
      expect(last.agents.every((a) => a.status === 'completed')).toBe(true);
      // The final frame is the stored state, the same object GET answers.
      const got = await request(t.url).get(`/api/opal/sync/${syncId}`).set(operatorHeaders()).expect(200);
      expect(frames[frames.length - 1].data).toEqual(got.body);
    });

    it('resumes with Last-Event-ID: no snapshot at the current version, a snapshot from an older one', async () => {
      const w = await insertWorkflow(t.dataSource);
      const current = await openStream(syncEvents(t, w.id), { ...operatorHeaders(), 'Last-Event-ID': '1' });
      const older = await openStream(syncEvents(t, w.id), { ...operatorHeaders(), 'Last-Event-ID': '0' });
      const fresh = await openStream(syncEvents(t, w.id), operatorHeaders());
      try {
        await older.next((f) => f.event === 'snapshot', 'a snapshot for an older version');
        await fresh.next((f) => f.event === 'snapshot', 'a snapshot without Last-Event-ID');
        await postSigned(t.url, callback(w.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
        const progress = await current.next((f) => f.event === 'progress', 'the next change');
        expect(current.frames[0]).toBe(progress); // nothing before it: no snapshot
        expect(progress.id).toBe('2');
        expect(progress.data.status).toBe('running');
        expect(older.frames.map((f) => [f.event, f.id])).toEqual([
          ['snapshot', '1'],
          ['progress', '2'],
        ]);
        await waitFor(() => current.comments.includes('keep-alive'), 'a keep-alive comment');
      } finally {
        for (const s of [current, older, fresh]) s.close();
      }
    });

    it('answers 404 with the error body for an unknown workflow, before any frame', async () => {
      const stream = await openStream(syncEvents(t, randomUUID()), operatorHeaders());
      expect(stream.status).toBe(404);
      expect(stream.headers.get('content-type')).toMatch(/^application\/json/);
      expect(stream.body).toMatchObject({ success: false, code: 'WORKFLOW_NOT_FOUND' });
    });

    it('answers 401 to a stream opened with a bad key, or none', async () => {
      const w = await insertWorkflow(t.dataSource);
      const bad = await openStream(syncEvents(t, w.id), { Authorization: `Bearer ${'x'.repeat(40)}` });
      expect(bad.status).toBe(401);
      expect(bad.body).toMatchObject({ code: 'AUTHENTICATION_FAILED' });
      const none = await openStream(`${t.url}/api/opal/syncs/events`, {});
      expect(none.status).toBe(401);
    });

    it('pushes every change to the list stream, filtered by status', async () => {
      const all = await openStream(`${t.url}/api/opal/syncs/events`, operatorHeaders());
      const failed = await openStream(`${t.url}/api/opal/syncs/events?status=failed`, operatorHeaders());
      try {
        expect(all.status).toBe(200);
        const a = await insertWorkflow(t.dataSource);
        const b = await insertWorkflow(t.dataSource);
        await postSigned(t.url, callback(a.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
        await postSigned(t.url, callback(b.opalWorkflowId!, { event_type: 'workflow_failed' })).expect(202);
        await all.next((f) => f.data.sync_id === b.id && f.data.status === 'failed', 'b failed (all)');
        await all.next((f) => f.data.sync_id === a.id && f.data.status === 'running', 'a running (all)');
        const frame = await failed.next((f) => f.data.sync_id === b.id, 'b failed (filtered)');
        expect(frame.event).toBe('workflow');
        expect(frame.id).toBeNull();
        expect((frame.data.agents as unknown[]).length).toBe(9);
        expect(failed.frames.every((f) => f.data.status === 'failed')).toBe(true);
        const invalid = await openStream(`${t.url}/api/opal/syncs/events?status=nope`, operatorHeaders());
        expect(invalid.status).toBe(400);
      } finally {
        all.close();
        failed.close();
      }
    });
  });

  describe('the per-instance stream limit', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ SSE_MAX_STREAMS: '2' });
    });
    afterAll(async () => {
      await t.close();
    });

    it('answers 503 TOO_MANY_STREAMS with Retry-After beyond SSE_MAX_STREAMS, and admits again once one closes', async () => {
      const w = await insertWorkflow(t.dataSource);
      const first = await openStream(syncEvents(t, w.id), operatorHeaders());
      const second = await openStream(`${t.url}/api/opal/syncs/events`, operatorHeaders());
      try {
        const third = await openStream(syncEvents(t, w.id), operatorHeaders());
        expect(third.status).toBe(503);
        expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(third.body).toMatchObject({ success: false, code: 'TOO_MANY_STREAMS' });
        first.close();
        const again = await waitFor(async () => {
          const s = await openStream(syncEvents(t, w.id), operatorHeaders());
          if (s.status === 200) return s;
          return null;
        }, 'a stream admitted after one closed');
        again.close();
      } finally {
        first.close();
        second.close();
      }
    });
  });

  describe('two instances on one database', () => {
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      // A processes no callbacks: whatever its streams show was committed by B.
      a = await createWebhookTestApp({ processorEnabled: false });
      b = await createWebhookTestApp();
      await resetDatabase(a.dataSource);
    });
    afterAll(async () => {
      await a.close();
      await b.close();
    });

    it('a callback posted to instance B reaches a stream opened on instance A', async () => {
      const w = await insertWorkflow(a.dataSource);
      const stream = await openStream(syncEvents(a, w.id), operatorHeaders());
      try {
        await stream.next((f) => f.event === 'snapshot', 'the snapshot');
        await postSigned(b.url, callback(w.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
        const progress = await stream.next((f) => f.event === 'progress', 'B’s change on A');
        expect(progress.data.status).toBe('running');
        for (const agent of OPAL_AGENTS) {
          await postSigned(
            b.url,
            callback(w.opalWorkflowId!, { event_type: 'agent_completed', agent_id: agent }),
          ).expect(202);
        }
        await postSigned(b.url, callback(w.opalWorkflowId!, { event_type: 'workflow_completed' })).expect(
          202,
        );
        await stream.waitEnded('A’s stream to end');
        const last = stream.frames[stream.frames.length - 1];
        expect(last.event).toBe('end');
        expect(last.data.status).toBe('completed');
      } finally {
        stream.close();
      }
    });

    it('after its listening connection is killed, every stream gets a fresh snapshot and keeps going', async () => {
      const w = await insertWorkflow(a.dataSource);
      const list = await openStream(`${a.url}/api/opal/syncs/events`, operatorHeaders());
      const stream = await openStream(syncEvents(a, w.id), operatorHeaders());
      const dbUrl = a.settings.databaseUrl!;
      try {
        await stream.next((f) => f.event === 'snapshot', 'the first snapshot');
        const before = await feedBackends(dbUrl);
        expect(before.length).toBe(2); // one per instance
        expect(await terminateFeeds(dbUrl)).toEqual(expect.arrayContaining(before));
        const resent = await stream.next((f) => f.event === 'snapshot', 'a fresh snapshot after the gap', 1);
        expect(versionOf(resent)).toBe(1);
        await list.next((f) => f.data.sync_id === w.id, 'the list stream told about the workflow again');
        const after = await feedBackends(dbUrl);
        expect(after.length).toBe(2);
        expect(after.some((pid) => before.includes(pid))).toBe(false);

        await postSigned(b.url, callback(w.opalWorkflowId!, { event_type: 'workflow_started' })).expect(202);
        const progress = await stream.next((f) => f.event === 'progress', 'B’s change after the gap');
        expect(versionOf(progress)).toBe(2);
      } finally {
        stream.close();
        list.close();
      }
    });
  });

  describe('shutdown', () => {
    it('SIGTERM ends every stream and the process exits within SHUTDOWN_GRACE_MS', async () => {
      const port = await freePort();
      const graceMs = 20_000;
      const service = new ServiceProcess({
        ...(await baseTestEnv(port)),
        SHUTDOWN_GRACE_MS: String(graceMs),
        // The simulated workflow stays running while the test watches it.
        OPAL_SIMULATOR_AGENT_DELAY_MS: '120000',
      });
      try {
        await service.start();
        const started = await request(service.url)
          .post('/api/opal/sync')
          .set(operatorHeaders())
          .send({ allow_concurrent: true, client_context: { client_name: `Shutdown live ${process.pid}` } })
          .expect(200);
        const stream = await openStream(syncEvents(service, started.body.sync_id), operatorHeaders());
        const list = await openStream(`${service.url}/api/opal/syncs/events`, operatorHeaders());
        await stream.next((f) => f.event === 'snapshot', 'the snapshot');
        const sent = Date.now();
        const exited = service.stop('SIGTERM');
        await stream.waitEnded('the stream to end on SIGTERM', graceMs);
        await list.waitEnded('the list stream to end on SIGTERM', graceMs);
        expect(await exited).toBe(0);
        expect(Date.now() - sent).toBeLessThan(graceMs);
      } finally {
        await service.stop('SIGKILL');
      }
    });
  });
});
