import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { MetricsService } from './metrics.service';

interface Rule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: { summary: string };
}

const PROMQL_WORDS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'rate',
  'increase',
  'histogram_quantile',
  'absent',
  'and',
  'or',
  'unless',
  'on',
  'by',
  'without',
  'le',
]);

function rules(): Rule[] {
  const doc = parse(readFileSync(join(process.cwd(), 'deploy/prometheus/alerts.yml'), 'utf8')) as {
    groups: { name: string; rules: Rule[] }[];
  };
  return doc.groups.flatMap((g) => g.rules);
}

/** Metric names in an expression: identifiers outside label matchers, strings and durations. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/"[^"]*"/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\bby\s*\([^)]*\)/g, ' ');
  const names = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n)))];
}

describe('deploy/prometheus/alerts.yml', () => {
  const registered = new Set(
    new MetricsService().registry.getMetricsAsArray().flatMap((m) => {
      const name = m.name;
      return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
    }),
  );

  it('expresses every alert rule of the runbook with its severity', () => {
    const bySeverity = Object.fromEntries(rules().map((r) => [r.alert, r.labels.severity]));
    expect(bySeverity).toMatchObject({
      ForceSyncSuccessRateLow: 'critical',
      NoWebhookEvents: 'critical',
      DatabaseDown: 'critical',
      AuthenticationFailures: 'critical',
      ForceSyncSlowResponse: 'warning',
      ProcessingBacklogHigh: 'warning',
      SignatureFailureRateHigh: 'warning',
    });
  });

  it('uses the runbook thresholds', () => {
    const expr = Object.fromEntries(rules().map((r) => [r.alert, r.expr.replace(/\s+/g, ' ').trim()]));
    expect(expr.ForceSyncSuccessRateLow).toMatch(/\[15m\].*< 0\.90/);
    expect(expr.NoWebhookEvents).toContain('[1h]');
    expect(expr.AuthenticationFailures).toMatch(/\[10m\]\)\) > 5$/);
    expect(expr.ForceSyncSlowResponse).toMatch(/histogram_quantile\(0\.95,.*\) > 5$/);
    expect(expr.ProcessingBacklogHigh).toMatch(/> 100$/);
    expect(expr.SignatureFailureRateHigh).toMatch(/> 0\.10$/);
  });

  it('refers only to series the service exposes', () => {
    const used = rules().flatMap((r) => metricNames(r.expr).map((name) => ({ alert: r.alert, name })));
    expect(used.length).toBeGreaterThan(7);
    expect(used.filter((u) => !registered.has(u.name))).toEqual([]);
  });

  it('finds metric names in an expression (and so can fail)', () => {
    expect(metricNames('sum(rate(foo_total{a="b"}[5m])) / on() max(bar) > 1')).toEqual(['foo_total', 'bar']);
    expect(registered.has('not_a_metric_total')).toBe(false);
  });
});
