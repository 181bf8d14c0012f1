import { AppError } from '../../common/app-error';
import { fieldProblems, hasValidFields, idempotencyKeyOf, parseWebhookEvent } from './webhook-event.parser';

async function failure(body: unknown): Promise<AppError> {
  try {
    await parseWebhookEvent(body);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the body to be refused');
}

function fieldsOf(error: AppError): string[] {
  return [...new Set((error.details ?? []).map((d) => d.field as string))].sort();
}

describe('idempotencyKeyOf', () => {
  const body = {
    event_type: 'agent_completed',
    workflow_id: 'wf-1',
    agent_id: 'geo_audit',
    agent_data: { summary: 'ok', nested: { a: 1, b: [1, 2, { c: 'x' }] } },
  };

  it('uses event_id when present, in its own key space', () => {
    expect(idempotencyKeyOf({ ...body, event_id: 'evt-1' })).toBe('id:evt-1');
    const hashLike = idempotencyKeyOf(body);
    expect(hashLike).toMatch(/^sha256:[0-9a-f]{64}$/);
    // An event_id that spells out another body's key stays a different key.
    expect(idempotencyKeyOf({ ...body, event_id: hashLike })).not.toBe(hashLike);
  });

  it('gives the same key to bodies that differ only in key order, at every depth', () => {
    const reordered = {
      agent_data: { nested: { b: [1, 2, { c: 'x' }], a: 1 }, summary: 'ok' },
      agent_id: 'geo_audit',
      workflow_id: 'wf-1',
      event_type: 'agent_completed',
    };
    expect(idempotencyKeyOf(reordered)).toBe(idempotencyKeyOf(body));
  });

  it('gives different keys to bodies that differ deep inside agent_data', () => {
    const deeper = { ...body, agent_data: { summary: 'ok', nested: { a: 1, b: [1, 2, { c: 'y' }] } } };
    expect(idempotencyKeyOf(deeper)).not.toBe(idempotencyKeyOf(body));
    const reorderedArray = {
      ...body,
      agent_data: { summary: 'ok', nested: { a: 1, b: [2, 1, { c: 'x' }] } },
    };
    expect(idempotencyKeyOf(reorderedArray)).not.toBe(idempotencyKeyOf(body));
  });

  it('ignores an empty event_id (falls back to the body hash)', () => {
    expect(idempotencyKeyOf({ ...body, event_id: '' })).toMatch(/^sha256:/);
  });
});

describe('parseWebhookEvent', () => {
  it('normalises a full agent event and keeps unknown fields in the payload', async () => {
    const body = {
      event_id: 'evt-7',
      event_type: 'agent.failed',
      workflow_id: 'opal-wf-1',
      workflow_name: 'strategy_workflow',
      agent_id: 'geo_audit',
      execution_status: 'failure',
      timestamp: '2026-01-02T03:04:05.678Z',
      error: { code: 'E1', message: 'boom' },
      metadata: { correlation_id: 'force-sync-1-abc' },
      offset: 3,
      opal_added_this_later: { x: 1 },
    };
    const parsed = await parseWebhookEvent(body);
    expect(parsed).toMatchObject({
      idempotencyKey: 'id:evt-7',
      sourceEventId: 'evt-7',
      eventType: 'agent_completed',
      rawEventType: 'agent.failed',
      status: 'failed',
      workflowRef: 'opal-wf-1',
      workflowName: 'strategy_workflow',
      agentId: 'geo_audit',
      executionStatus: 'failure',
      correlationId: 'force-sync-1-abc',
      errorMessage: 'boom',
    });
    expect(parsed.occurredAt?.toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect(parsed.payload).toBe(body);
  });

  it("reads OPAL's tool callback (no event_type)", async () => {
    const parsed = await parseWebhookEvent({
      workflow_id: 'w',
      agent_id: 'cmp_organizer',
      execution_status: 'success',
    });
    expect(parsed.eventType).toBe('agent_completed');
    expect(parsed.status).toBe('success');
    expect(parsed.rawEventType).toBeNull();
    expect(parsed.occurredAt).toBeNull();
  });

  it('prefers the top-level correlation_id over metadata', async () => {
    const parsed = await parseWebhookEvent({
      event_type: 'workflow_started',
      workflow_id: 'w',
      correlation_id: 'top',
      metadata: { correlation_id: 'nested' },
    });
    expect(parsed.correlationId).toBe('top');
  });

  it('refuses another workflow name with WORKFLOW_NOT_ALLOWED', async () => {
    const error = await failure({
      event_type: 'workflow_started',
      workflow_id: 'w',
      workflow_name: 'strategy_assistant_workflow',
    });
    expect(error.code).toBe('WORKFLOW_NOT_ALLOWED');
  });

  it.each<[string, unknown, string[]]>([
    ['not an object', [1, 2], ['body']],
    ['a string', 'hello', ['body']],
    ['empty object', {}, ['event_type', 'workflow_id']],
    ['unknown event type', { event_type: 'agent_done', workflow_id: 'w' }, ['event_type']],
    ['agent event without agent', { event_type: 'agent_started', workflow_id: 'w' }, ['agent_id']],
    ['unknown agent', { event_type: 'agent_started', workflow_id: 'w', agent_id: 'nobody' }, ['agent_id']],
    [
      'wrong types everywhere',
      {
        event_type: 5,
        workflow_id: 'x'.repeat(201),
        execution_status: 'done',
        event_id: 7,
        agent_data: 'text',
        offset: -1,
        timestamp: 'yesterday',
        correlation_id: 3,
        environment: [],
        error: { message: 5 },
        metadata: 'm',
      },
      [
        'agent_data',
        'correlation_id',
        'environment',
        'error.message',
        'event_id',
        'event_type',
        'execution_status',
        'metadata',
        'offset',
        'timestamp',
        'workflow_id',
      ],
    ],
    ['fractional offset', { event_type: 'workflow_started', workflow_id: 'w', offset: 1.5 }, ['offset']],
    [
      'impossible date',
      { event_type: 'workflow_started', workflow_id: 'w', timestamp: '2026-02-30T00:00:00Z' },
      ['timestamp'],
    ],
    [
      'an offset PostgreSQL refuses',
      { event_type: 'workflow_started', workflow_id: 'w', timestamp: '2026-01-01T00:00:00+23:59' },
      ['timestamp'],
    ],
    [
      'a time past the year 9999 in UTC',
      { event_type: 'workflow_started', workflow_id: 'w', timestamp: '9999-12-31T23:59:59-15:00' },
      ['timestamp'],
    ],
  ])('%s → VALIDATION_FAILED naming each field', async (_name, body, fields) => {
    const error = await failure(body);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(fieldsOf(error)).toEqual(fields);
  });

  it('accepts a null offset', async () => {
    await expect(
      parseWebhookEvent({ event_type: 'workflow_started', workflow_id: 'w', offset: null }),
    ).resolves.toMatchObject({
      eventType: 'workflow_started',
    });
  });
});

describe('hasValidFields', () => {
  /** Values each field may take in the corpus: valid ones, invalid ones, and the edges between. */
  const long = (n: number) => 'x'.repeat(n);
  const strings = [
    '',
    'a',
    long(100),
    long(101),
    long(200),
    long(201),
    '😀'.repeat(150),
    5,
    true,
    null,
    [],
    {},
  ];
  const candidates: Record<string, unknown[]> = {
    event_type: [...strings, 'agent_completed'],
    workflow_id: [...strings, 'opal-wf-1'],
    workflow_name: [...strings, 'strategy_workflow'],
    agent_id: ['geo_audit', 'content_review', 'GEO_AUDIT', '', 3, null, ['geo_audit']],
    execution_status: ['success', 'failure', 'pending', 'timeout', 'done', null, 1],
    event_id: [...strings, 'evt-1'],
    agent_data: [{}, { a: 1 }, [], 'text', 0, null, [{ a: 1 }]],
    offset: [0, 1, -1, 1.5, '1', null, 2 ** 53, Number.MAX_SAFE_INTEGER + 2],
    timestamp: [
      '2026-03-02T10:15:30.000Z',
      '2026-03-02',
      '2026-02-30T10:00:00Z',
      '2024-02-29T10:00:00Z',
      '2026-03-02T10:15:30+23:59',
      '2026-03-02T10:15:30-15:59',
      '9999-12-31T23:59:59-15:00',
      '2026-W01-1',
      '20260302T101530Z',
      '2026-03-02T10:15:30',
      'yesterday',
      '',
      1700000000000,
      null,
    ],
    correlation_id: [...strings, 'force-sync-1-abc'],
    environment: [...strings, 'production'],
    error: [
      {},
      { code: 'E', message: 'failed' },
      { code: long(201) },
      { message: long(2000) },
      { message: long(2001) },
      { code: 5 },
      { message: null },
      [],
      [{ code: 'E' }],
      'failed',
      0,
      null,
    ],
    metadata: [{}, { correlation_id: 'c' }, [], 'm', 1, null],
  };

  /** A small deterministic generator (mulberry32), so a failure names a body that can be reproduced. */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('agrees with class-validator on WebhookEventDto for every body of a generated corpus', async () => {
    const next = random(20261128);
    let valid = 0;
    for (let i = 0; i < 4000; i += 1) {
      const body: Record<string, unknown> = { workflow_id: 'opal-wf-1' };
      // Mostly one or two fields away from a valid body, where disagreements would hide.
      const changes = next() < 0.3 ? Object.keys(candidates).length : 1 + Math.floor(next() * 2);
      for (let c = 0; c < changes; c += 1) {
        const fields = Object.keys(candidates);
        const field = fields[Math.floor(next() * fields.length)];
        if (next() < 0.15) delete body[field];
        else body[field] = candidates[field][Math.floor(next() * candidates[field].length)];
      }
      const problems = await fieldProblems(body);
      if (hasValidFields(body) !== (problems.length === 0)) {
        throw new Error(`disagreement on ${JSON.stringify(body)}: ${JSON.stringify(problems)}`);
      }
      if (problems.length === 0) valid += 1;
    }
    // Both outcomes are well represented, or the agreement would prove little.
    expect(valid).toBeGreaterThan(400);
    expect(valid).toBeLessThan(3600);
  });
});
