export interface Goal {
  name: string;
  value: number | null;
  target: string;
  met: boolean;
}

/** The shape of bench/results/latest.json (scenario objects are documented by run.ts, which fills them). */
export interface BenchResults {
  date: string;
  quick: boolean;
  duration_s: number;
  machine: {
    cores: number;
    cpu_model: string;
    memory_gb: number;
    node: string;
    postgres: string;
    os: string;
    database: string;
    /** Other work on the machine during the run skews every figure: the 1-minute load average is recorded. */
    load_avg_1m_before: number | null;
    load_avg_1m_after: number | null;
  };
  setup: Record<string, string>;
  scenarios: {
    webhook_ingest: {
      connections: number;
      ratio: number;
      service: IngestFigures & { backlog_drained_after_ms: number };
      baseline: IngestFigures;
    };
    force_sync: {
      rate_per_s: number;
      requests: number;
      ok_2xx: number;
      errors: number;
      p50_ms: number | null;
      p99_ms: number | null;
    };
    workflow_e2e: {
      workflows: number;
      completed: number;
      not_finished: number;
      events: number;
      completion: { p50_ms: number | null; p99_ms: number | null };
      processing_lag: { p50_ms: number | null; p99_ms: number | null };
      /** From the force sync's due time to the workflow's last stored callback (delivery, before processing). */
      last_callback_stored: { p50_ms: number | null; p99_ms: number | null };
      force_sync_answer: { p50_ms: number | null; p99_ms: number | null };
    };
    diagnostics_1m: {
      rows: number;
      insert_s: number | null;
      samples_per_query: number;
      queries: { name: string; p50_ms: number | null; p95_ms: number | null; returned: number }[];
    };
    memory: {
      peak_rss_mb: number;
      sampled_peak_rss_mb: number;
      vm_hwm_mb: number | null;
      sampled_peak_by_phase_mb: Record<string, number>;
    };
  };
  goals: Goal[];
}

interface IngestFigures {
  duration_s: number;
  events_per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  errors: number;
  lost: number;
  accepted_2xx: number;
  stored: number;
  /** CPU time of the server process and of the PostgreSQL backends per 1,000 accepted events. */
  cpu_ms_per_1k_events: { server: number | null; postgres: number | null };
}

const fmt = (value: number | null | undefined): string =>
  value === null || value === undefined ? '–' : String(value);

const cpu = (figures: IngestFigures): string =>
  `CPU per 1,000 events: server ${fmt(figures.cpu_ms_per_1k_events.server)} ms, PostgreSQL ${fmt(figures.cpu_ms_per_1k_events.postgres)} ms`;

/** The Markdown table the README's "Performance" section reproduces. */
export function renderMarkdown(r: BenchResults): string {
  const s = r.scenarios;
  const i = s.webhook_ingest;
  const e = s.workflow_e2e;
  const d = s.diagnostics_1m;
  const met = (name: string): string => {
    const g = r.goals.find((x) => x.name === name);
    return g ? `${g.target} ${g.met ? '✅' : '❌'}` : '';
  };
  const rows: string[][] = [
    [
      'webhook_ingest (service)',
      `${i.service.events_per_s} events/s, p50 ${fmt(i.service.p50_ms)} ms, p99 ${fmt(i.service.p99_ms)} ms, errors ${i.service.errors}, lost ${i.service.lost}; ${cpu(i.service)}`,
      `p99 ${met('webhook_ingest p99 (ms)')}; lost ${met('webhook_ingest lost')}`,
    ],
    [
      'webhook_ingest (baseline: node:http + pg)',
      `${i.baseline.events_per_s} events/s, p50 ${fmt(i.baseline.p50_ms)} ms, p99 ${fmt(i.baseline.p99_ms)} ms, errors ${i.baseline.errors}, lost ${i.baseline.lost}; ${cpu(i.baseline)}`,
      '',
    ],
    ['webhook_ingest ratio', `${i.ratio}`, met('webhook_ingest ratio (service / baseline)')],
    [
      'force_sync',
      `p50 ${fmt(s.force_sync.p50_ms)} ms, p99 ${fmt(s.force_sync.p99_ms)} ms (${s.force_sync.rate_per_s}/s, ${s.force_sync.ok_2xx}/${s.force_sync.requests} 2xx)`,
      met('force_sync p99 (ms)'),
    ],
    [
      'workflow_e2e',
      `${e.completed}/${e.workflows} completed: p50 ${fmt(e.completion.p50_ms)} ms, p99 ${fmt(e.completion.p99_ms)} ms (force sync answered p99 ${fmt(e.force_sync_answer.p99_ms)} ms, last callback stored p99 ${fmt(e.last_callback_stored.p99_ms)} ms); processing lag p50 ${fmt(e.processing_lag.p50_ms)} ms, p99 ${fmt(e.processing_lag.p99_ms)} ms`,
      met('workflow_e2e p99 (ms)'),
    ],
    ...d.queries.map((q) => [
      `diagnostics (${d.rows.toLocaleString('en-US')} events): ${q.name}`,
      `p50 ${fmt(q.p50_ms)} ms, p95 ${fmt(q.p95_ms)} ms`,
      met(`diagnostics ${q.name} p95 (ms)`),
    ]),
    [
      'memory (service process)',
      `peak RSS ${s.memory.peak_rss_mb} MB (${Object.entries(s.memory.sampled_peak_by_phase_mb)
        .map(([phase, mb]) => `${phase} ${mb}`)
        .join(', ')})`,
      met('peak RSS (MB)'),
    ],
  ];
  const m = r.machine;
  return [
    `Benchmark ${r.quick ? '(quick mode: short runs, not for publication) ' : ''}of ${r.date.slice(0, 10)} on ${m.cores} cores (${m.cpu_model}), ${m.memory_gb} GB memory, Node ${m.node}, PostgreSQL ${m.postgres} (${m.database}); load average ${fmt(m.load_avg_1m_before)} before, ${fmt(m.load_avg_1m_after)} after; ${i.connections} connections for ingest; run took ${r.duration_s} s.`,
    '',
    '| Scenario | Measured | Goal |',
    '|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
  ].join('\n');
}
