import { plainToInstance } from 'class-transformer';
import { LastWebhookQueryDto } from '../src/modules/diagnostics/dto/last-webhook-query.dto';
import {
  buildEventQueries,
  buildWindowSpanQuery,
  windowSpanOf,
  type SequenceSpan,
  type WindowSpanRow,
} from '../src/modules/webhooks/event-search';
import {
  DELIVERY_FIGURES_PARAMS,
  DELIVERY_FIGURES_SQL,
} from '../src/modules/webhooks/webhook-events.repository';
import type { WorkflowRef } from '../src/modules/workflows/workflows.service';
import { resetDatabase, type TestApp } from './support/app';
import { createSeededTestApp, seedWorkflow } from './support/seed';

const EVENTS = 200_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
  /** EXPLAIN ANALYZE only. */
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Heap Fetches'?: number;
  /** EXPLAIN (BUFFERS) only; a node's figures include its children's. */
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

/** The diagnostics queries of the runbook (and every other filter), as operators type them. */
const RUNBOOK_QUERIES: Record<string, Record<string, string>> = {
  'last-webhook (health check, no filter)': {},
  'workflow=strategy_workflow&limit=10': { workflow: 'strategy_workflow', limit: '10' },
  'event_type=agent_completed&limit=20': { event_type: 'agent_completed', limit: '20' },
  'status=failed&event_type=agent_completed': { status: 'failed', event_type: 'agent_completed' },
  'limit=10&status=failed': { limit: '10', status: 'failed' },
  'status=failed&limit=50': { status: 'failed', limit: '50' },
  'limit=100': { limit: '100' },
  'start_date=…&end_date=… (one day)': {
    start_date: '2024-01-15T00:00:00Z',
    end_date: '2024-01-15T23:59:59Z',
  },
  'agent_id=geo_audit': { agent_id: 'geo_audit' },
  'correlation_id=…': { correlation_id: 'force-sync-4242' },
  'workflow=<OPAL workflow id>': { workflow: 'opal-wf-5000' },
  'workflow_id=<unknown ref>': { workflow_id: 'wf_123' },
  'hours=1': { hours: '1' },
  'hours=24&status=failed&agent_id=content_review': {
    hours: '24',
    status: 'failed',
    agent_id: 'content_review',
  },
  'before=<cursor>&limit=25': { before: '150000', limit: '25' },
};

const DAY_MS = 24 * 3600 * 1000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS).toISOString();

/**
 * Date windows inside the seeded month (~6,650 events a day; relative to now, so built per run): windows in the
 * past small enough to be bounded by their sequence span, one too wide for it, and windows open towards now.
 */
const WINDOW_QUERIES: Record<string, { bounded: boolean; query: () => Record<string, string> }> = {
  'start_date=-10d&end_date=-9d (one day, 10 days back)': {
    bounded: true,
    query: () => ({ start_date: daysAgo(10), end_date: daysAgo(9) }),
  },
  'one day back + status=failed&event_type=agent_completed': {
    bounded: true,
    query: () => ({
      start_date: daysAgo(10),
      end_date: daysAgo(9),
      status: 'failed',
      event_type: 'agent_completed',
    }),
  },
  'one day back + agent_id + before=<cursor in the window>': {
    bounded: true,
    query: () => ({ start_date: daysAgo(10), end_date: daysAgo(9), agent_id: 'geo_audit', before: '137000' }),
  },
  'end_date=-29d only (the oldest day)': { bounded: true, query: () => ({ end_date: daysAgo(29) }) },
  'start_date=-25d&end_date=-5d (too wide for a span)': {
    bounded: false,
    query: () => ({ start_date: daysAgo(25), end_date: daysAgo(5) }),
  },
  'start_date=-2d only': { bounded: false, query: () => ({ start_date: daysAgo(2) }) },
  'hours=720&status=failed': { bounded: false, query: () => ({ hours: '720', status: 'failed' }) },
};

describe('diagnostics: every runbook query is served by an index (e2e, EXPLAIN)', () => {
  let t: TestApp;
  let workflow: WorkflowRef;

  beforeAll(async () => {
    t = await createSeededTestApp();
    await resetDatabase(t.dataSource);
    const wf = await seedWorkflow(t.dataSource, { status: 'completed', opalWorkflowId: 'opal-wf-5000' });
    workflow = { id: wf.id, opalWorkflowId: wf.opalWorkflowId, correlationId: wf.correlationId };
    // A month of traffic: ~2 % failed, a few pending, 20 events per workflow, nine agents.
    await t.dataSource.query(
      `INSERT INTO webhook_events (id, idempotency_key, event_type, workflow_ref, workflow_name, agent_id, status,
                                   execution_status, correlation_id, occurred_at, received_at, processing_status,
                                   processed_at, processing_time_ms, payload)
       SELECT gen_random_uuid(), 'plan-' || g,
              CASE WHEN g % 20 = 0 THEN 'workflow_started' WHEN g % 20 = 19 THEN 'workflow_completed'
                   WHEN g % 2 = 0 THEN 'agent_started' ELSE 'agent_completed' END,
              'opal-wf-' || (g / 20), 'strategy_workflow',
              CASE WHEN g % 20 IN (0, 19) THEN NULL
                   ELSE (ARRAY['integration_health','content_review','geo_audit','audience_suggester',
                               'experiment_blueprinter','personalization_idea_generator','customer_journey',
                               'roadmap_generator','cmp_organizer'])[1 + g % 9] END,
              CASE WHEN g % 50 = 1 THEN 'failed' WHEN g % 97 = 0 THEN 'pending' ELSE 'success' END,
              CASE WHEN g % 50 = 1 THEN 'failure' END,
              'force-sync-' || (g / 20),
              now() - ($1 - g) * interval '13 seconds', now() - ($1 - g) * interval '13 seconds',
              CASE WHEN g > $1 - 5 THEN 'pending' ELSE 'processed' END,
              now() - ($1 - g) * interval '13 seconds', g % 200, '{}'::jsonb
         FROM generate_series(1, $1) g`,
      [EVENTS],
    );
    await t.dataSource.query('ANALYZE webhook_events');
    await t.dataSource.query('ANALYZE workflows');
  }, 120_000);
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  async function plan(text: string, values: unknown[]): Promise<PlanNode[]> {
    const rows: { 'QUERY PLAN': { Plan: PlanNode }[] }[] = await t.dataSource.query(
      `EXPLAIN (FORMAT JSON) ${text}`,
      values,
    );
    return nodesOf(rows[0]['QUERY PLAN'][0].Plan);
  }

  const summary: string[] = [];
  afterAll(() => {
    // Printed for the README's table of query plans.
    process.stdout.write(`\nDiagnostics query plans on ${EVENTS} events:\n${summary.join('\n')}\n`);
  });

  /** What the service runs for a query: the window's span first when it has one, then the page and the count. */
  async function explainQuery(name: string, raw: Record<string, string>): Promise<SequenceSpan | null> {
    const query = plainToInstance(LastWebhookQueryDto, raw);
    const workflows = new Map<string, WorkflowRef | null>();
    for (const ref of [query.workflow, query.workflow_id]) {
      if (ref && ref !== 'strategy_workflow') workflows.set(ref, ref === 'opal-wf-5000' ? workflow : null);
    }
    const statements: Record<string, { text: string; values: unknown[] }> = {};
    let span: SequenceSpan | null = null;
    const spanSql = buildWindowSpanQuery(query);
    if (spanSql) {
      statements.span = spanSql;
      const [window]: WindowSpanRow[] = await t.dataSource.query(spanSql.text, spanSql.values);
      const found = windowSpanOf(window);
      if (found === 'empty') {
        await expectIndexesOnly(name, statements);
        summary.push(`  ${name}: empty window, no page or count query`);
        return null;
      }
      span = found;
    }
    Object.assign(statements, buildEventQueries(query, query.limit ?? 25, workflows, span));
    await expectIndexesOnly(name, statements);
    return span;
  }

  async function expectIndexesOnly(
    name: string,
    statements: Record<string, { text: string; values: unknown[] }>,
  ): Promise<void> {
    for (const [part, statement] of Object.entries(statements)) {
      const nodes = await plan(statement.text, statement.values);
      const onEvents = nodes.filter((n) => n['Relation Name'] === 'webhook_events');
      expect(onEvents.length).toBeGreaterThan(0);
      expect(onEvents.filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([]);
      const indexes = nodes.filter((n) => /webhook_events/.test(n['Index Name'] ?? ''));
      summary.push(
        `  ${name} [${part}]: ${indexes.map((n) => `${n['Node Type']} ${n['Index Name']}`).join(' + ')}`,
      );
    }
  }

  for (const [name, raw] of Object.entries(RUNBOOK_QUERIES)) {
    it(`${name}: page and count use indexes, no sequential scan`, async () => {
      await explainQuery(name, raw);
    });
  }

  for (const [name, { bounded, query }] of Object.entries(WINDOW_QUERIES)) {
    it(`${name}: window span, page and count use indexes, no sequential scan`, async () => {
      const span = await explainQuery(name, query());
      expect(span !== null).toBe(bounded);
    });
  }

  it('delivery figures of system health: indexes only, and the rows read stay bounded', async () => {
    const nodes = await plan(DELIVERY_FIGURES_SQL, DELIVERY_FIGURES_PARAMS);
    const onEvents = nodes.filter((n) => n['Relation Name'] === 'webhook_events');
    expect(onEvents.length).toBeGreaterThan(0);
    expect(onEvents.filter((n) => n['Node Type'] === 'Seq Scan')).toEqual([]);

    // What it really reads, run for real: every row a scan of webhook_events produced or threw away, against
    // the rows the figures are about (the last hour's events, the pending ones, the newest one).
    const rows: { 'QUERY PLAN': { Plan: PlanNode }[] }[] = await t.dataSource.query(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${DELIVERY_FIGURES_SQL}`,
      DELIVERY_FIGURES_PARAMS,
    );
    const root = rows[0]['QUERY PLAN'][0].Plan;
    const analysed = nodesOf(root).filter((n) => n['Relation Name'] === 'webhook_events');
    const rowsRead = analysed.reduce(
      (sum, n) =>
        sum +
        ((n['Actual Rows'] ?? 0) +
          (n['Rows Removed by Filter'] ?? 0) +
          (n['Rows Removed by Index Recheck'] ?? 0)) *
          (n['Actual Loops'] ?? 1),
      0,
    );
    const [relevant]: { recent: number; pending: number; pages: number }[] = await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM webhook_events WHERE received_at > now() - interval '1 hour') AS recent,
              (SELECT count(*)::int FROM webhook_events WHERE processing_status = 'pending') AS pending,
              (SELECT relpages::int FROM pg_class WHERE relname = 'webhook_events') AS pages`,
    );
    const blocks = (root['Shared Hit Blocks'] ?? 0) + (root['Shared Read Blocks'] ?? 0);
    expect(relevant.recent).toBeGreaterThan(0);
    expect(rowsRead).toBeGreaterThanOrEqual(relevant.recent);
    expect(rowsRead).toBeLessThanOrEqual(2 * (relevant.recent + relevant.pending) + 10);
    // Pages touched (table and indexes) stay a small fraction of the table.
    expect(blocks).toBeLessThan(relevant.pages / 10);
    summary.push(
      `  system_health: ${nodes
        .filter((n) => n['Relation Name'])
        .map(
          (n) =>
            `${n['Relation Name']}: ${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}`,
        )
        .join(
          ', ',
        )}; ${rowsRead} rows of webhook_events read for ${relevant.recent} recent and ${relevant.pending} pending events, ${blocks} pages touched of a ${relevant.pages}-page table`,
    );
  });
});
