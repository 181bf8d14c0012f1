import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import request from 'supertest';
import { WebhookEventsRepository } from '../src/modules/webhooks/webhook-events.repository';
import { buildSignatureHeader } from '../src/common/signature';
import { resetDatabase, TEST_WEBHOOK_SECRET, type TestApp } from './support/app';
import { createWebhookTestApp, postSigned, WEBHOOK_PATH } from './support/webhooks';

const SIGNATURE_MESSAGE = 'Webhook signature verification failed';

function eventBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event_id: `evt-${randomUUID()}`,
    event_type: 'workflow_started',
    workflow_id: `opal-wf-${randomUUID()}`,
    workflow_name: 'strategy_workflow',
    ...extra,
  });
}

function expectSignatureRejected(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({
    success: false,
    error: 'Unauthorized',
    code: 'WEBHOOK_SIGNATURE_INVALID',
    message: SIGNATURE_MESSAGE,
    correlation_id: res.headers['x-correlation-id'],
  });
}

describe('webhook receiver (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    // The processor is not what this suite is about; the stored rows stay as the receiver wrote them.
    t = await createWebhookTestApp({ processorEnabled: false });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  const rejectedCount = async (reason: string): Promise<number> =>
    (
      await t.dataSource.query(
        `SELECT coalesce(sum(count), 0)::int AS n FROM rejected_deliveries WHERE reason = $1`,
        [reason],
      )
    )[0].n;

  describe('signature', () => {
    it('accepts a correctly signed event with 202 and stores it before answering', async () => {
      const body = eventBody({ correlation_id: 'force-sync-1-abc', timestamp: '2026-03-01T10:00:00.000Z' });
      const res = await postSigned(t.url, body).expect(202);
      expect(res.body).toEqual({
        success: true,
        event_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        correlation_id: 'force-sync-1-abc',
        processing: { status: 'queued' },
      });
      const [row] = await t.dataSource.query(
        `SELECT event_type, raw_event_type, workflow_ref, sync_id, processing_status, correlation_id, occurred_at,
                payload, idempotency_key, source_event_id
           FROM webhook_events WHERE id = $1`,
        [res.body.event_id],
      );
      const sent = JSON.parse(body);
      expect(row).toMatchObject({
        event_type: 'workflow_started',
        raw_event_type: 'workflow_started',
        workflow_ref: sent.workflow_id,
        sync_id: null,
        processing_status: 'pending',
        correlation_id: 'force-sync-1-abc',
        idempotency_key: `id:${sent.event_id}`,
        source_event_id: sent.event_id,
      });
      expect(new Date(row.occurred_at).toISOString()).toBe('2026-03-01T10:00:00.000Z');
      expect(row.payload).toEqual(sent);
    });

    it('refuses a body changed after signing', async () => {
      const signed = eventBody();
      const tampered = signed.replace('workflow_started', 'workflow_failed');
      const res = await postSigned(t.url, tampered, {
        signature: buildSignatureHeader(TEST_WEBHOOK_SECRET, signed),
      });
      expectSignatureRejected(res);
    });

    it('refuses a re-serialised body (whitespace differs from the signed bytes)', async () => {
      const signed = eventBody();
      const reserialised = JSON.stringify(JSON.parse(signed), null, 1);
      expectSignatureRejected(
        await postSigned(t.url, reserialised, {
          signature: buildSignatureHeader(TEST_WEBHOOK_SECRET, signed),
        }),
      );
    });

    it('refuses a signature made with another secret', async () => {
      expectSignatureRejected(
        await postSigned(t.url, eventBody(), { secret: 'not-the-secret-0123456789abcdef' }),
      );
    });

    it('refuses a timestamp 301 s old and accepts one 240 s old', async () => {
      expectSignatureRejected(await postSigned(t.url, eventBody(), { t: Date.now() - 301_000 }));
      await postSigned(t.url, eventBody(), { t: Date.now() - 240_000 }).expect(202);
    });

    it('refuses a timestamp 120 s in the future and accepts one 30 s ahead', async () => {
      expectSignatureRejected(await postSigned(t.url, eventBody(), { t: Date.now() + 120_000 }));
      await postSigned(t.url, eventBody(), { t: Date.now() + 30_000 }).expect(202);
    });

    it('refuses t=0 even with a correct HMAC of "0" + body', async () => {
      const body = eventBody();
      const { createHmac } = await import('node:crypto');
      const hmac = createHmac('sha256', TEST_WEBHOOK_SECRET).update('0').update(body).digest('hex');
      expectSignatureRejected(await postSigned(t.url, body, { signature: `t=0,v1=${hmac}` }));
    });

    it('refuses missing and malformed headers with the same answer', async () => {
      const body = eventBody();
      const now = Date.now();
      const good = buildSignatureHeader(TEST_WEBHOOK_SECRET, body, now);
      const hex = good.split('v1=')[1];
      const headers: (string | null)[] = [
        null,
        '',
        'garbage',
        `t=${now}`,
        `v1=${hex}`,
        `t=${now};v1=${hex}`,
        `t=${now},v1=${hex.toUpperCase()}`,
        `t=${now},v1=${hex.slice(0, 63)}`,
        `t=${now}.5,v1=${hex}`,
        `t=-${now},v1=${hex}`,
        `t=${now},t=${now},v1=${hex}`,
        `t=${now / 1000},v1=${hex}`,
        `sha256=${hex}`,
        `t=${now},v1=${hex}`.repeat(100),
      ];
      for (const signature of headers) {
        expectSignatureRejected(await postSigned(t.url, body, { signature }));
      }
    });

    it('accepts parts in any order, extra parts, and several v1 parts of which one matches', async () => {
      const body = eventBody();
      const now = Date.now();
      const hex = buildSignatureHeader(TEST_WEBHOOK_SECRET, body, now).split('v1=')[1];
      await postSigned(t.url, body, {
        signature: `v1=${'0'.repeat(64)}, v0=old, v1=${hex} ,t=${now}`,
      }).expect(202);
    });

    it('checks the signature before saying anything about the body', async () => {
      const res = await postSigned(t.url, '{broken', { secret: 'wrong-secret-0123456789abcdefghij' });
      expectSignatureRejected(res);
      const typed = await postSigned(t.url, 'plain text', { contentType: 'text/plain', signature: null });
      expectSignatureRejected(typed);
    });
  });

  describe('rotation', () => {
    let rotating: TestApp;
    const OLD = `rotation-old-${'a'.repeat(24)}`;
    const NEW = `rotation-new-${'b'.repeat(24)}`;

    beforeAll(async () => {
      rotating = await createWebhookTestApp({
        processorEnabled: false,
        overrides: { OSA_WEBHOOK_SHARED_SECRET: `${OLD}, ${NEW}` },
      });
    });
    afterAll(async () => {
      await rotating.close();
    });

    it('verifies with either of two configured secrets, and with no other', async () => {
      await postSigned(rotating.url, eventBody(), { secret: OLD }).expect(202);
      await postSigned(rotating.url, eventBody(), { secret: NEW }).expect(202);
      expectSignatureRejected(await postSigned(rotating.url, eventBody(), { secret: TEST_WEBHOOK_SECRET }));
    });
  });

  describe('body', () => {
    it('answers 413 over 1 MiB, and records the refused delivery (no body)', async () => {
      const before = await rejectedCount('payload_too_large');
      const body = eventBody({ agent_data: { blob: 'x'.repeat(1024 * 1024) } });
      const res = await postSigned(t.url, body).expect(413);
      expect(res.body).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
      expect(await rejectedCount('payload_too_large')).toBe(before + 1);
      const [row]: { last_detail: string }[] = await t.dataSource.query(
        `SELECT last_detail FROM rejected_deliveries WHERE reason = 'payload_too_large' ORDER BY last_at DESC LIMIT 1`,
      );
      expect(row.last_detail).toBe('PAYLOAD_TOO_LARGE');
      const metrics = await request(t.url).get('/metrics').expect(200);
      expect(metrics.text).toMatch(
        /webhook_events_total\{result="rejected",reason="payload_too_large"\} [1-9]/,
      );
    });

    it('accepts a body just under 1 MiB', async () => {
      const base = eventBody({
        event_type: 'agent_completed',
        agent_id: 'geo_audit',
        agent_data: { blob: '' },
      });
      const body = base.replace('"blob":""', `"blob":"${'x'.repeat(1024 * 1024 - base.length - 10)}"`);
      expect(Buffer.byteLength(body)).toBeLessThan(1024 * 1024);
      await postSigned(t.url, body).expect(202);
    });

    it('answers 415 when the signed body is not sent as JSON', async () => {
      const res = await postSigned(t.url, eventBody(), { contentType: 'text/plain' }).expect(415);
      expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      const form = await postSigned(t.url, eventBody(), { contentType: 'application/x-www-form-urlencoded' });
      expect(form.status).toBe(415);
    });

    it('answers 400 INVALID_JSON for a signed body that is not JSON', async () => {
      const res = await postSigned(t.url, '{"event_type": "workflow_started",').expect(400);
      expect(res.body.code).toBe('INVALID_JSON');
    });

    it('answers 400 VALIDATION_FAILED naming each invalid field', async () => {
      const res = await postSigned(
        t.url,
        JSON.stringify({
          event_type: 'agent_started',
          workflow_id: 42,
          agent_id: 'nobody',
          execution_status: 'finished',
          offset: -1,
          timestamp: 'not-a-time',
          error: { message: 7 },
        }),
      ).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      const fields = new Set(res.body.details.map((d: { field: string }) => d.field));
      expect([...fields].sort()).toEqual(
        ['agent_id', 'error.message', 'execution_status', 'offset', 'timestamp', 'workflow_id'].sort(),
      );
    });

    it('requires agent_id for agent events and an event type (or the tool callback fields)', async () => {
      const noAgent = await postSigned(t.url, eventBody({ event_type: 'agent_completed' })).expect(400);
      expect(noAgent.body.details).toEqual([{ field: 'agent_id', message: 'is required for agent events' }]);
      const noType = await postSigned(t.url, eventBody({ event_type: undefined })).expect(400);
      expect(noType.body.details.map((d: { field: string }) => d.field)).toEqual(['event_type']);
      const unknownType = await postSigned(t.url, eventBody({ event_type: 'agent_exploded' })).expect(400);
      expect(unknownType.body.details.map((d: { field: string }) => d.field)).toEqual(['event_type']);
    });

    it('refuses another workflow name with 400 WORKFLOW_NOT_ALLOWED', async () => {
      const res = await postSigned(t.url, eventBody({ workflow_name: 'strategy_assistant_workflow' })).expect(
        400,
      );
      expect(res.body.code).toBe('WORKFLOW_NOT_ALLOWED');
    });

    it('stores aliases normalised, and keeps fields it does not know in the payload', async () => {
      const res = await postSigned(
        t.url,
        eventBody({ event_type: 'agent.failed', agent_id: 'geo_audit', opal_future_field: { a: 1 } }),
      ).expect(202);
      const [row] = await t.dataSource.query(
        `SELECT event_type, raw_event_type, status, payload FROM webhook_events WHERE id = $1`,
        [res.body.event_id],
      );
      expect(row).toMatchObject({
        event_type: 'agent_completed',
        raw_event_type: 'agent.failed',
        status: 'failed',
      });
      expect(row.payload.opal_future_field).toEqual({ a: 1 });
    });

    it("accepts OPAL's tool callback without event_type", async () => {
      const res = await postSigned(
        t.url,
        JSON.stringify({
          workflow_id: `opal-wf-${randomUUID()}`,
          agent_id: 'content_review',
          execution_status: 'timeout',
        }),
      ).expect(202);
      const [row] = await t.dataSource.query(
        `SELECT event_type, status, execution_status FROM webhook_events WHERE id = $1`,
        [res.body.event_id],
      );
      expect(row).toEqual({ event_type: 'agent_completed', status: 'failed', execution_status: 'timeout' });
    });
  });

  describe('idempotency', () => {
    it('stores one of 40 concurrent deliveries of one event; the others get 409 naming it', async () => {
      const body = eventBody({
        event_type: 'agent_completed',
        agent_id: 'geo_audit',
        execution_status: 'success',
      });
      const eventId = JSON.parse(body).event_id;
      const responses = await Promise.all(Array.from({ length: 40 }, () => postSigned(t.url, body)));
      const accepted = responses.filter((r) => r.status === 202);
      const duplicates = responses.filter((r) => r.status === 409);
      expect(accepted).toHaveLength(1);
      expect(duplicates).toHaveLength(39);
      const storedId = accepted[0].body.event_id;
      for (const dup of duplicates) {
        expect(dup.body).toMatchObject({
          code: 'WEBHOOK_DUPLICATE_EVENT',
          details: [{ event_id: storedId }],
        });
      }
      const rows = await t.dataSource.query(`SELECT id FROM webhook_events WHERE source_event_id = $1`, [
        eventId,
      ]);
      expect(rows).toEqual([{ id: storedId }]);
    });

    it('stores concurrent deliveries written together, and confines an unstorable one to its own 400', async () => {
      const workflowId = `opal-wf-${randomUUID()}`;
      const bodies = Array.from({ length: 30 }, (_, i) =>
        eventBody({ workflow_id: workflowId, event_id: `evt-batch-${workflowId}-${i}` }),
      );
      // PostgreSQL refuses NUL in jsonb: the statement of a batch holding this event fails as a whole.
      const unstorable = eventBody({ workflow_id: workflowId, environment: 'prod\u0000uction' });
      const duplicate = bodies[7];
      // A pool of two connections allows one batch in flight, so the deliveries queue up and share batches.
      const small = await createWebhookTestApp({ processorEnabled: false, overrides: { DB_POOL_SIZE: '2' } });
      let responses: request.Response[];
      try {
        responses = await Promise.all(
          [...bodies.slice(0, 15), unstorable, duplicate, ...bodies.slice(15)].map((body) =>
            postSigned(small.url, body),
          ),
        );
      } finally {
        await small.close();
      }
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 202)).toHaveLength(30);
      expect(statuses.filter((s) => s === 409)).toHaveLength(1);
      expect(responses[16].body).toMatchObject({
        code: 'WEBHOOK_DUPLICATE_EVENT',
        details: [{ event_id: responses[7].body.event_id }],
      });
      expect(responses[15].status).toBe(400);
      expect(responses[15].body.code).toBe('VALIDATION_FAILED');

      const rows: { id: string; source_event_id: string }[] = await t.dataSource.query(
        `SELECT id, source_event_id FROM webhook_events WHERE workflow_ref = $1 ORDER BY sequence`,
        [workflowId],
      );
      const acceptedIds = responses.filter((r) => r.status === 202).map((r) => r.body.event_id as string);
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(acceptedIds));
      expect(new Set(rows.map((r) => r.source_event_id))).toEqual(
        new Set(bodies.map((b) => JSON.parse(b).event_id as string)),
      );
    });

    it('names the stored event of a duplicate from the insert itself, without a lookup of its own', async () => {
      const body = eventBody({ workflow_id: `opal-wf-${randomUUID()}` });
      const stored = await postSigned(t.url, body).expect(202);
      const lookup = jest.spyOn(t.app.get(WebhookEventsRepository), 'idOfKey');
      try {
        const again = await postSigned(t.url, body).expect(409);
        expect(again.body.details).toEqual([{ event_id: stored.body.event_id }]);
        expect(lookup).not.toHaveBeenCalled();
      } finally {
        lookup.mockRestore();
      }
    });

    it('treats identical bodies without event_id as duplicates, also with keys reordered', async () => {
      const workflowId = `opal-wf-${randomUUID()}`;
      const first = JSON.stringify({
        event_type: 'agent_completed',
        workflow_id: workflowId,
        agent_id: 'geo_audit',
        agent_data: { summary: 'done', scores: { a: 1, b: [1, { deep: true }] } },
      });
      const reordered = JSON.stringify({
        agent_data: { scores: { b: [1, { deep: true }], a: 1 }, summary: 'done' },
        agent_id: 'geo_audit',
        workflow_id: workflowId,
        event_type: 'agent_completed',
      });
      const stored = await postSigned(t.url, first).expect(202);
      const again = await postSigned(t.url, first).expect(409);
      expect(again.body.details).toEqual([{ event_id: stored.body.event_id }]);
      const reorderedRes = await postSigned(t.url, reordered).expect(409);
      expect(reorderedRes.body.details).toEqual([{ event_id: stored.body.event_id }]);

      const deepDifference = first.replace('"deep":true', '"deep":false');
      await postSigned(t.url, deepDifference).expect(202);
      const rows = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM webhook_events WHERE workflow_ref = $1`,
        [workflowId],
      );
      expect(rows[0].n).toBe(2);
    });
  });

  describe('rejected deliveries and receiver status', () => {
    beforeAll(async () => {
      await resetDatabase(t.dataSource);
    });

    it('reports a healthy, empty receiver', async () => {
      const res = await request(t.url).get(WEBHOOK_PATH).expect(200);
      expect(res.body).toEqual({
        status: 'healthy',
        signature_scheme: {
          header: 'X-OSA-Signature',
          format: 't=<ms>,v1=<hex hmac-sha256>',
          tolerance_seconds: 300,
        },
        recent_activity: {
          events_24h: 0,
          failed_24h: 0,
          rejected_24h: 0,
          last_event_at: null,
          signature_failure_rate_1h: 0,
        },
      });
    });

    it('keeps 200 bad-signature deliveries from one address as at most two counter rows, without bodies', async () => {
      const body = eventBody();
      const responses: number[] = [];
      for (let batch = 0; batch < 10; batch++) {
        const results = await Promise.all(
          Array.from({ length: 20 }, () =>
            postSigned(t.url, body, { secret: 'attacker-guess-0123456789abcdefgh' }),
          ),
        );
        responses.push(...results.map((r) => r.status));
      }
      expect(responses.every((s) => s === 401)).toBe(true);
      const rows: { reason: string; count: number; last_detail: string; client_ip: string }[] =
        await t.dataSource.query(
          `SELECT reason, count, last_detail, client_ip FROM rejected_deliveries WHERE reason = 'signature_invalid'`,
        );
      expect(rows.length).toBeGreaterThanOrEqual(1);
      expect(rows.length).toBeLessThanOrEqual(2);
      expect(rows.reduce((sum, r) => sum + r.count, 0)).toBe(200);
      for (const row of rows) {
        expect(row.last_detail).toBe('no_matching_signature');
        expect(row.client_ip).toMatch(/127\.0\.0\.1/);
      }
    });

    it('records body rejections by reason, with field names only', async () => {
      await postSigned(t.url, eventBody({ workflow_id: 5 })).expect(400);
      await postSigned(t.url, '{nope').expect(400);
      await postSigned(t.url, eventBody(), { contentType: 'text/plain' }).expect(415);
      await postSigned(t.url, eventBody({ workflow_name: 'other_workflow' })).expect(400);
      const rows: { reason: string; count: number; last_detail: string }[] = await t.dataSource.query(
        `SELECT reason, sum(count)::int AS count, max(last_detail) AS last_detail FROM rejected_deliveries
          WHERE reason <> 'signature_invalid' GROUP BY reason ORDER BY reason`,
      );
      expect(rows).toEqual([
        { reason: 'body_invalid', count: 2, last_detail: expect.any(String) },
        { reason: 'unsupported_media_type', count: 1, last_detail: 'UNSUPPORTED_MEDIA_TYPE' },
        { reason: 'workflow_not_allowed', count: 1, last_detail: 'WORKFLOW_NOT_ALLOWED: workflow_name' },
      ]);
      const details = await t.dataSource.query(`SELECT last_detail FROM rejected_deliveries`);
      for (const { last_detail } of details) expect(last_detail).not.toContain('opal-wf-');
    });

    it('reports the figures of the last hour and day', async () => {
      for (let i = 0; i < 3; i++) await postSigned(t.url, eventBody()).expect(202);
      const res = await request(t.url).get(WEBHOOK_PATH).expect(200);
      // 200 signature failures of the hour's 207 deliveries (3 stored, 204 refused).
      expect(res.body.status).toBe('unhealthy');
      expect(res.body.recent_activity).toEqual({
        events_24h: 3,
        failed_24h: 0,
        rejected_24h: 204,
        last_event_at: expect.any(String),
        signature_failure_rate_1h: Math.round((100 * 200 * 100) / 207) / 100,
      });
      expect(Date.now() - Date.parse(res.body.recent_activity.last_event_at)).toBeLessThan(60_000);
    });

    it('turns degraded for a moderate signature failure rate, and counts failed processing', async () => {
      await resetDatabase(t.dataSource);
      for (let i = 0; i < 9; i++) await postSigned(t.url, eventBody()).expect(202);
      await postSigned(t.url, eventBody(), { secret: 'attacker-guess-0123456789abcdefgh' }).expect(401);
      let res = await request(t.url).get(WEBHOOK_PATH).expect(200);
      expect(res.body.recent_activity.signature_failure_rate_1h).toBe(10);
      expect(res.body.status).toBe('healthy');
      await postSigned(t.url, eventBody(), { secret: 'attacker-guess-0123456789abcdefgh' }).expect(401);
      res = await request(t.url).get(WEBHOOK_PATH).expect(200);
      expect(res.body.status).toBe('degraded');

      await resetDatabase(t.dataSource);
      for (let i = 0; i < 3; i++) await postSigned(t.url, eventBody()).expect(202);
      await t.dataSource.query(
        `UPDATE webhook_events SET processing_status = 'failed', processing_error = 'x'
          WHERE sequence = (SELECT min(sequence) FROM webhook_events)`,
      );
      res = await request(t.url).get(WEBHOOK_PATH).expect(200);
      expect(res.body.status).toBe('degraded');
      expect(res.body.recent_activity.failed_24h).toBe(1);
    });
  });
});
