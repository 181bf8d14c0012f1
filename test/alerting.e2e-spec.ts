import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { isWorkflowStatus } from '../src/domain/workflow';
import { MetricsService } from '../src/metrics/metrics.service';
import { createTestApp, operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { postSigned } from './support/webhooks';

/*
 * deploy/prometheus and deploy/alertmanager against the service and against Prometheus' own tools:
 * - the rules name only series the service exports, with the runbook's and the contract's thresholds;
 * - every alert has a unit test that fires it and one that keeps it quiet, and every input series of those tests
 *   is shaped exactly like a series of a live GET /metrics (name, label names, label values);
 * - `promtool check rules`, `promtool test rules`, `amtool check-config`, `amtool config routes test` and the
 *   message templates pass, when the tools are installed (Debian: prometheus, prometheus-alertmanager).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- parsed YAML is walked field by field */

const root = process.cwd();
const PROMETHEUS_DIR = join(root, 'deploy', 'prometheus');
const ALERTMANAGER_DIR = join(root, 'deploy', 'alertmanager');

/** The contract's outcome series (service levels, section 15). */
const OUTCOME_SERIES = [
  'workflows_finished_total',
  'workflow_duration_seconds',
  'workflow_first_callback_seconds',
  'agent_runs_finished_total',
  'webhook_events_processed_total',
];

/**
 * The rules' tests also feed workflows_finished_total with statuses of the contract that this version's
 * vocabulary (src/domain/workflow.ts) may not hold yet (an operator's cancel, section 12): the rules must ignore
 * them. Such a series cannot be in /metrics until the status exists; every other one must be.
 */
const isUnknownWorkflowStatusSeries = (input: { name: string; labels: Record<string, string> }) =>
  input.name === 'workflows_finished_total' && !isWorkflowStatus(input.labels.status);

/** Labels that Prometheus adds when it scrapes; the service never sets them. */
const SCRAPE_LABELS = new Set(['job', 'instance']);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string };
}

interface RuleTest {
  name: string;
  input_series: { series: string; values: string }[];
  alert_rule_test: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
}

const rules: Rule[] = (
  parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);
const ruleTests: RuleTest[] = (
  parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8')) as { tests: RuleTest[] }
).tests;
const alertmanager: any = parse(readFileSync(join(ALERTMANAGER_DIR, 'alertmanager.yml'), 'utf8'));

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'increase',
  'histogram_quantile',
  'absent',
  'vector',
  'and',
  'or',
  'unless',
  'on',
  'by',
  'without',
  'offset',
  'le',
]);

/** Metric names in an expression: identifiers outside label matchers, strings, durations and grouping clauses. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/"[^"]*"/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+\d+[smhdwy]/g, ' ')
    .replace(/\b(by|on|without)\s*\([^)]*\)/g, ' ');
  const names = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n)))];
}

/** `name{a="1",b="2"}` (a series of the exposition format or of promtool's notation) → name and labels. */
function parseSeries(text: string): { name: string; labels: Record<string, string> } {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/.exec(text.trim());
  if (!match) throw new Error(`not a series: ${text}`);
  const labels: Record<string, string> = {};
  for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[pair[1]] = pair[2];
  }
  return { name: match[1], labels };
}

/** One key per series: name and sorted labels, scrape labels left out. */
function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .filter(([label]) => !SCRAPE_LABELS.has(label))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, value]) => `${label}="${value}"`);
  return `${name}{${pairs.join(',')}}`;
}

/** The metric a series belongs to (histogram series carry a suffix). */
function metricOf(series: string): string {
  return series.replace(/_(bucket|sum|count)$/, '');
}

function toolAvailable(tool: string): boolean {
  return spawnSync(tool, ['--version'], { encoding: 'utf8' }).error === undefined;
}

function run(tool: string, args: string[], cwd: string): { status: number | null; output: string } {
  const result = spawnSync(tool, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const promtool = toolAvailable('promtool');
const amtool = toolAvailable('amtool');
for (const [tool, available, pkg] of [
  ['promtool', promtool, 'prometheus'],
  ['amtool', amtool, 'prometheus-alertmanager'],
] as const) {
  if (!available) {
    process.stdout.write(
      `alerting: ${tool} checks skipped: ${tool} is not installed (apt-get install ${pkg})\n`,
    );
  }
}

describe('deploy/prometheus/alerts.yml', () => {
  const registered = new Set(
    new MetricsService().registry
      .getMetricsAsArray()
      .flatMap((m) => [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`]),
  );

  it('expresses every alert rule of the runbook and every service level of the contract, with its severity, labelled with the service', () => {
    const bySeverity = Object.fromEntries(rules.map((r) => [r.alert, r.labels.severity]));
    expect(bySeverity).toEqual({
      ForceSyncSuccessRateLow: 'critical',
      NoWebhookEvents: 'critical',
      DatabaseDown: 'critical',
      AuthenticationFailures: 'critical',
      WorkflowSuccessRateLow: 'critical',
      ForceSyncSlowResponse: 'warning',
      ProcessingBacklogHigh: 'warning',
      SignatureFailureRateHigh: 'warning',
      RateLimiterStorageUnavailable: 'warning',
      AgentSuccessRateLow: 'warning',
      WorkflowDurationSlow: 'warning',
      EventProcessingSuccessLow: 'warning',
    });
    for (const rule of rules)
      expect([rule.alert, rule.labels.service]).toEqual([rule.alert, 'opal-force-sync']);
  });

  it('uses the runbook and contract thresholds', () => {
    const expr = Object.fromEntries(rules.map((r) => [r.alert, r.expr.replace(/\s+/g, ' ').trim()]));
    expect(expr.ForceSyncSuccessRateLow).toMatch(/\[15m\].*< 0\.90$/);
    expect(expr.NoWebhookEvents).toContain('[1h]');
    expect(expr.AuthenticationFailures).toMatch(/\[10m\]\)\) > 5$/);
    expect(expr.ForceSyncSlowResponse).toMatch(/histogram_quantile\(0\.95,.*\) > 5$/);
    expect(expr.ProcessingBacklogHigh).toMatch(/> 100$/);
    expect(expr.SignatureFailureRateHigh).toMatch(/> 0\.10$/);
    expect(expr.WorkflowSuccessRateLow).toMatch(/workflows_finished_total.*\[1h\].*< 0\.90$/);
    expect(expr.AgentSuccessRateLow).toMatch(/agent_runs_finished_total.*\[1h\].*< 0\.95$/);
    expect(expr.WorkflowDurationSlow).toMatch(
      /^histogram_quantile\(0\.95, .*workflow_duration_seconds_bucket\{[^}]*\}\[1h\].*\) > 480$/,
    );
    expect(expr.EventProcessingSuccessLow).toMatch(/webhook_events_processed_total.*\[1h\].*< 0\.99$/);
  });

  it('refers only to series the service exposes', () => {
    const used = rules.flatMap((r) => metricNames(r.expr).map((name) => ({ alert: r.alert, name })));
    expect(used.length).toBeGreaterThan(12);
    expect(used.filter((u) => !registered.has(u.name))).toEqual([]);
    expect(OUTCOME_SERIES.filter((name) => !used.some((u) => metricOf(u.name) === name))).toEqual([
      'workflow_first_callback_seconds', // on the dashboard; no alert of its own
    ]);
  });

  it('selects only the series of the job "opal-force-sync" (another service may use the same names)', () => {
    const selectors = rules.flatMap((r) =>
      metricNames(r.expr).flatMap((name) =>
        [...r.expr.matchAll(new RegExp(`\\b${name}(\\{[^}]*\\})?`, 'g'))].map((m) => ({
          alert: r.alert,
          selector: m[0],
        })),
      ),
    );
    expect(selectors.length).toBeGreaterThan(15);
    expect(selectors.filter((s) => !s.selector.includes('{job="opal-force-sync"'))).toEqual([]);
  });

  it('finds metric names in an expression (and so can fail)', () => {
    expect(metricNames('sum(rate(foo_total{a="b"}[5m])) / on() max(bar) > 1')).toEqual(['foo_total', 'bar']);
    expect(metricNames('count(baz{a="b"} offset 1h) > 0 or on() vector(0)')).toEqual(['baz']);
    expect(registered.has('not_a_metric_total')).toBe(false);
  });

  it('has a unit test that fires each alert and one that keeps it quiet', () => {
    const cases = ruleTests.flatMap((t) => t.alert_rule_test);
    const coverage = rules.map((r) => ({
      alert: r.alert,
      fires: cases.some((c) => c.alertname === r.alert && c.exp_alerts.length > 0),
      quiet: cases.some((c) => c.alertname === r.alert && c.exp_alerts.length === 0),
    }));
    expect(coverage).toEqual(rules.map((r) => ({ alert: r.alert, fires: true, quiet: true })));
    const alerts = new Set(rules.map((r) => r.alert));
    expect(cases.filter((c) => !alerts.has(c.alertname))).toEqual([]);
  });

  (promtool ? it : it.skip)('passes promtool check rules', () => {
    const result = run('promtool', ['check', 'rules', 'alerts.yml'], PROMETHEUS_DIR);
    expect(result).toEqual({
      status: 0,
      output: expect.stringContaining(`SUCCESS: ${rules.length} rules found`),
    });
  });

  (promtool ? it : it.skip)('passes its promtool unit tests (promtool test rules)', () => {
    const result = run('promtool', ['test', 'rules', 'alerts.test.yml'], PROMETHEUS_DIR);
    expect(result).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  (promtool ? it : it.skip)('fails promtool test rules when a rule changes (the tests can fail)', () => {
    // A copy whose success threshold is wrong: the "stays quiet at 95%" tests must then fail.
    const dir = mkdtempSync(join(tmpdir(), 'opal-alerts-'));
    const alerts = readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8');
    expect(alerts).toContain(') < 0.95');
    writeFileSync(join(dir, 'alerts.yml'), alerts.replace(') < 0.95', ') <= 0.95'));
    writeFileSync(join(dir, 'alerts.test.yml'), readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yml')));
    const result = run('promtool', ['test', 'rules', 'alerts.test.yml'], dir);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('AgentSuccessRateLow stays quiet at 95%');
  });
});

describe('deploy/prometheus/alerts.test.yml input series against a live /metrics (e2e)', () => {
  let t: TestApp;
  let live: Set<string>;
  let declared: Set<string>;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
    // Traffic that creates the series the unit tests use, as production traffic would.
    await request(t.url).post('/api/opal/sync').set(operatorHeaders()).send({}).expect(200);
    await request(t.url).get('/api/opal/sync').set(operatorHeaders()).expect(200);
    await request(t.url)
      .post('/api/orchestrations/trigger')
      .set(operatorHeaders())
      .send({ workflow_name: 'another_workflow', session_id: 'alerting-e2e' })
      .expect((res) => expect(res.status).toBeGreaterThanOrEqual(400));
    const wrongKey = { Authorization: `Bearer ${'x'.repeat(40)}` };
    await request(t.url).get('/api/opal/syncs').set(wrongKey).expect(401);
    await request(t.url).post('/api/opal/sync').set(wrongKey).send({}).expect(401);
    const event = JSON.stringify({
      event_id: 'alerting-e2e-1',
      event_type: 'workflow_started',
      workflow_id: 'opal-wf-alerting-e2e',
      workflow_name: 'strategy_workflow',
    });
    await postSigned(t.url, event).expect(202);

    const text = (await request(t.url).get('/metrics').expect(200)).text;
    const lines = text.split('\n');
    declared = new Set(lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]));
    live = new Set(
      lines
        .filter((l) => l.length > 0 && !l.startsWith('#'))
        .map((l) => {
          const series = parseSeries(l.slice(0, l.lastIndexOf(' ')));
          return seriesKey(series.name, series.labels);
        }),
    );
  });

  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('feeds the rules with series whose names, label names and label values the service exports', () => {
    const inputs = ruleTests.flatMap((test) =>
      test.input_series.map((input) => ({ test: test.name, ...parseSeries(input.series) })),
    );
    expect(inputs.length).toBeGreaterThan(50);
    const checked = inputs.filter((input) => !isUnknownWorkflowStatusSeries(input));
    expect(checked.length).toBeGreaterThan(inputs.length - 3);
    expect(
      [...new Set(inputs.filter(isUnknownWorkflowStatusSeries).map((input) => input.labels.status))].filter(
        (status) => status !== 'cancelled',
      ),
    ).toEqual([]);
    expect(checked.filter((input) => OUTCOME_SERIES.includes(metricOf(input.name))).length).toBeGreaterThan(
      20,
    );
    const unlike = checked
      .map((input) => ({ test: input.test, series: seriesKey(input.name, input.labels) }))
      .filter((input) => !live.has(input.series));
    expect(unlike).toEqual([]);
    // Every input series is scraped: it carries the labels Prometheus adds.
    expect(inputs.filter((input) => !input.labels.job || !input.labels.instance)).toEqual([]);
  });

  it('compares whole label sets (a series with a label too many or too few is not a match)', () => {
    expect(live.has(seriesKey('webhook_events_total', { result: 'accepted' }))).toBe(true);
    expect(live.has(seriesKey('webhook_events_total', { result: 'accepted', reason: 'none' }))).toBe(false);
    expect(live.has(seriesKey('webhook_events_total', {}))).toBe(false);
    expect(
      live.has(
        seriesKey('http_request_duration_seconds_bucket', {
          le: '5',
          method: 'POST',
          route: '/api/opal/sync',
          status: '200',
          job: 'any',
          instance: 'any',
        }),
      ),
    ).toBe(true);
  });

  it("exports the contract's outcome series, at zero before the first outcome", () => {
    expect(OUTCOME_SERIES.filter((name) => !declared.has(name))).toEqual([]);
    for (const series of [
      seriesKey('workflows_finished_total', { status: 'completed' }),
      seriesKey('workflows_finished_total', { status: 'trigger_failed' }),
      seriesKey('agent_runs_finished_total', { agent: 'cmp_organizer', status: 'timed_out' }),
      seriesKey('webhook_events_processed_total', { result: 'unmatched' }),
      seriesKey('workflow_duration_seconds_bucket', { le: '480' }),
      seriesKey('workflow_duration_seconds_bucket', { le: '900' }),
    ]) {
      expect([series, live.has(series)]).toEqual([series, true]);
    }
  });
});

describe('deploy/alertmanager/alertmanager.yml', () => {
  const receivers = Object.fromEntries(
    (alertmanager.receivers as { name: string }[]).map((r) => [r.name, r]),
  ) as Record<string, any>;

  it('pages with a pager receiver and posts to a chat webhook, both with placeholders only', () => {
    const pager = receivers.pager.pagerduty_configs[0];
    const chat = receivers.chat.slack_configs[0];
    expect(pager.routing_key).toMatch(/^REPLACE-/);
    expect(new URL(chat.api_url).hostname).toMatch(/\.invalid$/);
    expect(chat.api_url).toContain('REPLACE');
    expect(pager.send_resolved && chat.send_resolved).toBe(true);
  });

  (amtool ? it : it.skip)('passes amtool check-config, templates included', () => {
    const result = run('amtool', ['check-config', 'alertmanager.yml'], ALERTMANAGER_DIR);
    expect(result.status).toBe(0);
    expect(result.output).toContain('SUCCESS');
    expect(result.output).toContain('- 1 templates');
  });

  (amtool ? it : it.skip)('routes critical alerts to the pager and warnings to the chat', () => {
    const severities = [...new Set(rules.map((r) => r.labels.severity))].sort();
    expect(severities).toEqual(['critical', 'warning']);
    const routed = (labels: string[]) =>
      run(
        'amtool',
        ['config', 'routes', 'test', '--config.file=alertmanager.yml', ...labels],
        ALERTMANAGER_DIR,
      )
        .output.split('\n')
        .filter((l) => l.length > 0 && !l.startsWith('Warning'))
        .join(',');
    for (const rule of rules) {
      const labels = Object.entries({ alertname: rule.alert, ...rule.labels }).map(([k, v]) => `${k}=${v}`);
      expect([rule.alert, routed(labels)]).toEqual([
        rule.alert,
        rule.labels.severity === 'critical' ? 'pager' : 'chat',
      ]);
    }
  });

  (amtool ? it : it.skip)("renders the receivers' messages from an alert's summary and description", () => {
    const rule = rules.find((r) => r.alert === 'ProcessingBacklogHigh')!;
    const data = {
      receiver: 'chat',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: rule.alert, ...rule.labels },
          annotations: { summary: rule.annotations.summary, description: '150 pending events.' },
          startsAt: '2026-01-01T00:00:00Z',
          endsAt: '0001-01-01T00:00:00Z',
        },
      ],
      groupLabels: { alertname: rule.alert, service: rule.labels.service },
      commonLabels: { alertname: rule.alert, ...rule.labels },
      commonAnnotations: { summary: rule.annotations.summary },
      externalURL: 'http://alertmanager.invalid',
    };
    const dir = mkdtempSync(join(tmpdir(), 'opal-alertmanager-'));
    writeFileSync(join(dir, 'data.json'), JSON.stringify(data));
    const render = (template: string) =>
      run(
        'amtool',
        [
          'template',
          'render',
          '--template.glob=templates/*.tmpl',
          `--template.data=${join(dir, 'data.json')}`,
          `--template.text={{ template "${template}" . }}`,
        ],
        ALERTMANAGER_DIR,
      );
    expect(render('opal.chat.title')).toEqual({
      status: 0,
      output: '[FIRING:1] ProcessingBacklogHigh (warning)',
    });
    expect(render('opal.pager.description')).toEqual({
      status: 0,
      output: `ProcessingBacklogHigh: ${rule.annotations.summary}`,
    });
    expect(render('opal.alerts.text')).toEqual({
      status: 0,
      output: `${rule.annotations.summary}\n150 pending events.\n`,
    });
  });
});
