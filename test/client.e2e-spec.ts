import { createOpalForceSyncClient, type OpalForceSyncClient } from '../clients/typescript/src/index';
import { createTestApp, resetDatabase, TEST_OPERATOR_KEY, type TestApp } from './support/app';
import { waitFor } from './support/wait';

// Every call goes through the generated client: this suite proves that what partners generate from
// openapi.json drives the whole flow, with typed answers and typed error bodies.
describe('generated TypeScript client (e2e)', () => {
  let t: TestApp;
  let api: OpalForceSyncClient;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
    api = createOpalForceSyncClient(`${t.url}/`, TEST_OPERATOR_KEY);
  });

  afterAll(async () => {
    await t.close();
  });

  it('force sync → workflow completed → diagnostics → replay', async () => {
    const started = await api.POST('/api/opal/sync', {
      body: {
        sync_scope: 'odp_only',
        triggered_by: 'client_e2e',
        client_context: { client_name: 'Client E2E' },
      },
      headers: { 'Idempotency-Key': `client-e2e-${Date.now()}` },
    });
    expect(started.response.status).toBe(200);
    expect(started.error).toBeUndefined();
    const syncId = started.data!.sync_id;
    expect(started.data!.sync_details.external_opal.status).toBe('accepted');
    expect(started.data!.status_url).toBe(`/api/opal/sync/${syncId}`);

    const workflow = await waitFor(async () => {
      const { data } = await api.GET('/api/opal/sync/{sync_id}', { params: { path: { sync_id: syncId } } });
      return data?.status === 'completed' ? data : null;
    }, 'the simulator workflow to complete');
    expect(workflow.progress).toEqual({
      agents_total: 9,
      agents_completed: 9,
      agents_failed: 0,
      percent: 100,
    });
    expect(workflow.agents).toHaveLength(9);
    expect(workflow.agents.every((agent) => agent.status === 'completed')).toBe(true);
    expect(workflow.sync_scope).toBe('odp_only');

    const listed = await api.GET('/api/opal/syncs', { params: { query: { status: 'completed', limit: 5 } } });
    expect(listed.data!.items.map((item) => item.sync_id)).toContain(syncId);

    const diagnostics = await api.GET('/api/diagnostics/last-webhook', {
      params: { query: { workflow_id: syncId, limit: 50 } },
    });
    expect(diagnostics.response.status).toBe(200);
    const events = diagnostics.data!.events;
    expect(events).toHaveLength(20);
    expect(events.every((event) => event.sync_id === syncId && event.processing_status === 'processed')).toBe(
      true,
    );
    expect(events.filter((event) => event.event_type === 'agent_completed')).toHaveLength(9);
    expect(events[0].event_type).toBe('workflow_completed');
    expect(diagnostics.data!.system_health.database).toBe('up');

    const replay = await api.POST('/api/orchestrations/replay', {
      body: { workflow_id: syncId, dry_run: true, replay_options: { force_reprocess: true } },
    });
    expect(replay.response.status).toBe(200);
    expect(replay.data).toMatchObject({
      success: true,
      workflow_id: syncId,
      dry_run: true,
      events_considered: 20,
      events_replayed: 20,
      resulting_state: { status: 'completed' },
    });
    // One workflow's replay, not a bulk preview: the union narrows on its fields.
    const report = replay.data!;
    if (!('resulting_state' in report)) throw new Error('expected a one-workflow replay report');
    expect(Object.values(report.resulting_state.agents)).toEqual(Array(9).fill('completed'));
  });

  it('types the contract error body for 404 and 401', async () => {
    const missing = await api.GET('/api/opal/sync/{sync_id}', {
      params: { path: { sync_id: '00000000-0000-4000-8000-000000000000' } },
    });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ success: false, code: 'WORKFLOW_NOT_FOUND' });

    const anonymous = createOpalForceSyncClient(t.url);
    const refused = await anonymous.GET('/api/opal/syncs');
    expect(refused.response.status).toBe(401);
    expect(refused.error).toMatchObject({ success: false, code: 'AUTHENTICATION_FAILED' });
    expect(refused.error!.correlation_id).toEqual(expect.any(String));
  });

  it('reads the public health and webhook receiver routes without a key', async () => {
    const anonymous = createOpalForceSyncClient(t.url);
    const ready = await anonymous.GET('/api/health/ready');
    expect(ready.data!.status).toBe('ok');
    const receiver = await anonymous.GET('/api/webhooks/opal-workflow');
    expect(receiver.data!.signature_scheme.header).toBe('X-OSA-Signature');
  });
});
