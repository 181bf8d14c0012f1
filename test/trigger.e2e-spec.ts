import request from 'supertest';
import { OpalTargetService } from '../src/modules/opal/opal-target.service';
import type { OpalSimulator } from '../src/modules/opal/simulator/opal-simulator';
import { createTestApp, operatorHeaders, resetDatabase, TEST_OPAL_KEY, type TestApp } from './support/app';

describe('orchestration trigger (e2e)', () => {
  let t: TestApp;
  let sim: OpalSimulator;

  beforeAll(async () => {
    t = await createTestApp({ OPAL_SIMULATOR_AGENT_DELAY_MS: '2000' });
    await resetDatabase(t.dataSource);
    sim = t.app.get(OpalTargetService).simulator!;
  });
  afterAll(async () => {
    // Leave no pending trigger behind for the next suite's app to pick up.
    await resetDatabase(t.dataSource);
    await t.close();
  });

  const trigger = (body: unknown, headers: Record<string, string> = {}) =>
    request(t.url)
      .post('/api/orchestrations/trigger')
      .set(operatorHeaders())
      .set(headers)
      .send(body as object);
  const workflowCount = async (): Promise<number> =>
    (await t.dataSource.query(`SELECT count(*)::int AS n FROM workflows`))[0].n;

  it('triggers strategy_workflow and answers 200 with the contract body', async () => {
    const res = await trigger({
      workflow_name: 'strategy_workflow',
      session_id: 'session_123',
      client_name: 'ACME Corp',
      engine_form: { industry: 'Retail', company_size: '500-1000', business_objectives: ['growth'] },
      preferences: { recipients: ['cmo@acme.example'] },
    }).expect(200);
    expect(res.body).toEqual({
      success: true,
      workflow_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      opal_workflow_id: expect.stringMatching(/^opal-wf-/),
      session_id: 'session_123',
      correlation_id: expect.stringMatching(/^force-sync-\d{13}-[0-9a-z]+$/),
      status: 'accepted',
      status_url: `/api/opal/sync/${res.body.workflow_id}`,
      message: expect.any(String),
    });
    expect(JSON.stringify(res.body)).not.toContain(sim.url);

    const sent = sim.triggers.filter((tr) => tr.idempotencyKey === res.body.workflow_id);
    expect(sent).toHaveLength(1);
    expect(sent[0].headers).toMatchObject({
      authorization: `Bearer ${TEST_OPAL_KEY}`,
      'x-correlation-id': res.body.correlation_id,
      'x-workflow-name': 'strategy_workflow',
    });
    expect(sent[0].body).toMatchObject({
      workflow_name: 'strategy_workflow',
      input_data: {
        client_name: 'ACME Corp',
        industry: 'Retail',
        recipients: ['cmo@acme.example'],
        session_id: 'session_123',
        triggered_by: 'api_trigger',
        force_sync: false,
        engine_form: { industry: 'Retail', company_size: '500-1000', business_objectives: ['growth'] },
      },
      metadata: { correlation_id: res.body.correlation_id, sync_id: res.body.workflow_id },
    });

    const got = await request(t.url).get(res.body.status_url).set(operatorHeaders()).expect(200);
    expect(got.body).toMatchObject({ sync_id: res.body.workflow_id, triggered_by: 'api_trigger' });
    const [row] = await t.dataSource.query(`SELECT source, session_id FROM workflows WHERE id = $1`, [
      res.body.workflow_id,
    ]);
    expect(row).toEqual({ source: 'orchestration_trigger', session_id: 'session_123' });
  });

  it('refuses every workflow but strategy_workflow with 400 WORKFLOW_NOT_ALLOWED and creates nothing', async () => {
    const before = await workflowCount();
    for (const name of ['strategy_assistant_workflow', 'other_workflow', 'STRATEGY_WORKFLOW']) {
      const res = await trigger({ workflow_name: name, session_id: 's-1' }).expect(400);
      expect(res.body).toMatchObject({ success: false, error: 'Bad Request', code: 'WORKFLOW_NOT_ALLOWED' });
    }
    expect(await workflowCount()).toBe(before);
  });

  it('validates the body field by field', async () => {
    const res = await trigger({
      workflow_name: 'strategy_workflow',
      session_id: '',
      engine_form: { current_capabilities: 'email', budget: 1 },
      preferences: { recipients: ['nope'] },
      extra: true,
    }).expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    const fields = (res.body.details as { field: string }[]).map((d) => d.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'session_id',
        'engine_form.current_capabilities',
        'engine_form.budget',
        'preferences.recipients',
        'extra',
      ]),
    );
    const missing = await trigger({}).expect(400);
    expect((missing.body.details as { field: string }[]).map((d) => d.field)).toEqual(
      expect.arrayContaining(['workflow_name', 'session_id']),
    );
  });

  it('replays a repeat with the same Idempotency-Key', async () => {
    const body = { workflow_name: 'strategy_workflow', session_id: 'session_idem' };
    const key = `trigger-idem-${process.pid}`;
    const first = await trigger(body, { 'Idempotency-Key': key }).expect(200);
    const second = await trigger(body, { 'Idempotency-Key': key }).expect(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(sim.triggers.filter((tr) => tr.idempotencyKey === first.body.workflow_id)).toHaveLength(1);
  });

  it('answers 202 retry_scheduled while OPAL answers 503', async () => {
    sim.setTriggerFailures(1);
    const res = await trigger({ workflow_name: 'strategy_workflow', session_id: 'session_503' }).expect(202);
    expect(res.body).toMatchObject({ success: true, status: 'retry_scheduled', opal_workflow_id: null });
  });

  it('describes the endpoint and whether it is ready', async () => {
    const res = await request(t.url).get('/api/orchestrations/trigger').set(operatorHeaders()).expect(200);
    expect(res.body).toMatchObject({
      endpoint: '/api/orchestrations/trigger',
      method: 'POST',
      allowed_workflow: 'strategy_workflow',
      blocked_workflows: ['strategy_assistant_workflow'],
      ready: true,
      mode: 'simulator',
      problems: [],
      parameters: expect.objectContaining({
        workflow_name: expect.any(String),
        session_id: expect.any(String),
      }),
    });
    expect(JSON.stringify(res.body)).not.toContain(TEST_OPAL_KEY);
    await request(t.url).get('/api/orchestrations/trigger').expect(401);
    await request(t.url).post('/api/orchestrations/trigger').send({}).expect(401);
  });
});
