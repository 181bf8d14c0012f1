import { buildTriggerPayload, newSpanId, triggerInputsOf } from './trigger-payload';
import type { TriggerPayloadInput } from './trigger-payload';

const base: TriggerPayloadInput = {
  syncId: '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11',
  correlationId: 'force-sync-1732800000000-k3j9x2a1',
  spanId: '0123456789abcdef',
  clientName: 'ACME Corp',
  industry: 'Retail',
  recipients: ['ops@acme.test'],
  syncScope: 'priority_platforms',
  includeRagUpdate: true,
  triggeredBy: 'force_sync',
  forceSync: true,
  callbackUrl: 'http://localhost:3000/api/webhooks/opal-workflow',
  workspaceId: 'ws-1',
  triggerTimestamp: new Date('2026-01-02T03:04:05.678Z'),
};

describe('buildTriggerPayload', () => {
  it('builds the body of contract section 4', () => {
    expect(buildTriggerPayload(base)).toEqual({
      workflow_name: 'strategy_workflow',
      input_data: {
        client_name: 'ACME Corp',
        industry: 'Retail',
        recipients: ['ops@acme.test'],
        sync_scope: 'priority_platforms',
        platforms: ['ODP', 'Content Recommendations', 'CMS PaaS', 'CMP'],
        include_rag_update: true,
        triggered_by: 'force_sync',
        force_sync: true,
      },
      metadata: {
        trigger_timestamp: '2026-01-02T03:04:05.678Z',
        correlation_id: 'force-sync-1732800000000-k3j9x2a1',
        span_id: '0123456789abcdef',
        sync_id: '0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11',
        workspace_id: 'ws-1',
        source_system: 'OSA-ForceSync',
        callback_url: 'http://localhost:3000/api/webhooks/opal-workflow',
      },
    });
  });

  it('maps each scope to its platforms', () => {
    expect(buildTriggerPayload({ ...base, syncScope: 'all_platforms' }).input_data.platforms).toEqual([
      'ODP',
      'Content Recommendations',
      'CMS PaaS',
      'CMP',
      'WebX',
    ]);
    expect(buildTriggerPayload({ ...base, syncScope: 'odp_only' }).input_data.platforms).toEqual(['ODP']);
    expect(buildTriggerPayload({ ...base, syncScope: 'content_platforms' }).input_data.platforms).toEqual([
      'Content Recommendations',
      'CMS PaaS',
      'CMP',
    ]);
  });

  it('nests client metadata so that it can never override the service fields', () => {
    const hostile = {
      correlation_id: 'evil',
      span_id: 'evil',
      source_system: 'evil',
      sync_id: 'evil',
      callback_url: 'http://evil.test/',
      __proto__: { correlation_id: 'evil' },
      note: 'kept',
    };
    const payload = buildTriggerPayload({ ...base, clientMetadata: hostile });
    expect(payload.metadata.correlation_id).toBe(base.correlationId);
    expect(payload.metadata.span_id).toBe(base.spanId);
    expect(payload.metadata.source_system).toBe('OSA-ForceSync');
    expect(payload.metadata.sync_id).toBe(base.syncId);
    expect(payload.metadata.callback_url).toBe(base.callbackUrl);
    expect(payload.metadata.client_metadata).toMatchObject({ correlation_id: 'evil', note: 'kept' });
    expect(Object.keys(payload.metadata)).toEqual([
      'trigger_timestamp',
      'correlation_id',
      'span_id',
      'sync_id',
      'workspace_id',
      'source_system',
      'callback_url',
      'client_metadata',
    ]);
  });

  it('copies caller data, so later changes to the input do not alter the stored payload', () => {
    const clientMetadata = { nested: { a: 1 } };
    const recipients = ['a@b.test'];
    const payload = buildTriggerPayload({ ...base, clientMetadata, recipients });
    clientMetadata.nested.a = 2;
    recipients.push('c@d.test');
    expect(payload.metadata.client_metadata).toEqual({ nested: { a: 1 } });
    expect(payload.input_data.recipients).toEqual(['a@b.test']);
  });

  it('omits optional parts that are absent or empty', () => {
    const payload = buildTriggerPayload({ ...base, workspaceId: null, clientMetadata: {} });
    expect(payload.metadata).not.toHaveProperty('workspace_id');
    expect(payload.metadata).not.toHaveProperty('client_metadata');
    expect(payload.input_data).not.toHaveProperty('session_id');
    expect(payload.input_data).not.toHaveProperty('engine_form');
  });

  it('carries the session id and engine form of an orchestration trigger', () => {
    const payload = buildTriggerPayload({
      ...base,
      forceSync: false,
      triggeredBy: 'api_trigger',
      sessionId: 'session_123',
      engineForm: { industry: 'Retail', business_objectives: ['growth'] },
    });
    expect(payload.input_data).toMatchObject({
      session_id: 'session_123',
      force_sync: false,
      triggered_by: 'api_trigger',
      engine_form: { industry: 'Retail', business_objectives: ['growth'] },
    });
  });
});

describe('newSpanId', () => {
  it('is 16 lowercase hex characters and fresh each time', () => {
    const a = newSpanId();
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(newSpanId()).not.toBe(a);
  });
});

describe('triggerInputsOf', () => {
  const fallback = {
    clientName: 'row client',
    syncScope: 'all_platforms' as const,
    triggeredBy: 'row',
    sessionId: null,
  };

  it("reads back exactly the caller's choices of a built body (a rerun sends them again)", () => {
    const body = buildTriggerPayload({
      ...base,
      syncScope: 'odp_only',
      includeRagUpdate: false,
      sessionId: 'session-7',
      engineForm: { industry: 'Retail', goals: ['a'] },
      clientMetadata: { ticket: 'OPS-1' },
    });
    expect(triggerInputsOf(JSON.parse(JSON.stringify(body)), fallback)).toEqual({
      clientName: 'ACME Corp',
      industry: 'Retail',
      recipients: ['ops@acme.test'],
      syncScope: 'odp_only',
      includeRagUpdate: false,
      triggeredBy: 'force_sync',
      sessionId: 'session-7',
      engineForm: { industry: 'Retail', goals: ['a'] },
      clientMetadata: { ticket: 'OPS-1' },
    });
  });

  it('takes the row when the stored body lacks a field or has the wrong type', () => {
    expect(
      triggerInputsOf({ input_data: { client_name: 7, sync_scope: 'nowhere', recipients: 'x' } }, fallback),
    ).toEqual({
      clientName: 'row client',
      industry: null,
      recipients: [],
      syncScope: 'all_platforms',
      includeRagUpdate: null,
      triggeredBy: 'row',
      sessionId: null,
      engineForm: null,
      clientMetadata: null,
    });
    expect(triggerInputsOf(null, fallback).clientName).toBe('row client');
  });
});
