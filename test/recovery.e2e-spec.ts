import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { OPAL_AGENTS } from '../src/domain/opal';
import { operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { seedEvent, seedEventStream, seedRejected, seedWorkflow } from './support/seed';
import { waitFor } from './support/wait';
import { createWebhookTestApp } from './support/webhooks';

const REPLAY = '/api/orchestrations/replay';
const DEAD_LETTERS = '/api/diagnostics/dead-letters';
const REQUEUE = '/api/diagnostics/dead-letters/requeue';
const EXPORT = '/api/diagnostics/events/export';

describe('recovery: event lookup, dead letters, requeue, bulk replay, export (e2e)', () => {
  let t: TestApp;
  const get = (path: string) => request(t.url).get(path).set(operatorHeaders());
  const post = (path: string, body: Record<string, unknown>) =>
    request(t.url).post(path).set(operatorHeaders()).send(body);
  const auditOf = async (action: string): Promise<{ details: Record<string, unknown> }[]> =>
    t.dataSource.query(`SELECT details FROM audit_log WHERE action = $1 ORDER BY id`, [action]);

  beforeAll(async () => {
    t = await createWebhookTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(async () => {
    await resetDatabase(t.dataSource);
  });

  describe('GET /api/events/{event_id}', () => {
    it("finds an event by the service's id and by the sender's event_id, with the workflow it was linked to", async () => {
      const wf = await seedWorkflow(t.dataSource, { status: 'running' });
      const senderId = `evt-${randomUUID()}`;
      const seeded = await seedEvent(t.dataSource, {
        eventType: 'agent_completed',
        agentId: 'geo_audit',
        workflowRef: wf.opalWorkflowId!,
        syncId: wf.id,
        sourceEventId: senderId,
        processingStatus: 'failed',
        payload: { event_type: 'agent_completed', agent_id: 'geo_audit', marker: 'lookup' },
      });
      await t.dataSource.query(
        `UPDATE webhook_events SET idempotency_key = $2, processing_error = 'boom' WHERE id = $1`,
        [seeded.id, `id:${senderId}`],
      );
      const byId = await get(`/api/events/${seeded.id.toUpperCase()}`).expect(200);
      expect(byId.body).toMatchObject({
        event_id: seeded.id,
        source_event_id: senderId,
        sequence: seeded.sequence,
        event_type: 'agent_completed',
        agent_id: 'geo_audit',
        sync_id: wf.id,
        processing_status: 'failed',
        processing_error: 'boom',
        payload: { marker: 'lookup' },
        workflow: {
          sync_id: wf.id,
          status: 'running',
          correlation_id: wf.correlationId,
          opal_workflow_id: wf.opalWorkflowId,
          status_url: `/api/opal/sync/${wf.id}`,
        },
      });
      const bySender = await get(`/api/events/${encodeURIComponent(senderId)}`).expect(200);
      expect(bySender.body).toEqual(byId.body);
    });

    it('answers 404 EVENT_NOT_FOUND for an unknown id, an unmatched event has no workflow', async () => {
      const res = await get(`/api/events/${randomUUID()}`).expect(404);
      expect(res.body).toMatchObject({ success: false, code: 'EVENT_NOT_FOUND' });
      await get('/api/events/no-such-sender-id').expect(404);
      const orphan = await seedEvent(t.dataSource, {
        eventType: 'workflow_started',
        workflowRef: 'opal-wf-nobody-knows',
        processingStatus: 'unmatched',
      });
      const found = await get(`/api/events/${orphan.id}`).expect(200);
      expect(found.body).toMatchObject({ processing_status: 'unmatched', sync_id: null, workflow: null });
    });

    it('requires the operator key', async () => {
      await request(t.url).get(`/api/events/${randomUUID()}`).expect(401);
    });
  });

  describe('dead letters', () => {
    it('lists unmatched and failed events newest first, paged, and rejected deliveries without a body', async () => {
      const wf = await seedWorkflow(t.dataSource);
      const unmatched = [];
      for (let i = 0; i < 3; i++) {
        unmatched.push(
          await seedEvent(t.dataSource, {
            eventType: 'workflow_started',
            workflowRef: `opal-wf-ghost-${i}`,
            processingStatus: 'unmatched',
          }),
        );
      }
      const failed = await seedEvent(t.dataSource, {
        eventType: 'agent_completed',
        agentId: 'content_review',
        workflowRef: wf.id,
        syncId: wf.id,
        processingStatus: 'failed',
      });
      await t.dataSource.query(
        `UPDATE webhook_events SET processing_error = 'deadlock detected' WHERE id = $1`,
        [failed.id],
      );
      await seedEvent(t.dataSource, { eventType: 'workflow_started', workflowRef: wf.id, syncId: wf.id });
      await seedRejected(t.dataSource, 'signature_invalid', 7, 3);
      await seedRejected(t.dataSource, 'body_invalid', 2, 1, '198.51.100.9');

      const first = await get(`${DEAD_LETTERS}?kind=unmatched&limit=2`).expect(200);
      expect(first.body.kind).toBe('unmatched');
      expect(first.body.events.map((e: { event_id: string }) => e.event_id)).toEqual([
        unmatched[2].id,
        unmatched[1].id,
      ]);
      expect(first.body.pagination).toEqual({ limit: 2, next_before: String(unmatched[1].sequence) });
      const second = await get(
        `${DEAD_LETTERS}?kind=unmatched&limit=2&before=${first.body.pagination.next_before}`,
      ).expect(200);
      expect(second.body.events.map((e: { event_id: string }) => e.event_id)).toEqual([unmatched[0].id]);
      expect(second.body.pagination.next_before).toBeNull();

      const failedPage = await get(`${DEAD_LETTERS}?kind=failed`).expect(200);
      expect(failedPage.body.events).toEqual([
        expect.objectContaining({
          event_id: failed.id,
          sync_id: wf.id,
          processing_status: 'failed',
          processing_error: 'deadlock detected',
        }),
      ]);

      const rejected = await get(`${DEAD_LETTERS}?kind=rejected&limit=1`).expect(200);
      expect(rejected.body.rejected).toEqual([
        {
          minute: expect.any(String),
          reason: 'body_invalid',
          client_ip: '198.51.100.9',
          count: 2,
          first_seen: expect.any(String),
          last_seen: expect.any(String),
          detail: null,
        },
      ]);
      const rejected2 = await get(
        `${DEAD_LETTERS}?kind=rejected&limit=1&before=${rejected.body.pagination.next_before}`,
      ).expect(200);
      expect(rejected2.body.rejected).toEqual([
        expect.objectContaining({ reason: 'signature_invalid', count: 7, client_ip: '203.0.113.7' }),
      ]);
      expect(rejected2.body.pagination.next_before).toBeNull();
      expect(JSON.stringify(rejected2.body)).not.toMatch(/payload|body/);
    });

    it('refuses a missing or unknown kind, a bad limit and a foreign cursor with 400', async () => {
      for (const query of [
        '',
        '?kind=lost',
        '?kind=failed&limit=0',
        '?kind=failed&before=abc',
        '?kind=rejected&before=12',
        // A well-formed cursor whose time PostgreSQL cannot store.
        `?kind=rejected&before=${Buffer.from(JSON.stringify(['-100000-01-01T00:00:00Z', 'x', 'y'])).toString('base64url')}`,
      ]) {
        const res = await get(`${DEAD_LETTERS}${query}`);
        expect([query, res.status, res.body.code]).toEqual([query, 400, 'VALIDATION_FAILED']);
      }
    });

    it('requeue: dry run counts, a kind or a list puts events back into processing, and they are processed', async () => {
      const wf = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 2 });
      const stream = await seedEventStream(t.dataSource, wf, { receivedMinutesAgo: 1 });
      const target = stream.find((e) => e.eventType === 'workflow_completed')!;
      await t.dataSource.query(`UPDATE agent_runs SET status = 'completed' WHERE workflow_id = $1`, [wf.id]);
      await t.dataSource.query(
        `UPDATE webhook_events SET processing_status = 'failed', processing_error = 'deadlock detected' WHERE id = $1`,
        [target.id],
      );
      const ghost = await seedEvent(t.dataSource, {
        eventType: 'workflow_started',
        workflowRef: 'opal-wf-never-known',
        processingStatus: 'unmatched',
      });

      const dry = await post(REQUEUE, { kind: 'failed', dry_run: true }).expect(200);
      expect(dry.body).toEqual({ success: true, dry_run: true, matched: 1, requeued: 0 });
      const [{ processing_status: still }] = await t.dataSource.query(
        `SELECT processing_status FROM webhook_events WHERE id = $1`,
        [target.id],
      );
      expect(still).toBe('failed');

      // A processed event in the list is not a dead letter: it is not matched.
      const listed = await post(REQUEUE, { event_ids: [target.id, stream[0].id] }).expect(200);
      expect(listed.body).toEqual({ success: true, dry_run: false, matched: 1, requeued: 1 });
      await waitFor(async () => {
        const [row] = await t.dataSource.query(`SELECT processing_status FROM webhook_events WHERE id = $1`, [
          target.id,
        ]);
        return row.processing_status === 'processed';
      }, 'the requeued event is processed');
      const [workflow] = await t.dataSource.query(`SELECT status FROM workflows WHERE id = $1`, [wf.id]);
      expect(workflow.status).toBe('completed');

      const byKind = await post(REQUEUE, { kind: 'unmatched' }).expect(200);
      expect(byKind.body).toMatchObject({ matched: 1, requeued: 1 });
      // Still no workflow for it: processing finds it unmatched again.
      await waitFor(async () => {
        const [row] = await t.dataSource.query(`SELECT processing_status FROM webhook_events WHERE id = $1`, [
          ghost.id,
        ]);
        return row.processing_status === 'unmatched';
      }, 'the ghost event is unmatched again');

      const audit = await auditOf('requeue');
      expect(audit.map((a) => a.details)).toEqual([
        expect.objectContaining({ kind: 'failed', dry_run: true, matched: 1, requeued: 0 }),
        expect.objectContaining({ kind: null, event_ids: 2, dry_run: false, matched: 1, requeued: 1 }),
        expect.objectContaining({ kind: 'unmatched', matched: 1, requeued: 1 }),
      ]);
    });

    it('refuses to requeue more than 10,000 events without a list or a kind, and accepts it with a kind', async () => {
      await t.dataSource.query(
        `INSERT INTO webhook_events (id, idempotency_key, event_type, workflow_ref, status, occurred_at, received_at,
                                     processing_status, payload)
         SELECT gen_random_uuid(), 'bulk-' || g, 'workflow_started', 'opal-wf-bulk-' || g, 'success', now(), now(),
                'unmatched', '{}'::jsonb
           FROM generate_series(1, 10001) g`,
      );
      const refused = await post(REQUEUE, { dry_run: true }).expect(400);
      expect(refused.body).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [expect.objectContaining({ field: 'event_ids' })],
      });
      const counted = await post(REQUEUE, { kind: 'unmatched', dry_run: true }).expect(200);
      expect(counted.body).toMatchObject({ matched: 10001, requeued: 0 });
      for (const body of [{ kind: 'rejected' }, { event_ids: [] }, { event_ids: 'x' }, { dry_run: 'yes' }]) {
        const res = await post(REQUEUE, body);
        expect([body, res.status]).toEqual([body, 400]);
      }
    });
  });

  describe('bulk replay', () => {
    /** Workflows whose workflow_completed failed to process: a replay completes them. */
    async function brokenWorkflows(n: number, createdMinutesAgo: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const wf = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo });
        const stream = await seedEventStream(t.dataSource, wf, { receivedMinutesAgo: createdMinutesAgo - 1 });
        await t.dataSource.query(
          `UPDATE webhook_events SET processing_status = 'failed', processing_error = 'deadlock detected'
            WHERE id = $1`,
          [stream[stream.length - 1].id],
        );
        await t.dataSource.query(`UPDATE agent_runs SET status = 'completed' WHERE workflow_id = $1`, [
          wf.id,
        ]);
        ids.push(wf.id);
      }
      return ids;
    }

    it('dry run previews every status change of the selection and writes nothing', async () => {
      const inWindow = await brokenWorkflows(3, 5);
      const older = await brokenWorkflows(1, 90);
      const completed = await seedWorkflow(t.dataSource, { status: 'completed', createdMinutesAgo: 5 });
      const before = await t.dataSource.query(`SELECT id, status, version FROM workflows ORDER BY id`);
      const from = new Date(Date.now() - 30 * 60_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const res = await post(REPLAY, { selection: { status: ['running'], from, to }, dry_run: true }).expect(
        200,
      );
      expect(res.body).toEqual({
        success: true,
        dry_run: true,
        workflows_matched: 3,
        events_considered: 3 * 20,
        changes: expect.arrayContaining(
          inWindow.map((id) => ({ workflow_id: id, from_status: 'running', to_status: 'completed' })),
        ),
      });
      expect(res.body.changes).toHaveLength(3);
      expect(JSON.stringify(res.body)).not.toContain(older[0]);
      expect(JSON.stringify(res.body)).not.toContain(completed.id);
      expect(await t.dataSource.query(`SELECT id, status, version FROM workflows ORDER BY id`)).toEqual(
        before,
      );
      expect((await auditOf('replay')).map((a) => a.details)).toEqual([
        expect.objectContaining({ bulk: true, dry_run: true, workflows_matched: 3, changes: 3 }),
      ]);
    });

    it('runs as a job: 202 with status_url, progress until completed, each workflow replayed once', async () => {
      const ids = await brokenWorkflows(5, 5);
      const res = await post(REPLAY, { selection: { status: ['running'] } }).expect(202);
      expect(res.body).toEqual({
        success: true,
        replay_id: expect.stringMatching(/^replay-\d+-[0-9a-z]+$/),
        status_url: `/api/orchestrations/replay/${res.body.replay_id}`,
        workflows_total: 5,
      });
      const done = await waitFor(async () => {
        const progress = await get(res.body.status_url).expect(200);
        return progress.body.status === 'completed' ? progress.body : null;
      }, 'the bulk replay completes');
      expect(done).toMatchObject({
        replay_id: res.body.replay_id,
        workflows_total: 5,
        workflows_done: 5,
        workflows_failed: 0,
        failures: [],
      });
      expect(done.changes).toEqual(
        ids.map((id) => ({ workflow_id: id, from_status: 'running', to_status: 'completed' })),
      );
      const rows = await t.dataSource.query(
        `SELECT w.status, w.version, j.replays FROM workflows w JOIN replay_job_workflows j ON j.workflow_id = w.id`,
      );
      expect(rows).toHaveLength(5);
      for (const row of rows) expect(row).toEqual({ status: 'completed', version: 2, replays: 1 });
      const agents = await t.dataSource.query(
        `SELECT DISTINCT status FROM agent_runs WHERE workflow_id = ANY($1)`,
        [ids],
      );
      expect(agents).toEqual([{ status: 'completed' }]);
      expect(OPAL_AGENTS).toHaveLength(9);
      const [{ n }] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM webhook_events WHERE processing_status <> 'processed'`,
      );
      expect(n).toBe(0);
    });

    it('refuses an empty or inverted window, both or neither of workflow_id and selection, unknown statuses; 404 for an unknown job', async () => {
      const at = new Date().toISOString();
      const bad = [
        { selection: { from: at, to: at } },
        { selection: { from: at, to: new Date(Date.now() - 1000).toISOString() } },
        { selection: { status: ['lost'] } },
        { selection: { from: 'yesterday' } },
        { workflow_id: randomUUID(), selection: {} },
        {},
        { dry_run: true },
      ];
      for (const body of bad) {
        const res = await post(REPLAY, body);
        expect([body, res.status, res.body.code]).toEqual([body, 400, 'VALIDATION_FAILED']);
      }
      const unknown = await get(`${REPLAY}/replay-1-nothing`).expect(404);
      expect(unknown.body).toMatchObject({ success: false, code: 'REPLAY_NOT_FOUND' });
    });
  });

  describe('GET /api/diagnostics/events/export', () => {
    it('streams every matching event oldest first as NDJSON, and as CSV with a header line', async () => {
      const wf = await seedWorkflow(t.dataSource, { status: 'completed' });
      const stream = await seedEventStream(t.dataSource, wf, { failAgents: ['geo_audit'] });
      const other = await seedWorkflow(t.dataSource, { status: 'completed' });
      await seedEventStream(t.dataSource, other);

      const ndjson = await download(t, `${EXPORT}?workflow_id=${wf.id}`);
      expect(ndjson.status).toBe(200);
      expect(ndjson.type).toMatch(/^application\/x-ndjson/);
      const lines = ndjson.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.event_id)).toEqual(stream.map((e) => e.id));
      expect(lines[0]).toMatchObject({
        event_type: 'workflow_started',
        sync_id: wf.id,
        signature_valid: true,
      });
      expect(lines[0]).not.toHaveProperty('payload');

      const failed = await download(t, `${EXPORT}?status=failed&format=csv&include_payload=true`);
      expect(failed.status).toBe(200);
      expect(failed.type).toMatch(/^text\/csv/);
      const rows = failed.text.trimEnd().split('\r\n');
      expect(rows[0]).toBe(
        'event_id,sequence,event_type,workflow_id,sync_id,workflow_name,agent_id,status,execution_status,received_at,processed_at,processing_status,processing_time_ms,signature_valid,correlation_id,error_message,payload',
      );
      expect(rows).toHaveLength(2);
      const failedEvent = stream.find((e) => e.agentId === 'geo_audit' && e.eventType === 'agent_completed')!;
      expect(rows[1].startsWith(`${failedEvent.id},${failedEvent.sequence},agent_completed,`)).toBe(true);
      expect(rows[1]).toContain('""agent_id"":""geo_audit""');
      expect(rows[1]).toContain(',geo_audit failed: upstream timeout,"{');

      const none = await download(t, `${EXPORT}?correlation_id=nobody&format=csv`);
      expect(none.text.split('\r\n')[0]).toMatch(/^event_id,/);
      expect(none.text.trim().split('\r\n')).toHaveLength(1);

      const audit = await auditOf('export');
      expect(audit.map((a) => a.details)).toEqual([
        expect.objectContaining({
          format: 'ndjson',
          exported: 20,
          complete: true,
          filters: expect.objectContaining({ workflow_id: wf.id }),
        }),
        expect.objectContaining({ format: 'csv', exported: 1, complete: true }),
        expect.objectContaining({ format: 'csv', exported: 0, complete: true }),
      ]);
    });

    it('refuses invalid filters and formats with the error body', async () => {
      for (const query of [
        '?format=xml',
        '?limit=5',
        '?start_date=2026-03-02T00:00:00Z&end_date=2026-03-01T00:00:00Z',
        '?status=lost',
      ]) {
        const res = await get(`${EXPORT}${query}`);
        expect([query, res.status, res.body.code]).toEqual([query, 400, 'VALIDATION_FAILED']);
      }
    });
  });
});

/** The whole answer as text (supertest would parse or buffer it by type). */
async function download(t: TestApp, path: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`${t.url}${path}`, { headers: operatorHeaders() });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}
