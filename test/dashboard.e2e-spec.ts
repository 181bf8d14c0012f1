import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { parse } from 'yaml';
import { createTestApp, operatorHeaders, resetDatabase, type TestApp } from './support/app';

/*
 * deploy/grafana/opal-force-sync.json against the service: every expression of every panel names only series a
 * live GET /metrics exports (histogram series by their _bucket/_sum/_count), with label names those series carry
 * and label values they take, so the dashboard cannot drift from the code. And it is provisionable: the data
 * source is a variable, the provisioning file points Grafana at it, the runbook's panels are there.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- parsed JSON is walked field by field */

const root = process.cwd();
const GRAFANA_DIR = join(root, 'deploy', 'grafana');
const dashboard: any = JSON.parse(readFileSync(join(GRAFANA_DIR, 'opal-force-sync.json'), 'utf8'));
const provisioning: any = parse(readFileSync(join(GRAFANA_DIR, 'provisioning', 'dashboards.yml'), 'utf8'));

/** Every panel, rows' nested panels included. */
function allPanels(panels: any[]): any[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const panels = allPanels(dashboard.panels);
const queries: { panel: string; expr: string }[] = panels.flatMap((p) =>
  (p.targets ?? []).map((t: any) => ({ panel: p.title as string, expr: t.expr as string })),
);

/** PromQL keywords that look like identifiers (functions are recognised by the parenthesis that follows). */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

interface Selector {
  metric: string;
  /** Matchers with their operator: =, !=, =~, !~. */
  matchers: { label: string; op: string; value: string }[];
}

/**
 * The vector selectors of a PromQL expression: metric names (identifiers that are neither keywords, nor
 * functions, nor Grafana variables, nor inside strings, label matchers, ranges or grouping clauses) with the label
 * matchers written right after them.
 */
function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  // Grafana variables outside strings ($__rate_interval, ${job}) are tokens of their own, never metric names.
  const token =
    /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\[[^\]]*\]|\$\{?\w+\}?|[a-zA-Z_:][a-zA-Z0-9_:]*|\d[\w.]*|[(){},]|\S/g;
  const tokens = expr.match(token) ?? [];
  for (let i = 0; i < tokens.length; i++) {
    const word = tokens[i];
    if (!/^[a-zA-Z_:]/.test(word)) continue;
    const lower = word.toLowerCase();
    if (
      ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'].includes(lower) &&
      tokens[i + 1] === '('
    ) {
      // A grouping clause: skip its label list.
      while (i < tokens.length && tokens[i] !== ')') i++;
      continue;
    }
    if (KEYWORDS.has(lower)) {
      if (lower === 'offset') i++; // its duration
      continue;
    }
    // A function, or an aggregation whose grouping clause comes first (`sum by (le) (…)`).
    if (tokens[i + 1] === '(' || ['by', 'without'].includes(tokens[i + 1]?.toLowerCase())) continue;
    const selector: Selector = { metric: word, matchers: [] };
    if (tokens[i + 1] === '{') {
      let j = i + 2;
      for (; j < tokens.length && tokens[j] !== '}'; j++) {
        const label = tokens[j];
        if (!/^[a-zA-Z_]/.test(label)) continue;
        let op = tokens[j + 1];
        let k = j + 2;
        if ((op === '=' || op === '!') && (tokens[k] === '~' || tokens[k] === '=')) {
          op += tokens[k];
          k++;
        }
        const quoted = tokens[k];
        selector.matchers.push({ label, op, value: quoted.slice(1, -1) });
        j = k;
      }
      i = j;
    }
    out.push(selector);
  }
  return out;
}

/** The exposition's series: metric family (declared by # TYPE) → its samples' label sets, by sample name. */
function exposition(text: string): {
  types: Map<string, string>;
  samples: Map<string, Record<string, string>[]>;
} {
  const types = new Map<string, string>();
  const samples = new Map<string, Record<string, string>[]>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (line.length === 0 || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.set(match[1], [...(samples.get(match[1]) ?? []), labels]);
  }
  return { types, samples };
}

/** The metric family a sample name belongs to, when it is declared: histograms and summaries add suffixes. */
function familyOf(name: string, types: Map<string, string>): string | null {
  if (types.has(name)) return name;
  const suffix = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (suffix && ['histogram', 'summary'].includes(types.get(suffix[1]) ?? '')) return suffix[1];
  return null;
}

/** Labels Prometheus adds when it scrapes. */
const SCRAPE_LABELS = new Set(['job', 'instance']);

describe('deploy/grafana/opal-force-sync.json: provisionable', () => {
  it('takes its data source from a variable: every panel and query uses it', () => {
    const variables = dashboard.templating.list as any[];
    const datasource = variables.find((v) => v.type === 'datasource');
    expect(datasource).toMatchObject({ name: 'datasource', query: 'prometheus' });
    const job = variables.find((v) => v.name === 'job');
    expect(job.query).toBe('opal-force-sync');
    const dataPanels = panels.filter((p) => p.type !== 'row');
    expect(dataPanels.length).toBeGreaterThan(15);
    const refs = [
      ...dataPanels.map((p) => ({ where: p.title, ds: p.datasource })),
      ...dataPanels.flatMap((p) =>
        p.targets.map((t: any) => ({ where: `${p.title} ${t.refId}`, ds: t.datasource })),
      ),
    ];
    expect(refs.filter((r) => r.ds?.uid !== '${datasource}' || r.ds?.type !== 'prometheus')).toEqual([]);
    // No data source of one Grafana installation is baked in.
    expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"(?!\$\{datasource\}|opal-force-sync")/);
  });

  it('selects the job of the variable in every expression', () => {
    const unscoped = queries.flatMap((q) =>
      selectors(q.expr)
        .filter((s) => !s.matchers.some((m) => m.label === 'job' && m.op === '=' && m.value === '$job'))
        .map((s) => ({ panel: q.panel, metric: s.metric })),
    );
    expect(unscoped).toEqual([]);
  });

  it('has unique panel ids, a stable uid and a provisioning file that loads it', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toBe('opal-force-sync');
    expect(dashboard.id ?? null).toBeNull();
    expect(provisioning.apiVersion).toBe(1);
    expect(provisioning.providers).toEqual([
      expect.objectContaining({
        type: 'file',
        options: expect.objectContaining({ path: expect.any(String) }),
      }),
    ]);
  });

  it("has the runbook's panels: volume, success rates, P50/P95/P99, errors by code, workflow status, service levels", () => {
    const titles = panels.map((p) => p.title as string);
    for (const wanted of [
      /request.*per hour/i,
      /success rate by endpoint/i,
      /P50 \/ P95 \/ P99/,
      /errors by status code/i,
      /active workflows/i,
      /completion rates/i,
      /workflow success rate/i,
      /agent success rate/i,
      /workflow duration p95/i,
      /first callback/i,
      /event processing success/i,
    ]) {
      expect([String(wanted), titles.some((t) => wanted.test(t))]).toEqual([String(wanted), true]);
    }
    const percentiles = queries.filter((q) => q.panel.includes('P50 / P95 / P99')).map((q) => q.expr);
    for (const q of ['0.5', '0.95', '0.99']) {
      expect(percentiles.some((e) => e.startsWith(`histogram_quantile(${q},`))).toBe(true);
    }
  });

  it('finds the selectors of an expression (and so can fail)', () => {
    expect(
      selectors(
        'histogram_quantile(0.95, sum by (le) (rate(foo_bucket{job="$job", le!="x"}[$__rate_interval]))) > 480 and on() bar offset 1h or vector(0)',
      ),
    ).toEqual([
      {
        metric: 'foo_bucket',
        matchers: [
          { label: 'job', op: '=', value: '$job' },
          { label: 'le', op: '!=', value: 'x' },
        ],
      },
      { metric: 'bar', matchers: [] },
    ]);
    expect(selectors('sum without (a, b) (x{c=~"d|e"}) / ignoring(f) y')).toEqual([
      { metric: 'x', matchers: [{ label: 'c', op: '=~', value: 'd|e' }] },
      { metric: 'y', matchers: [] },
    ]);
  });
});

describe('deploy/grafana/opal-force-sync.json against a live /metrics (e2e)', () => {
  let t: TestApp;
  let types: Map<string, string>;
  let samples: Map<string, Record<string, string>[]>;

  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMIT_READ_PER_MIN: '1' });
    await resetDatabase(t.dataSource);
    // Traffic that gives the labelled series the label values the panels select, as production traffic would:
    // a force sync (a call to the simulated OPAL), refused requests, a rate-limited read.
    await request(t.url).get('/api/health/live').expect(200);
    await request(t.url).post('/api/opal/sync').set(operatorHeaders()).send({}).expect(200);
    await request(t.url).post('/api/orchestrations/trigger').send({}).expect(401);
    await request(t.url).get('/api/opal/syncs').set(operatorHeaders()).expect(200);
    await request(t.url).get('/api/opal/syncs').set(operatorHeaders()).expect(429);
    const text = (await request(t.url).get('/metrics').expect(200)).text;
    ({ types, samples } = exposition(text));
  });
  afterAll(async () => {
    await resetDatabase(t.dataSource);
    await t.close();
  });

  it('uses only series the service exports, with their label names and values', () => {
    const used = queries.flatMap((q) => selectors(q.expr).map((s) => ({ panel: q.panel, ...s })));
    expect(used.length).toBeGreaterThan(40);
    const problems: string[] = [];
    for (const use of used) {
      const family = familyOf(use.metric, types);
      if (family === null) {
        problems.push(`${use.panel}: ${use.metric} is not exported`);
        continue;
      }
      const series = samples.get(use.metric) ?? [];
      if (series.length === 0) problems.push(`${use.panel}: ${use.metric} has no sample`);
      for (const m of use.matchers.filter((m) => !SCRAPE_LABELS.has(m.label))) {
        if (!series.some((labels) => m.label in labels)) {
          problems.push(`${use.panel}: ${use.metric} has no label ${m.label}`);
        } else if (m.op === '=' && !series.some((labels) => labels[m.label] === m.value)) {
          problems.push(`${use.panel}: ${use.metric} never has ${m.label}="${m.value}"`);
        } else if (m.op === '=~') {
          const pattern = new RegExp(`^(?:${m.value})$`);
          if (!series.some((labels) => pattern.test(labels[m.label] ?? ''))) {
            problems.push(`${use.panel}: no ${use.metric} matches ${m.label}=~"${m.value}"`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('covers the outcome series of the service levels', () => {
    const families = new Set(queries.flatMap((q) => selectors(q.expr).map((s) => familyOf(s.metric, types))));
    for (const name of [
      'workflows_finished_total',
      'workflow_duration_seconds',
      'workflow_first_callback_seconds',
      'agent_runs_finished_total',
      'webhook_events_processed_total',
      'http_request_duration_seconds',
      'http_requests_total',
      'workflows_active',
    ]) {
      expect([name, families.has(name)]).toEqual([name, true]);
    }
  });

  it('would see a metric the service does not export (the check can fail)', () => {
    expect(familyOf('workflows_finished_total', types)).toBe('workflows_finished_total');
    expect(familyOf('workflow_duration_seconds_bucket', types)).toBe('workflow_duration_seconds');
    expect(familyOf('workflows_finished_total_bucket', types)).toBeNull();
    expect(familyOf('workflow_successes_total', types)).toBeNull();
  });
});
