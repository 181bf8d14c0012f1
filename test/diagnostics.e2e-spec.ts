import request from 'supertest';
import { OPAL_AGENTS } from '../src/domain/opal';
import { operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { createSeededTestApp, seedEvent, seedEventStream, seedRejected, seedWorkflow } from './support/seed';

const PATH = '/api/diagnostics/last-webhook';

describe('diagnostics: GET /api/diagnostics/last-webhook (e2e)', () => {
  let t: TestApp;
  const get = (query: string) => request(t.url).get(`${PATH}${query}`).set(operatorHeaders());

  beforeAll(async () => {
    t = await createSeededTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  describe('filters over realistic event streams', () => {
    let done: Awaited<ReturnType<typeof seedWorkflow>>;
    let partial: Awaited<ReturnType<typeof seedWorkflow>>;
    let streamDone: Awaited<ReturnType<typeof seedEventStream>>;
    let streamPartial: Awaited<ReturnType<typeof seedEventStream>>;
    let orphans: Awaited<ReturnType<typeof seedEventStream>>;

    beforeAll(async () => {
      await resetDatabase(t.dataSource);
      done = await seedWorkflow(t.dataSource, { status: 'completed', createdMinutesAgo: 180 });
      streamDone = await seedEventStream(t.dataSource, done, { receivedMinutesAgo: 170 });
      partial = await seedWorkflow(t.dataSource, { status: 'partially_completed', createdMinutesAgo: 30 });
      streamPartial = await seedEventStream(t.dataSource, partial, {
        failAgents: ['content_review', 'roadmap_generator'],
        receivedMinutesAgo: 20,
      });
      // Callbacks for a workflow this service does not know (yet): stored unmatched.
      orphans = await seedEventStream(
        t.dataSource,
        {
          id: '00000000-0000-4000-8000-000000000000',
          correlationId: 'force-sync-1-orphan',
          opalWorkflowId: 'opal-orphan-1',
        },
        { agents: 2, linked: false, processingStatus: 'unmatched', receivedMinutesAgo: 5 },
      );
    });

    it('lists every event newest first with the contract fields', async () => {
      const res = await get('?limit=500').expect(200);
      const total = streamDone.length + streamPartial.length + orphans.length;
      expect(res.body.summary).toEqual({
        matched_count: total,
        matched_count_capped: false,
        returned_count: total,
      });
      expect(res.body.pagination).toEqual({ limit: 500, next_before: null });
      const sequences = res.body.events.map((e: { sequence: number }) => e.sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => b - a));
      const failedEvent = streamPartial.find(
        (e) => e.agentId === 'content_review' && e.eventType === 'agent_completed',
      )!;
      const shown = res.body.events.find((e: { event_id: string }) => e.event_id === failedEvent.id);
      expect(shown).toEqual({
        event_id: failedEvent.id,
        sequence: failedEvent.sequence,
        event_type: 'agent_completed',
        workflow_id: partial.opalWorkflowId,
        sync_id: partial.id,
        workflow_name: 'strategy_workflow',
        agent_id: 'content_review',
        status: 'failed',
        execution_status: 'failure',
        received_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        processed_at: expect.any(String),
        processing_status: 'processed',
        processing_time_ms: 5,
        signature_valid: true,
        correlation_id: partial.correlationId,
        error_message: 'content_review failed: upstream timeout',
      });
      expect(shown.payload).toBeUndefined();
    });

    it('status=failed&event_type=agent_completed lists the agents that finished unsuccessfully', async () => {
      const res = await get('?status=failed&event_type=agent_completed').expect(200);
      expect(res.body.events.map((e: { agent_id: string }) => e.agent_id)).toEqual([
        'roadmap_generator',
        'content_review',
      ]);
      expect(res.body.summary.matched_count).toBe(2);
    });

    it('filters by status, event type (dotted forms and aliases) and agent', async () => {
      const success = await get('?status=success&limit=500').expect(200);
      expect(success.body.events.every((e: { status: string }) => e.status === 'success')).toBe(true);
      expect(success.body.summary.matched_count).toBe(
        streamDone.length + streamPartial.length + orphans.length - 2,
      );
      const all = await get('?status=all&limit=1').expect(200);
      expect(all.body.summary.matched_count).toBe(streamDone.length + streamPartial.length + orphans.length);

      for (const form of ['agent.completed', 'agent_completed', 'AGENT.COMPLETED', 'agent_failed']) {
        const res = await get(`?event_type=${encodeURIComponent(form)}&limit=500`).expect(200);
        expect(res.body.events.every((e: { event_type: string }) => e.event_type === 'agent_completed')).toBe(
          true,
        );
        expect(res.body.summary.matched_count).toBe(9 + 9 + 2);
      }
      const started = await get('?event_type=workflow.triggered').expect(200);
      expect(started.body.summary.matched_count).toBe(3);

      const agent = await get('?agent_id=geo_audit').expect(200);
      expect(agent.body.summary.matched_count).toBe(4);
      expect(agent.body.events.every((e: { agent_id: string }) => e.agent_id === 'geo_audit')).toBe(true);
    });

    it('workflow=strategy_workflow lists every event; a sync id, OPAL id or correlation id lists that workflow', async () => {
      const byName = await get('?workflow=strategy_workflow&limit=10').expect(200);
      expect(byName.body.summary.matched_count).toBe(
        streamDone.length + streamPartial.length + orphans.length,
      );
      expect(byName.body.summary.returned_count).toBe(10);

      for (const ref of [partial.id, partial.opalWorkflowId!, partial.correlationId]) {
        const res = await get(`?workflow=${encodeURIComponent(ref)}&limit=500`).expect(200);
        expect(res.body.events.map((e: { event_id: string }) => e.event_id).sort()).toEqual(
          streamPartial.map((e) => e.id).sort(),
        );
      }
      const byWorkflowId = await get(`?workflow_id=${done.id}&limit=500`).expect(200);
      expect(byWorkflowId.body.summary.matched_count).toBe(streamDone.length);

      const unmatched = await get('?workflow=opal-orphan-1').expect(200);
      expect(unmatched.body.summary.matched_count).toBe(orphans.length);
      expect(
        unmatched.body.events.every(
          (e: { processing_status: string; sync_id: null }) =>
            e.processing_status === 'unmatched' && e.sync_id === null,
        ),
      ).toBe(true);

      const unknown = await get('?workflow=wf_does_not_exist').expect(200);
      expect(unknown.body.summary).toMatchObject({ matched_count: 0, returned_count: 0 });
      expect(unknown.body.events).toEqual([]);
    });

    it('filters by correlation id', async () => {
      const res = await get(`?correlation_id=${done.correlationId}&limit=500`).expect(200);
      expect(res.body.summary.matched_count).toBe(streamDone.length);
    });

    it('filters by time: start_date/end_date and hours', async () => {
      const now = Date.now();
      const iso = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
      const window = await get(`?start_date=${iso(25)}&end_date=${iso(10)}&limit=500`).expect(200);
      expect(window.body.summary.matched_count).toBe(streamPartial.length);
      const lastHour = await get('?hours=1&limit=500').expect(200);
      expect(lastHour.body.summary.matched_count).toBe(streamPartial.length + orphans.length);
      const combined = await get('?hours=1&status=failed').expect(200);
      expect(combined.body.summary.matched_count).toBe(2);
      // The runbook's data-recovery window: a day with no events.
      const runbookDay = await get('?start_date=2024-01-15T00:00:00Z&end_date=2024-01-15T23:59:59Z').expect(
        200,
      );
      expect(runbookDay.body.events).toEqual([]);
    });

    it('includes the stored body only with include_payload=true', async () => {
      const withPayload = await get('?include_payload=true&limit=3').expect(200);
      for (const e of withPayload.body.events) expect(e.payload).toMatchObject({ event_type: e.event_type });
      const without = await get('?include_payload=false&limit=3').expect(200);
      for (const e of without.body.events) expect(e).not.toHaveProperty('payload');
    });
  });

  describe('date windows: page after page, exactly the rows of the plain filter', () => {
    interface WindowFilter {
      /** Minutes before now (negative: after now). */
      start?: number;
      end?: number;
      hours?: number;
      status?: string;
      event_type?: string;
      agent_id?: string;
    }

    beforeAll(async () => {
      await resetDatabase(t.dataSource);
      const wf = await seedWorkflow(t.dataSource, { status: 'partially_completed', createdMinutesAgo: 400 });
      const base = { workflowRef: wf.opalWorkflowId!, syncId: wf.id, correlationId: wf.correlationId };
      // 150 callbacks two minutes apart over five hours, stored in receive order, at x.5 minutes ago (x even) so
      // that no event sits on a window boundary (whole minutes) below.
      for (let i = 0; i < 150; i++) {
        const completed = i % 2 === 1;
        await seedEvent(t.dataSource, {
          ...base,
          eventType: completed ? 'agent_completed' : 'agent_started',
          agentId: OPAL_AGENTS[i % OPAL_AGENTS.length],
          executionStatus: completed ? (i % 7 === 1 ? 'failure' : 'success') : 'pending',
          receivedMinutesAgo: 300.5 - 2 * i,
        });
      }
      // A jump of the sequence (inserts that conflicted or rolled back leave one), then late events stored out of
      // receive order (x.5 minutes ago, x odd): sequences far above their neighbours in time.
      await t.dataSource.query(
        `SELECT setval(pg_get_serial_sequence('webhook_events', 'sequence'),
                       (SELECT max(sequence) FROM webhook_events) + 60000)`,
      );
      for (const ago of [263.5, 199.5, 143.5, 121.5, 61.5]) {
        await seedEvent(t.dataSource, {
          ...base,
          eventType: 'agent_completed',
          agentId: 'geo_audit',
          executionStatus: 'failure',
          receivedMinutesAgo: ago,
        });
      }
    });

    /** The filter as the API takes it and as a plain SQL filter, with the same instants. */
    function both(filter: WindowFilter): { query: string; sql: string; values: unknown[] } {
      const now = Date.now();
      const params: string[] = [];
      const where: string[] = [];
      const values: unknown[] = [];
      const add = (name: string, value: string | number, clause: (p: string) => string) => {
        params.push(`${name}=${encodeURIComponent(value)}`);
        values.push(value);
        where.push(clause(`$${values.length}`));
      };
      const iso = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
      if (filter.start !== undefined)
        add('start_date', iso(filter.start), (p) => `received_at >= ${p}::timestamptz`);
      if (filter.end !== undefined)
        add('end_date', iso(filter.end), (p) => `received_at <= ${p}::timestamptz`);
      if (filter.hours !== undefined) {
        add('hours', filter.hours, (p) => `received_at > now() - ${p}::int * interval '1 hour'`);
      }
      for (const column of ['status', 'event_type', 'agent_id'] as const) {
        const value = filter[column];
        if (value !== undefined) add(column, value, (p) => `${column} = ${p}`);
      }
      return {
        query: params.join('&'),
        sql: `SELECT sequence::int FROM webhook_events WHERE ${where.join(' AND ')} ORDER BY sequence DESC`,
        values,
      };
    }

    async function walk(query: string, limit: number): Promise<{ sequences: number[]; matched: number[] }> {
      const sequences: number[] = [];
      const matched: number[] = [];
      let before: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const res: request.Response = await get(
          `?${query}&limit=${limit}${before ? `&before=${before}` : ''}`,
        ).expect(200);
        sequences.push(...res.body.events.map((e: { sequence: number }) => e.sequence));
        matched.push(res.body.summary.matched_count);
        before = res.body.pagination.next_before;
        if (before === null) break;
      }
      return { sequences, matched };
    }

    const cases: Record<string, WindowFilter> = {
      'a closed window in the past, with late events stored out of order': { start: 250, end: 100 },
      'the same window, status=failed': { start: 250, end: 100, status: 'failed' },
      'the same window, status=failed&event_type=agent_completed': {
        start: 250,
        end: 100,
        status: 'failed',
        event_type: 'agent_completed',
      },
      'the same window, agent_id': { start: 250, end: 100, agent_id: 'geo_audit' },
      'a window whose latest event is a late one (its span is not used)': { start: 250, end: 121 },
      'only end_date': { end: 200 },
      'only end_date, agent_id': { end: 200, agent_id: 'geo_audit' },
      'only start_date': { start: 130 },
      'hours=2': { hours: 2 },
      'hours=4 with an end_date': { hours: 4, end: 30 },
      'a window reaching into the future': { start: 60, end: -60 },
      'an empty window in the past': { start: 1000, end: 900 },
    };
    for (const [name, filter] of Object.entries(cases)) {
      it(`${name}: the same rows, in the same order, across pages`, async () => {
        const { query, sql, values } = both(filter);
        const expected = (await t.dataSource.query<{ sequence: number }[]>(sql, values)).map(
          (r) => r.sequence,
        );
        if (!name.includes('empty')) expect(expected.length).toBeGreaterThan(3);
        const { sequences, matched } = await walk(query, 7);
        expect(sequences).toEqual(expected);
        expect(new Set(matched)).toEqual(new Set([expected.length]));
      });
    }
  });

  describe('cursor pagination', () => {
    let sequences: number[];

    beforeAll(async () => {
      await resetDatabase(t.dataSource);
      sequences = [];
      const wf = await seedWorkflow(t.dataSource, { status: 'completed', createdMinutesAgo: 60 });
      for (let i = 0; i < 120; i++) {
        const e = await seedEvent(t.dataSource, {
          eventType: i % 2 === 0 ? 'agent_started' : 'agent_completed',
          agentId: 'customer_journey',
          workflowRef: wf.opalWorkflowId!,
          syncId: wf.id,
          receivedMinutesAgo: (120 - i) / 10,
        });
        sequences.push(e.sequence);
      }
    });

    it('walks 120 events 25 at a time with no gap and no overlap', async () => {
      const seen: number[] = [];
      let before: string | null = null;
      let pages = 0;
      do {
        const res: request.Response = await get(`?limit=25${before ? `&before=${before}` : ''}`).expect(200);
        pages++;
        expect(res.body.summary.matched_count).toBe(120);
        expect(res.body.summary.returned_count).toBe(res.body.events.length);
        seen.push(...res.body.events.map((e: { sequence: number }) => e.sequence));
        before = res.body.pagination.next_before;
        if (before !== null) expect(before).toBe(String(seen[seen.length - 1]));
      } while (before !== null && pages < 10);
      expect(pages).toBe(5);
      expect(seen).toEqual([...sequences].reverse());
      expect(new Set(seen).size).toBe(120);
    });

    it('gives the last page a null cursor when it is exactly full, and accepts a base64url cursor', async () => {
      const first = await get('?limit=60').expect(200);
      const cursor = first.body.pagination.next_before as string;
      const second = await get(`?limit=60&before=${Buffer.from(cursor).toString('base64url')}`).expect(200);
      expect(second.body.events).toHaveLength(60);
      expect(second.body.pagination.next_before).toBeNull();
      expect(second.body.events[0].sequence).toBe(Number(cursor) - 1);
    });
  });

  it('answers 400 VALIDATION_FAILED naming each invalid field', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=2.5', 'limit'],
      ['status=broken', 'status'],
      ['agent_id=nobody', 'agent_id'],
      ['event_type=agent_exploded', 'event_type'],
      ['start_date=yesterday', 'start_date'],
      ['end_date=2024-13-01', 'end_date'],
      ['start_date=2024-01-16T00:00:00Z&end_date=2024-01-15T00:00:00Z', 'end_date'],
      ['hours=0', 'hours'],
      ['hours=721', 'hours'],
      ['before=abc!', 'before'],
      ['before=-5', 'before'],
      ['before=0', 'before'],
      ['include_payload=yes', 'include_payload'],
      [`workflow=${'x'.repeat(201)}`, 'workflow'],
      ['workflow_id=', 'workflow_id'],
      ['correlation_id=', 'correlation_id'],
      ['unknown_filter=1', 'unknown_filter'],
    ];
    for (const [query, field] of cases) {
      const res = await get(`?${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.body).toMatchObject({ success: false, code: 'VALIDATION_FAILED' });
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const many = await get('?limit=0&status=nope&hours=999&agent_id=x').expect(400);
    expect(new Set(many.body.details.map((d: { field: string }) => d.field))).toEqual(
      new Set(['limit', 'status', 'hours', 'agent_id']),
    );
  });

  it('requires the operator key', async () => {
    const res = await request(t.url).get(PATH).expect(401);
    expect(res.body.code).toBe('AUTHENTICATION_FAILED');
  });

  describe('system health figures (computed by hand)', () => {
    beforeAll(async () => {
      await resetDatabase(t.dataSource);
      const ds = t.dataSource;
      // Force syncs in the 15-minute window: 3 accepted, 1 given up, 1 still retrying (not counted).
      for (let i = 0; i < 3; i++)
        await seedWorkflow(ds, { status: 'running', createdMinutesAgo: 5, responseTimeMs: 800 + i * 100 });
      await seedWorkflow(ds, {
        status: 'trigger_failed',
        triggeredMinutesAgo: null,
        createdMinutesAgo: 6,
        opalWorkflowId: null,
        responseTimeMs: 1500,
      });
      await seedWorkflow(ds, {
        status: 'pending',
        triggeredMinutesAgo: null,
        createdMinutesAgo: 1,
        opalWorkflowId: null,
      });
      // Outside the window: a failure that no longer counts.
      await seedWorkflow(ds, {
        status: 'trigger_failed',
        triggeredMinutesAgo: null,
        createdMinutesAgo: 40,
        opalWorkflowId: null,
        responseTimeMs: 9000,
      });

      // Last hour: 10 processed events taking 10..100 ms (two of them failed agents), one whose processing
      // failed, three still pending.
      for (let i = 1; i <= 10; i++) {
        await seedEvent(ds, {
          eventType: 'agent_completed',
          agentId: 'geo_audit',
          workflowRef: `opal-h-${i}`,
          executionStatus: i <= 2 ? 'failure' : 'success',
          processingTimeMs: i * 10,
          receivedMinutesAgo: 30,
        });
      }
      await seedEvent(ds, {
        eventType: 'workflow_started',
        workflowRef: 'opal-h-x',
        processingStatus: 'failed',
        processingTimeMs: null,
        receivedMinutesAgo: 20,
      });
      for (let i = 0; i < 3; i++) {
        await seedEvent(ds, {
          eventType: 'agent_started',
          agentId: 'cmp_organizer',
          workflowRef: 'opal-h-p',
          processingStatus: 'pending',
          receivedMinutesAgo: 2 - i * 0.5,
        });
      }
      // Two hours ago: neither rate nor times include these.
      await seedEvent(ds, {
        eventType: 'workflow_failed',
        workflowRef: 'opal-old',
        processingTimeMs: 5000,
        receivedMinutesAgo: 120,
      });
      // Rejected deliveries: 3 bad signatures and 1 bad body this hour, 50 bad signatures two hours ago.
      await seedRejected(ds, 'signature_invalid', 2, 10);
      await seedRejected(ds, 'signature_invalid', 1, 3, '198.51.100.9');
      await seedRejected(ds, 'body_invalid', 1, 4);
      await seedRejected(ds, 'signature_invalid', 50, 125);
    });

    it('matches the hand-computed figures and alerts', async () => {
      const res = await get('?limit=1').expect(200);
      const newest: { received_at: string }[] = await t.dataSource.query(
        `SELECT received_at FROM webhook_events ORDER BY received_at DESC LIMIT 1`,
      );
      expect(res.body.system_health).toEqual({
        webhook_status: 'degraded',
        // 14 events this hour; 2 failed agents + 1 failed processing.
        recent_failure_rate: 21.43,
        avg_processing_time: 55,
        // percentile_cont(0.95) over 10..100: 90 + 0.55 * 10
        p95_processing_time: 95.5,
        last_webhook_at: (newest[0].received_at as unknown as Date).toISOString(),
        processing_backlog: 3,
        // 3 bad signatures of 14 stored + 4 rejected deliveries
        signature_failure_rate: 16.67,
        // 3 accepted of 4 finished
        force_sync_success_rate: 75,
        // No workflow finished (none has a completed_at).
        workflow_success_rate: null,
        agent_success_rate: null,
        p95_workflow_duration_ms: null,
        database: 'up',
      });
      expect(res.body.alerts).toEqual([
        {
          severity: 'critical',
          rule: 'force_sync_success_rate',
          message: expect.stringContaining('75%'),
          value: 75,
          threshold: 90,
        },
        {
          severity: 'warning',
          rule: 'signature_failure_rate',
          message: expect.any(String),
          value: 16.67,
          threshold: 10,
        },
        {
          severity: 'warning',
          rule: 'event_processing_success_rate',
          // 10 processed of 11 handled (the failed one); pending events are not judged yet.
          message: expect.stringContaining('1 failed, 0 unmatched'),
          value: 90.91,
          threshold: 99,
        },
      ]);
    });

    it('reports 100 % force sync success, empty times and a healthy receiver on an empty database', async () => {
      await resetDatabase(t.dataSource);
      const res = await get('').expect(200);
      expect(res.body.events).toEqual([]);
      expect(res.body.system_health).toEqual({
        webhook_status: 'healthy',
        recent_failure_rate: 0,
        avg_processing_time: null,
        p95_processing_time: null,
        last_webhook_at: null,
        processing_backlog: 0,
        signature_failure_rate: 0,
        force_sync_success_rate: 100,
        workflow_success_rate: null,
        agent_success_rate: null,
        p95_workflow_duration_ms: null,
        database: 'up',
      });
      expect(res.body.alerts).toEqual([]);
    });
  });
});

describe('diagnostics: alert rules fire and clear (e2e)', () => {
  let t: TestApp;
  const alerts = async () =>
    (await request(t.url).get(`${PATH}?limit=1`).set(operatorHeaders()).expect(200)).body.alerts as {
      rule: string;
      severity: string;
      value: unknown;
      threshold: unknown;
    }[];
  const rule = async (name: string) => (await alerts()).find((a) => a.rule === name);

  beforeAll(async () => {
    t = await createSeededTestApp({
      ALERT_BACKLOG_MAX: '5',
      ALERT_AUTH_FAILURES_MAX: '2',
      ALERT_AUTH_FAILURES_WINDOW_MINUTES: '10',
      ALERT_FORCE_SYNC_RESPONSE_MS: '3000',
      ALERT_NO_WEBHOOK_MINUTES: '30',
      ALERT_SIGNATURE_FAILURE_RATE: '10',
      ALERT_FORCE_SYNC_SUCCESS_RATE_MIN: '90',
      ALERT_FORCE_SYNC_WINDOW_MINUTES: '15',
    });
  });
  beforeEach(async () => {
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  it('processing backlog (warning)', async () => {
    for (let i = 0; i < 6; i++) {
      await seedEvent(t.dataSource, {
        eventType: 'agent_started',
        agentId: 'geo_audit',
        workflowRef: 'opal-b',
        processingStatus: 'pending',
      });
    }
    expect(await rule('processing_backlog')).toEqual(
      expect.objectContaining({ severity: 'warning', value: 6, threshold: 5 }),
    );
    await t.dataSource.query(
      `UPDATE webhook_events SET processing_status = 'processed', processed_at = now(), processing_time_ms = 3`,
    );
    expect(await rule('processing_backlog')).toBeUndefined();
  });

  it('signature failure rate (warning)', async () => {
    for (let i = 0; i < 5; i++)
      await seedEvent(t.dataSource, { eventType: 'workflow_started', workflowRef: `opal-s-${i}` });
    await seedRejected(t.dataSource, 'signature_invalid', 1);
    expect(await rule('signature_failure_rate')).toEqual(
      expect.objectContaining({ severity: 'warning', value: 16.67, threshold: 10 }),
    );
    for (let i = 5; i < 20; i++)
      await seedEvent(t.dataSource, { eventType: 'workflow_started', workflowRef: `opal-s-${i}` });
    expect(await rule('signature_failure_rate')).toBeUndefined();
  });

  it('authentication failures (critical), counted from real failed requests', async () => {
    for (let i = 0; i < 3; i++) {
      await request(t.url)
        .get(PATH)
        .set('Authorization', 'Bearer wrong-key-0123456789012345678901234567')
        .expect(401);
    }
    expect(await rule('auth_failures')).toEqual(
      expect.objectContaining({ severity: 'critical', value: 3, threshold: 2 }),
    );
    // The window passes (the counters are per minute; the window counts whole minutes).
    await t.dataSource.query(`UPDATE auth_failures SET bucket = bucket - interval '12 minutes'`);
    expect(await rule('auth_failures')).toBeUndefined();
  });

  it('force sync success rate (critical)', async () => {
    await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 2 });
    await seedWorkflow(t.dataSource, {
      status: 'trigger_failed',
      triggeredMinutesAgo: null,
      opalWorkflowId: null,
      createdMinutesAgo: 3,
    });
    expect(await rule('force_sync_success_rate')).toEqual(
      expect.objectContaining({ severity: 'critical', value: 50, threshold: 90 }),
    );
    for (let i = 0; i < 9; i++)
      await seedWorkflow(t.dataSource, { status: 'completed', createdMinutesAgo: 1 });
    // 10 of 11 = 90.91 %
    expect(await rule('force_sync_success_rate')).toBeUndefined();
  });

  it('force sync response time (warning)', async () => {
    const slow = await seedWorkflow(t.dataSource, {
      status: 'completed',
      responseTimeMs: 4200,
      createdMinutesAgo: 1,
    });
    await seedWorkflow(t.dataSource, { status: 'completed', responseTimeMs: 900, createdMinutesAgo: 1 });
    await seedEvent(t.dataSource, { eventType: 'workflow_completed', workflowRef: slow.opalWorkflowId! });
    expect(await rule('force_sync_response_time')).toEqual(
      expect.objectContaining({ severity: 'warning', value: 4200, threshold: 3000 }),
    );
    await t.dataSource.query(
      `UPDATE workflows SET created_at = now() - interval '20 minutes' WHERE id = $1`,
      [slow.id],
    );
    expect(await rule('force_sync_response_time')).toBeUndefined();
  });

  it('no webhook event while a workflow is active (critical)', async () => {
    await seedEvent(t.dataSource, {
      eventType: 'workflow_completed',
      workflowRef: 'opal-old',
      receivedMinutesAgo: 45,
    });
    // Silent for 45 minutes but nothing is waiting for callbacks: no alert.
    expect(await rule('no_webhook_events')).toBeUndefined();
    const active = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 2 });
    const fired = await rule('no_webhook_events');
    expect(fired).toEqual(expect.objectContaining({ severity: 'critical', value: 45, threshold: 30 }));
    const res = await request(t.url).get(PATH).set(operatorHeaders()).expect(200);
    expect(res.body.system_health.webhook_status).toBe('unhealthy');
    await seedEvent(t.dataSource, {
      eventType: 'workflow_started',
      workflowRef: active.opalWorkflowId!,
      syncId: active.id,
    });
    expect(await rule('no_webhook_events')).toBeUndefined();
  });

  it('no webhook event ever, while a workflow is active (critical, value null)', async () => {
    await seedWorkflow(t.dataSource, { status: 'triggered', createdMinutesAgo: 1 });
    expect(await rule('no_webhook_events')).toEqual(expect.objectContaining({ value: null, threshold: 30 }));
  });
});
