import request from 'supertest';
import { OpalTargetService } from '../src/modules/opal/opal-target.service';
import { OPAL_AGENTS } from '../src/domain/opal';
import { operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { createSeededTestApp, seedEventStream, seedWorkflow } from './support/seed';

const PATH = '/api/orchestrations/replay';

type Stream = Awaited<ReturnType<typeof seedEventStream>>;
type Workflow = Awaited<ReturnType<typeof seedWorkflow>>;

describe('replay: POST /api/orchestrations/replay (e2e)', () => {
  let t: TestApp;
  const replay = (body: Record<string, unknown>) =>
    request(t.url).post(PATH).set(operatorHeaders()).send(body);

  beforeAll(async () => {
    t = await createSeededTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /** Rows as live processing left them; the test sets the state that matches the processed events. */
  async function setLiveState(wf: Workflow, status: string, agents: Record<string, string>): Promise<void> {
    await t.dataSource.query(
      `UPDATE workflows SET status = $2, started_at = now() - interval '10 minutes' WHERE id = $1`,
      [wf.id, status],
    );
    for (const [agentId, agentStatus] of Object.entries(agents)) {
      await t.dataSource.query(`UPDATE agent_runs SET status = $3 WHERE workflow_id = $1 AND agent_id = $2`, [
        wf.id,
        agentId,
        agentStatus,
      ]);
    }
  }

  async function failProcessing(stream: Stream, agentId: string): Promise<string> {
    const event = stream.find((e) => e.eventType === 'agent_completed' && e.agentId === agentId)!;
    await t.dataSource.query(
      `UPDATE webhook_events SET processing_status = 'failed', processing_error = 'deadlock detected', processed_at = NULL, processing_time_ms = NULL WHERE id = $1`,
      [event.id],
    );
    return event.id;
  }

  async function snapshot() {
    return {
      workflows: await t.dataSource.query(`SELECT * FROM workflows ORDER BY id`),
      agents: await t.dataSource.query(`SELECT * FROM agent_runs ORDER BY workflow_id, agent_id`),
      events: await t.dataSource.query(`SELECT * FROM webhook_events ORDER BY sequence`),
    };
  }

  const allAgents = (status: string) => Object.fromEntries(OPAL_AGENTS.map((a) => [a, status]));

  describe('a workflow whose content_review completion failed to process', () => {
    let wf: Workflow;
    let stream: Stream;
    let failedId: string;

    beforeEach(async () => {
      await resetDatabase(t.dataSource);
      wf = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 3 });
      stream = await seedEventStream(t.dataSource, wf, { receivedMinutesAgo: 2 });
      failedId = await failProcessing(stream, 'content_review');
      await setLiveState(wf, 'partially_completed', { ...allAgents('completed'), content_review: 'running' });
    });

    it('dry run returns the state the replay would produce and writes nothing', async () => {
      const before = await snapshot();
      const res = await replay({ workflow_id: wf.id, dry_run: true }).expect(200);
      expect(res.body).toEqual({
        success: true,
        replay_id: expect.stringMatching(/^replay-\d+-[0-9a-z]+$/),
        workflow_id: wf.id,
        dry_run: true,
        from_offset: 0,
        agent_filter: null,
        events_considered: 20,
        events_replayed: 1,
        events: stream.map((e, offset) => ({
          offset,
          event_id: e.id,
          event_type: e.eventType,
          agent_id: e.agentId ?? null,
          action: e.id === failedId ? 'apply' : 'skip',
        })),
        resulting_state: { status: 'completed', agents: allAgents('completed') },
        duration_ms: expect.any(Number),
      });
      expect(await snapshot()).toEqual(before);
      const audit: { details: Record<string, unknown> }[] = await t.dataSource.query(
        `SELECT details FROM audit_log WHERE action = 'replay'`,
      );
      expect(audit).toEqual([
        {
          details: expect.objectContaining({
            replay_id: res.body.replay_id,
            workflow_id: wf.id,
            dry_run: true,
            events_considered: 20,
            events_replayed: 1,
            resulting_status: 'completed',
          }),
        },
      ]);
    });

    it('applies the failed event, saves the state, links and marks the event; twice gives the same state', async () => {
      const eventsBefore = (await snapshot()).events.length;
      const first = await replay({ workflow_id: wf.opalWorkflowId, dry_run: false }).expect(200);
      expect(first.body).toMatchObject({
        workflow_id: wf.id,
        events_replayed: 1,
        resulting_state: { status: 'completed' },
      });
      const after = await snapshot();
      expect(after.events).toHaveLength(eventsBefore);
      expect(after.workflows[0].status).toBe('completed');
      expect(after.agents.map((a: { status: string }) => a.status)).toEqual(
        OPAL_AGENTS.map(() => 'completed'),
      );
      const event = after.events.find((e: { id: string }) => e.id === failedId);
      expect(event).toMatchObject({ processing_status: 'processed', sync_id: wf.id, processing_error: null });

      // Nothing failed any more: the same request applies nothing and changes nothing.
      const second = await replay({ workflow_id: wf.correlationId }).expect(200);
      expect(second.body.events_replayed).toBe(0);
      expect(second.body.resulting_state).toEqual(first.body.resulting_state);
      const again = await snapshot();
      expect(again.agents).toEqual(after.agents);
      expect({ ...again.workflows[0], updated_at: null }).toEqual({
        ...after.workflows[0],
        updated_at: null,
      });

      // Re-applying every event twice still gives the same state and rows.
      const forced1 = await replay({ workflow_id: wf.id, replay_options: { force_reprocess: true } }).expect(
        200,
      );
      const forced1Rows = await snapshot();
      const forced2 = await replay({ workflow_id: wf.id, replay_options: { force_reprocess: true } }).expect(
        200,
      );
      expect(forced1.body.events_replayed).toBe(20);
      expect(forced2.body.resulting_state).toEqual(forced1.body.resulting_state);
      expect(forced1.body.resulting_state).toEqual(first.body.resulting_state);
      const forced2Rows = await snapshot();
      expect(forced2Rows.agents).toEqual(forced1Rows.agents);
      expect(forced2Rows.agents).toEqual(after.agents);
    });

    it('never calls OPAL and never creates events', async () => {
      const simulator = t.app.get(OpalTargetService).simulator;
      const triggersBefore = simulator?.triggers.length ?? 0;
      const eventsBefore = (await snapshot()).events.length;
      await replay({ workflow_id: wf.id, replay_options: { force_reprocess: true } }).expect(200);
      expect(simulator?.triggers.length ?? 0).toBe(triggersBefore);
      expect((await snapshot()).events).toHaveLength(eventsBefore);
    });
  });

  it('agent_filter re-applies only those agents’ events', async () => {
    await resetDatabase(t.dataSource);
    const wf = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 3 });
    const stream = await seedEventStream(t.dataSource, wf, { receivedMinutesAgo: 2 });
    await failProcessing(stream, 'content_review');
    const geoFailed = await failProcessing(stream, 'geo_audit');
    await setLiveState(wf, 'partially_completed', {
      ...allAgents('completed'),
      content_review: 'running',
      geo_audit: 'running',
    });

    const res = await replay({ workflow_id: wf.id, agent_filter: ['geo_audit'] }).expect(200);
    expect(res.body.agent_filter).toEqual(['geo_audit']);
    expect(res.body.events).toEqual([
      {
        offset: 5,
        event_id: expect.any(String),
        event_type: 'agent_started',
        agent_id: 'geo_audit',
        action: 'skip',
      },
      {
        offset: 6,
        event_id: geoFailed,
        event_type: 'agent_completed',
        agent_id: 'geo_audit',
        action: 'apply',
      },
    ]);
    expect(res.body.resulting_state).toEqual({
      status: 'partially_completed',
      agents: { ...allAgents('completed'), content_review: 'running' },
    });
    const agents: { agent_id: string; status: string }[] = await t.dataSource.query(
      `SELECT agent_id, status FROM agent_runs WHERE workflow_id = $1 AND agent_id IN ('geo_audit', 'content_review') ORDER BY agent_id`,
      [wf.id],
    );
    expect(agents).toEqual([
      { agent_id: 'content_review', status: 'running' },
      { agent_id: 'geo_audit', status: 'completed' },
    ]);

    // Then the rest: content_review completes, and with it the workflow (OPAL's late success rule).
    const rest = await replay({ workflow_id: wf.id }).expect(200);
    expect(rest.body.events_replayed).toBe(1);
    expect(rest.body.resulting_state).toEqual({ status: 'completed', agents: allAgents('completed') });
  });

  it('from_offset starts at that position of the stream', async () => {
    await resetDatabase(t.dataSource);
    const wf = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 3 });
    const stream = await seedEventStream(t.dataSource, wf, { receivedMinutesAgo: 2 });
    await failProcessing(stream, 'content_review'); // offset 4
    const lastFailed = await failProcessing(stream, 'cmp_organizer'); // offset 18
    await setLiveState(wf, 'partially_completed', {
      ...allAgents('completed'),
      content_review: 'running',
      cmp_organizer: 'running',
    });

    const res = await replay({ workflow_id: wf.id, from_offset: 5 }).expect(200);
    expect(res.body.from_offset).toBe(5);
    expect(res.body.events_considered).toBe(15);
    expect(res.body.events.map((e: { offset: number }) => e.offset)).toEqual(
      Array.from({ length: 15 }, (_, i) => 5 + i),
    );
    expect(res.body.events.filter((e: { action: string }) => e.action === 'apply')).toEqual([
      {
        offset: 18,
        event_id: lastFailed,
        event_type: 'agent_completed',
        agent_id: 'cmp_organizer',
        action: 'apply',
      },
    ]);
    expect(res.body.resulting_state).toEqual({
      status: 'partially_completed',
      agents: { ...allAgents('completed'), content_review: 'running' },
    });
    const beyond = await replay({ workflow_id: wf.id, from_offset: 1000, dry_run: true }).expect(200);
    expect(beyond.body).toMatchObject({ events_considered: 0, events_replayed: 0, events: [] });
  });

  it('force_reprocess false applies only failed and unmatched events, and links the unmatched ones', async () => {
    await resetDatabase(t.dataSource);
    const wf = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 3 });
    // The first four agents were processed; the rest arrived before OPAL's id was known and stayed unmatched.
    const processed = await seedEventStream(t.dataSource, wf, { agents: 4, receivedMinutesAgo: 2 });
    const unmatched = (
      await seedEventStream(t.dataSource, wf, {
        linked: false,
        processingStatus: 'unmatched',
        receivedMinutesAgo: 1,
      })
    ).slice(9); // agents 5..9 and workflow_completed
    await t.dataSource.query(
      `DELETE FROM webhook_events WHERE processing_status = 'unmatched' AND NOT (id = ANY($1::uuid[]))`,
      [unmatched.map((e) => e.id)],
    );
    const failed = await failProcessing(processed, 'audience_suggester');
    await setLiveState(wf, 'running', {
      integration_health: 'completed',
      content_review: 'completed',
      geo_audit: 'completed',
      audience_suggester: 'running',
    });

    const res = await replay({ workflow_id: wf.id }).expect(200);
    const applied = res.body.events
      .filter((e: { action: string }) => e.action === 'apply')
      .map((e: { event_id: string }) => e.event_id);
    expect(applied.sort()).toEqual([failed, ...unmatched.map((e) => e.id)].sort());
    expect(res.body.events_considered).toBe(processed.length + unmatched.length);
    expect(res.body.resulting_state).toEqual({ status: 'completed', agents: allAgents('completed') });
    const linked: { n: number }[] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM webhook_events WHERE sync_id = $1 AND processing_status = 'processed'`,
      [wf.id],
    );
    expect(linked[0].n).toBe(processed.length + unmatched.length);
  });

  it('does not reopen a workflow the timeout sweep closed', async () => {
    await resetDatabase(t.dataSource);
    const wf = await seedWorkflow(t.dataSource, { status: 'running', createdMinutesAgo: 20 });
    const stream = await seedEventStream(t.dataSource, wf, { agents: 3, receivedMinutesAgo: 15 });
    await failProcessing(stream, 'geo_audit');
    await t.dataSource.query(
      `UPDATE workflows SET status = 'timed_out', completed_at = now() - interval '5 minutes' WHERE id = $1`,
      [wf.id],
    );
    const res = await replay({ workflow_id: wf.id, dry_run: true }).expect(200);
    expect(res.body.resulting_state).toEqual({
      status: 'timed_out',
      agents: {
        ...allAgents('timed_out'),
        integration_health: 'completed',
        content_review: 'completed',
        geo_audit: 'completed',
      },
    });
  });

  it('answers 404 WORKFLOW_NOT_FOUND for an unknown workflow (the runbook placeholders)', async () => {
    await resetDatabase(t.dataSource);
    for (const body of [
      { workflow_id: 'wf_123', dry_run: true },
      { workflow_id: 'problematic-workflow-id', dry_run: true },
      { workflow_id: 'affected-workflow-id', from_offset: 0, replay_options: { force_reprocess: true } },
      { workflow_id: '6f1c1d3e-0000-4000-8000-000000000000' },
    ]) {
      const res = await replay(body).expect(404);
      expect(res.body).toEqual({
        success: false,
        error: 'Not Found',
        code: 'WORKFLOW_NOT_FOUND',
        message: expect.any(String),
        correlation_id: expect.any(String),
      });
    }
  });

  it('answers 400 naming each invalid field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ workflow_id: 'wf_1', agent_filter: ['failed_agent_name'] }, 'agent_filter'],
      [{ workflow_id: 'wf_1', agent_filter: 'geo_audit' }, 'agent_filter'],
      [{ dry_run: true }, 'workflow_id'],
      [{ workflow_id: '' }, 'workflow_id'],
      [{ workflow_id: 'x'.repeat(201) }, 'workflow_id'],
      [{ workflow_id: 'wf_1', from_offset: -1 }, 'from_offset'],
      [{ workflow_id: 'wf_1', from_offset: 1.5 }, 'from_offset'],
      [{ workflow_id: 'wf_1', dry_run: 'yes' }, 'dry_run'],
      [
        { workflow_id: 'wf_1', replay_options: { force_reprocess: 'true' } },
        'replay_options.force_reprocess',
      ],
      [{ workflow_id: 'wf_1', replay_options: { everything: true } }, 'replay_options.everything'],
      [{ workflow_id: 'wf_1', replay_options: 'force' }, 'replay_options'],
      [{ workflow_id: 'wf_1', surprise: 1 }, 'surprise'],
    ];
    for (const [body, field] of cases) {
      const res = await replay(body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    }
  });

  it('requires the operator key', async () => {
    await request(t.url).post(PATH).send({ workflow_id: 'wf_123', dry_run: true }).expect(401);
  });
});
