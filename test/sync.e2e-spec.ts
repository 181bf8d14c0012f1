import request from 'supertest';
import { OpalTargetService } from '../src/modules/opal/opal-target.service';
import type { OpalSimulator } from '../src/modules/opal/simulator/opal-simulator';
import {
  createTestApp,
  operatorHeaders,
  resetDatabase,
  TEST_OPAL_KEY,
  TEST_OPERATOR_KEY,
  TEST_WEBHOOK_SECRET,
  type TestApp,
} from './support/app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FORCE_SYNC_ID = /^force-sync-\d{13}-[0-9a-z]+$/;

describe('force sync (e2e)', () => {
  let t: TestApp;
  let sim: OpalSimulator;
  let clientSeq = 0;
  const client = (label: string) => `${label} ${process.pid}-${++clientSeq}`;

  beforeAll(async () => {
    // Slow agents keep workflows active for the whole suite even when the webhook receiver processes callbacks.
    t = await createTestApp({ OPAL_SIMULATOR_AGENT_DELAY_MS: '5000' });
    await resetDatabase(t.dataSource);
    sim = t.app.get(OpalTargetService).simulator!;
  });
  afterAll(async () => {
    // Leave no pending trigger behind for the next suite's app to pick up.
    await resetDatabase(t.dataSource);
    await t.close();
  });

  const post = (body?: unknown, headers: Record<string, string> = {}) => {
    const req = request(t.url).post('/api/opal/sync').set(operatorHeaders()).set(headers);
    return body === undefined ? req : req.send(body as object);
  };
  const triggersFor = (syncId: string) => sim.triggers.filter((tr) => tr.idempotencyKey === syncId);
  const workflowCount = async (clientName: string): Promise<number> =>
    (
      await t.dataSource.query(`SELECT count(*)::int AS n FROM workflows WHERE client_name = $1`, [
        clientName,
      ])
    )[0].n;

  describe('answer and outbound call', () => {
    it('answers 200 with the contract body when OPAL accepts, with defaults for an empty body', async () => {
      const res = await post().expect(200);
      expect(res.body).toEqual({
        success: true,
        sync_id: expect.stringMatching(UUID),
        correlation_id: expect.stringMatching(FORCE_SYNC_ID),
        message: expect.any(String),
        status_url: `/api/opal/sync/${res.body.sync_id}`,
        sync_details: {
          scope: 'priority_platforms',
          platforms_included: ['ODP', 'Content Recommendations', 'CMS PaaS', 'CMP'],
          estimated_duration: '6-8 minutes',
          triggered_by: 'force_sync',
          sync_timestamp: expect.any(String),
          internal_workflow: { enabled: true, workflow_id: res.body.sync_id, status: 'triggered' },
          external_opal: {
            triggered: true,
            workflow_name: 'strategy_workflow',
            workflow_id: expect.stringMatching(/^opal-wf-/),
            status: 'accepted',
            attempts: 1,
            next_attempt_at: null,
            last_error: null,
            ai_agents_count: 9,
            simulated: true,
          },
          telemetry: { total_duration_ms: expect.any(Number), external_duration_ms: expect.any(Number) },
        },
      });
      // The answer's X-Correlation-ID is the request's; the workflow's own id is in the body.
      expect(res.headers['x-correlation-id']).toBeDefined();
    });

    it('sends OPAL the stored payload with the contract headers, and client metadata cannot override', async () => {
      const clientName = client('Payload Co');
      const res = await post({
        sync_scope: 'all_platforms',
        client_context: { client_name: clientName, industry: 'Retail', recipients: ['ops@acme.example'] },
        include_rag_update: false,
        triggered_by: 'admin_header_button',
        metadata: { correlation_id: 'evil', span_id: 'evil', source_system: 'evil', sync_id: 'evil', n: 1 },
      }).expect(200);
      const { sync_id: syncId, correlation_id: correlationId } = res.body;

      const [trigger] = triggersFor(syncId);
      expect(triggersFor(syncId)).toHaveLength(1);
      const rows = await t.dataSource.query(
        `SELECT outbound_payload, correlation_id, opal_workflow_id, status, response_time_ms FROM workflows WHERE id = $1`,
        [syncId],
      );
      const stored = rows[0];
      expect(stored.correlation_id).toBe(correlationId);
      expect(stored.opal_workflow_id).toBe(res.body.sync_details.external_opal.workflow_id);
      expect(stored.response_time_ms).toEqual(expect.any(Number));
      expect(trigger.body).toEqual(stored.outbound_payload);
      expect(trigger.body).toEqual({
        workflow_name: 'strategy_workflow',
        input_data: {
          client_name: clientName,
          industry: 'Retail',
          recipients: ['ops@acme.example'],
          sync_scope: 'all_platforms',
          platforms: ['ODP', 'Content Recommendations', 'CMS PaaS', 'CMP', 'WebX'],
          include_rag_update: false,
          triggered_by: 'admin_header_button',
          force_sync: true,
        },
        metadata: {
          trigger_timestamp: res.body.sync_details.sync_timestamp,
          correlation_id: correlationId,
          span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
          sync_id: syncId,
          source_system: 'OSA-ForceSync',
          callback_url: `${t.url}/api/webhooks/opal-workflow`,
          client_metadata: {
            correlation_id: 'evil',
            span_id: 'evil',
            source_system: 'evil',
            sync_id: 'evil',
            n: 1,
          },
        },
      });
      const body = trigger.body as { metadata: { span_id: string } };
      expect(trigger.headers).toMatchObject({
        authorization: `Bearer ${TEST_OPAL_KEY}`,
        'content-type': 'application/json',
        'user-agent': 'opal-force-sync/1.0.0',
        'x-correlation-id': correlationId,
        'x-span-id': body.metadata.span_id,
        'x-workflow-name': 'strategy_workflow',
        'idempotency-key': syncId,
      });

      // The same correlation id is in the log lines of the request, and no log line holds a secret.
      const lines = t.logs.filter((line) => line.includes(correlationId));
      expect(lines.some((line) => line.includes('OPAL trigger attempt'))).toBe(true);
      const allLogs = t.logs.join('\n');
      expect(allLogs).not.toContain(TEST_OPAL_KEY);
      expect(allLogs).not.toContain(TEST_WEBHOOK_SECRET);
      expect(allLogs).not.toContain(TEST_OPERATOR_KEY);
    });

    it('returns the workflow live with its nine agents and every call to OPAL', async () => {
      const res = await post({ client_context: { client_name: client('Live Co') } }).expect(200);
      const got = await request(t.url)
        .get(`/api/opal/sync/${res.body.sync_id}`)
        .set(operatorHeaders())
        .expect(200);
      expect(got.body).toMatchObject({
        sync_id: res.body.sync_id,
        correlation_id: res.body.correlation_id,
        opal_workflow_id: res.body.sync_details.external_opal.workflow_id,
        workflow_name: 'strategy_workflow',
        sync_scope: 'priority_platforms',
        triggered_by: 'force_sync',
        progress: { agents_total: 9 },
        trigger: {
          attempts: 1,
          last_status_code: 200,
          last_error: null,
          next_attempt_at: null,
          history: [
            {
              attempt: 1,
              started_at: expect.any(String),
              duration_ms: expect.any(Number),
              status_code: 200,
              outcome: 'accepted',
              error: null,
            },
          ],
        },
      });
      expect(got.body.agents.map((a: { agent_id: string }) => a.agent_id)).toEqual([
        'integration_health',
        'content_review',
        'geo_audit',
        'audience_suggester',
        'experiment_blueprinter',
        'personalization_idea_generator',
        'customer_journey',
        'roadmap_generator',
        'cmp_organizer',
      ]);
      // Also found by OPAL's workflow id and by correlation id.
      const byOpal = await request(t.url)
        .get(`/api/opal/sync/${res.body.sync_details.external_opal.workflow_id}`)
        .set(operatorHeaders())
        .expect(200);
      expect(byOpal.body.sync_id).toBe(res.body.sync_id);
      const byCorrelation = await request(t.url)
        .get(`/api/opal/sync/${res.body.correlation_id}`)
        .set(operatorHeaders())
        .expect(200);
      expect(byCorrelation.body.sync_id).toBe(res.body.sync_id);
    });

    it('answers 404 WORKFLOW_NOT_FOUND for an unknown id and for a malformed one', async () => {
      for (const id of ['7d1f0a36-63c6-4f38-a4e9-1f7d8f0c0b55', 'not-a-uuid', 'x'.repeat(300)]) {
        const res = await request(t.url).get(`/api/opal/sync/${id}`).set(operatorHeaders()).expect(404);
        expect(res.body).toMatchObject({ success: false, code: 'WORKFLOW_NOT_FOUND' });
      }
    });

    it('requires the operator key on every route', async () => {
      await request(t.url).post('/api/opal/sync').send({}).expect(401);
      await request(t.url).get('/api/opal/sync').expect(401);
      await request(t.url).get('/api/opal/syncs').expect(401);
      await request(t.url).get('/api/opal/sync/7d1f0a36-63c6-4f38-a4e9-1f7d8f0c0b55').expect(401);
    });
  });

  describe('validation', () => {
    const expectInvalid = async (body: unknown, fields: string[], headers: Record<string, string> = {}) => {
      const before = (await t.dataSource.query(`SELECT count(*)::int AS n FROM workflows`))[0].n;
      const res = await post(body, headers).expect(400);
      expect(res.body).toMatchObject({ success: false, error: 'Bad Request', code: 'VALIDATION_FAILED' });
      const reported = (res.body.details as { field: string }[]).map((d) => d.field);
      for (const field of fields) expect(reported).toContain(field);
      const after = (await t.dataSource.query(`SELECT count(*)::int AS n FROM workflows`))[0].n;
      expect(after).toBe(before);
      return res.body.details as { field: string; message: string }[];
    };

    it('lists each invalid field', async () => {
      const details = await expectInvalid(
        {
          sync_scope: 'everything',
          include_rag_update: 'yes',
          triggered_by: 'x'.repeat(101),
          allow_concurrent: 'true',
        },
        ['sync_scope', 'include_rag_update', 'triggered_by', 'allow_concurrent'],
      );
      expect(details.every((d) => typeof d.message === 'string' && d.message.length > 0)).toBe(true);
    });

    it('refuses unknown fields, also nested ones', async () => {
      const details = await expectInvalid({ surprise: 1, client_context: { nickname: 'x' } }, [
        'surprise',
        'client_context.nickname',
      ]);
      expect(details).toContainEqual({ field: 'surprise', message: 'unknown field' });
    });

    it('checks the client context: e-mails, their number and the lengths', async () => {
      await expectInvalid({ client_context: { recipients: ['not-an-email'] } }, [
        'client_context.recipients',
      ]);
      await expectInvalid(
        { client_context: { recipients: Array.from({ length: 51 }, (_, i) => `r${i}@acme.example`) } },
        ['client_context.recipients'],
      );
      await expectInvalid({ client_context: { client_name: 'x'.repeat(201), industry: 'y'.repeat(101) } }, [
        'client_context.client_name',
        'client_context.industry',
      ]);
      await expectInvalid({ client_context: 'ACME' }, ['client_context']);
    });

    it('refuses metadata over 8 KiB and metadata that is not an object', async () => {
      await expectInvalid({ metadata: { blob: 'x'.repeat(8 * 1024) } }, ['metadata']);
      await expectInvalid({ metadata: ['a'] }, ['metadata']);
      await post({ metadata: { blob: 'x'.repeat(8000) }, allow_concurrent: true }).expect(200);
    });

    it('refuses a malformed Idempotency-Key', async () => {
      await expectInvalid({}, ['Idempotency-Key'], { 'Idempotency-Key': 'k'.repeat(201) });
      await expectInvalid({}, ['Idempotency-Key'], { 'Idempotency-Key': 'é-not-ascii' });
    });

    it('refuses a body that is not JSON', async () => {
      const res = await request(t.url)
        .post('/api/opal/sync')
        .set(operatorHeaders())
        .set('Content-Type', 'application/json')
        .send('{"sync_scope":')
        .expect(400);
      expect(res.body.code).toBe('INVALID_JSON');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the first answer for a repeat and triggers nothing more', async () => {
      const body = { client_context: { client_name: client('Idem Co') } };
      const key = `idem-${process.pid}-${Date.now()}`;
      const first = await post(body, { 'Idempotency-Key': key }).expect(200);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const second = await post(body, { 'Idempotency-Key': key }).expect(200);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
      expect(triggersFor(first.body.sync_id)).toHaveLength(1);
      expect(await workflowCount(body.client_context.client_name)).toBe(1);
    });

    it('refuses the same key with another body (409 IDEMPOTENCY_KEY_REUSED)', async () => {
      const key = `idem-reused-${process.pid}-${Date.now()}`;
      await post({ client_context: { client_name: client('Reuse A') } }, { 'Idempotency-Key': key }).expect(
        200,
      );
      const res = await post(
        { client_context: { client_name: client('Reuse B') } },
        { 'Idempotency-Key': key },
      );
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('runs concurrent repeats of one key once', async () => {
      const body = { client_context: { client_name: client('Idem Race') } };
      const key = `idem-race-${process.pid}-${Date.now()}`;
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => post(body, { 'Idempotency-Key': key })),
      );
      const fresh = answers.filter((a) => a.status === 200 && a.headers['idempotent-replayed'] === undefined);
      expect(fresh).toHaveLength(1);
      for (const a of answers) {
        if (a.status === 409) expect(a.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
        else expect(a.body.sync_id).toBe(fresh[0].body.sync_id);
      }
      expect(await workflowCount(body.client_context.client_name)).toBe(1);
    });

    it('frees the key when nothing was created, so the request can be repeated later', async () => {
      const clientName = client('Idem Busy');
      await post({ client_context: { client_name: clientName } }).expect(200);
      const key = `idem-busy-${process.pid}-${Date.now()}`;
      const body = { client_context: { client_name: clientName } };
      const refused = await post(body, { 'Idempotency-Key': key }).expect(409);
      expect(refused.body.code).toBe('SYNC_ALREADY_ACTIVE');
      await t.dataSource.query(`UPDATE workflows SET status = 'completed' WHERE client_name = $1`, [
        clientName,
      ]);
      const accepted = await post(body, { 'Idempotency-Key': key }).expect(200);
      expect(accepted.headers['idempotent-replayed']).toBeUndefined();
    });
  });

  describe('single flight', () => {
    it('lets exactly one of 12 concurrent force syncs for one client through, across two instances', async () => {
      const second = await createTestApp({ OPAL_SIMULATOR_AGENT_DELAY_MS: '5000' });
      try {
        const clientName = client('Race Co');
        const body = { sync_scope: 'priority_platforms', client_context: { client_name: clientName } };
        const answers = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            request(i % 2 === 0 ? t.url : second.url)
              .post('/api/opal/sync')
              .set(operatorHeaders())
              .send(body),
          ),
        );
        const statuses = answers.map((a) => a.status).sort();
        expect(statuses).toEqual([200, ...Array<number>(11).fill(409)]);
        const winner = answers.find((a) => a.status === 200)!;
        for (const loser of answers.filter((a) => a.status === 409)) {
          expect(loser.body).toMatchObject({
            success: false,
            error: 'Conflict',
            code: 'SYNC_ALREADY_ACTIVE',
            details: [{ sync_id: winner.body.sync_id }],
          });
        }
        expect(await workflowCount(clientName)).toBe(1);

        // Another scope for the same client is a different sync.
        await post({ sync_scope: 'odp_only', client_context: { client_name: clientName } }).expect(200);
        // allow_concurrent starts another while one is active.
        const concurrent = await post({ ...body, allow_concurrent: true }).expect(200);
        expect(concurrent.body.sync_id).not.toBe(winner.body.sync_id);
        expect(await workflowCount(clientName)).toBe(3);
      } finally {
        await second.close();
      }
    });

    it('does not count a workflow older than the workflow timeout as active', async () => {
      const clientName = client('Stale Co');
      const first = await post({ client_context: { client_name: clientName } }).expect(200);
      await t.dataSource.query(
        `UPDATE workflows SET created_at = now() - interval '11 minutes' WHERE id = $1`,
        [first.body.sync_id],
      );
      await post({ client_context: { client_name: clientName } }).expect(200);
    });
  });

  describe('listing', () => {
    it('pages through workflows newest first with an opaque cursor', async () => {
      await resetDatabase(t.dataSource);
      const created: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await post({ client_context: { client_name: client('List Co') } }).expect(200);
        created.unshift(res.body.sync_id);
      }
      const seen: string[] = [];
      let before: string | null = null;
      for (let page = 0; page < 5; page++) {
        const query: Record<string, string | number> = { limit: 2 };
        if (before) query.before = before;
        const res = await request(t.url)
          .get('/api/opal/syncs')
          .query(query)
          .set(operatorHeaders())
          .expect(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        for (const item of res.body.items) {
          expect(item).not.toHaveProperty('agents');
          expect(item.progress.agents_total).toBe(9);
          expect(item.trigger).not.toHaveProperty('history');
          seen.push(item.sync_id);
        }
        before = res.body.next_before;
        if (!before) break;
      }
      expect(seen).toEqual(created);

      const filtered = await request(t.url)
        .get('/api/opal/syncs')
        .query({ status: 'trigger_failed' })
        .set(operatorHeaders())
        .expect(200);
      expect(filtered.body).toEqual({ items: [], next_before: null });
    });

    it('validates the query', async () => {
      for (const query of [
        { limit: 0 },
        { limit: 101 },
        { limit: 'ten' },
        { status: 'done' },
        { before: 'garbage' },
      ]) {
        const res = await request(t.url)
          .get('/api/opal/syncs')
          .query(query)
          .set(operatorHeaders())
          .expect(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
      }
      await request(t.url).get('/api/opal/syncs').query({ page: 2 }).set(operatorHeaders()).expect(400);
    });
  });

  describe('configuration report', () => {
    it('reports the configuration with secrets masked', async () => {
      const res = await request(t.url).get('/api/opal/sync').set(operatorHeaders()).expect(200);
      expect(res.body).toMatchObject({
        workflow_security: {
          allowed_workflow: 'strategy_workflow',
          blocked_workflows: ['strategy_assistant_workflow'],
          account_validation: true,
          security_note: 'ONLY strategy_workflow is permitted',
        },
        configuration: { valid: true, mode: 'simulator', environment: 'test', checks: expect.any(Array) },
        endpoint: '/api/opal/sync',
        method: 'POST',
        parameters: expect.objectContaining({ sync_scope: expect.any(Object) }),
      });
      const text = JSON.stringify(res.body);
      expect(text).not.toContain(TEST_OPAL_KEY);
      expect(text).not.toContain(TEST_WEBHOOK_SECRET);
      expect(text).not.toContain(TEST_OPERATOR_KEY);
    });
  });
});

describe('force sync with an invalid OPAL configuration (e2e)', () => {
  let t: TestApp;
  const opalUrl = 'http://127.0.0.1:9/webhooks/account-1234/hook-5678';

  beforeAll(async () => {
    t = await createTestApp({ OPAL_WEBHOOK_URL: opalUrl, OPAL_STRATEGY_WORKFLOW_AUTH_KEY: 'short-key-123' });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    // Leave no pending trigger behind for the next suite's app to pick up.
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('reports 500 CONFIGURATION_ERROR with the report, masking the key and the OPAL URL path', async () => {
    const res = await request(t.url).get('/api/opal/sync').set(operatorHeaders()).expect(500);
    expect(res.body).toMatchObject({
      success: false,
      error: 'Configuration Error',
      code: 'CONFIGURATION_ERROR',
      message: 'Environment validation failed',
      details: [{ name: 'OPAL_STRATEGY_WORKFLOW_AUTH_KEY', message: expect.any(String) }],
      workflow_security: { allowed_workflow: 'strategy_workflow' },
      configuration: { valid: false, mode: 'opal' },
      endpoint: '/api/opal/sync',
      method: 'POST',
    });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain('short-key-123');
    expect(text).not.toContain('account-1234');
  });

  it('refuses a force sync with 500 CONFIGURATION_ERROR and creates nothing', async () => {
    const res = await request(t.url).post('/api/opal/sync').set(operatorHeaders()).send({}).expect(500);
    expect(res.body).toMatchObject({
      success: false,
      error: 'Configuration Error',
      code: 'CONFIGURATION_ERROR',
      message: 'Environment validation failed',
      details: [{ name: 'OPAL_STRATEGY_WORKFLOW_AUTH_KEY' }],
    });
    expect(JSON.stringify(res.body)).not.toContain('short-key-123');
    const rows = await t.dataSource.query(`SELECT count(*)::int AS n FROM workflows`);
    expect(rows[0].n).toBe(0);
  });
});
