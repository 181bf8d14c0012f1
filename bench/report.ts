import type { LoadAverage, MachineState, SourceState } from './provenance';
import type { Spread } from './stats';
import type { LivePushResults } from './live-push';

/** Bumped when the shape of a results file changes (the README generator refuses a shape it does not know). */
export const RESULTS_SCHEMA = 2;

export const INGEST_VARIANTS = ['known', 'unknown', 'duplicates'] as const;
export type IngestVariant = (typeof INGEST_VARIANTS)[number];
/** In the order of the first round; later rounds rotate it. */
export const INGEST_TARGETS = ['baseline', 'service', 'ceiling'] as const;
export type IngestTarget = (typeof INGEST_TARGETS)[number];

const VARIANT_LABELS: Record<IngestVariant, string> = {
  known: 'known workflows',
  unknown: 'unknown workflows (relinked later)',
  duplicates: '10 % repeats (409)',
};
const TARGET_LABELS: Record<IngestTarget, string> = {
  service: 'service',
  baseline: 'per-event baseline',
  ceiling: 'ceiling (group commit)',
};

export interface Goal {
  name: string;
  value: number | null;
  target: string;
  met: boolean;
}

/** One measured closed-loop run of one traffic kind against one target. */
export interface IngestRun {
  round: number;
  duration_s: number;
  sent: number;
  repeats_sent: number;
  accepted_202: number;
  conflicts_409: number;
  /** Events stored per second (202 answers). */
  events_per_s: number;
  /** Requests answered as expected (202, and 409 for repeats) per second. */
  requests_per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  errors: number;
  statuses: Record<string, number>;
  stored: number;
  lost: number;
  /** CPU time of the server process and of the PostgreSQL backends per 1,000 answered requests, load window. */
  cpu_ms_per_1k_requests: { server: number | null; postgres: number | null };
  error_samples: string[];
  /** Service only: from the end of the load until no event was pending. */
  backlog_drained_after_ms?: number;
  /** Service, unknown workflows only: the workflows were created after the run; their events must all link. */
  relink?: {
    events: number;
    unmatched_before: number;
    linked: number;
    all_linked: boolean;
    after_ms: number;
  };
}

export interface IngestTargetSummary {
  events_per_s: Spread;
  p50_ms: Spread;
  p99_ms: Spread;
  cpu_ms_per_1k_requests_server: Spread;
  cpu_ms_per_1k_requests_postgres: Spread;
  runs: IngestRun[];
}

export interface IngestVariantSummary {
  baseline: IngestTargetSummary;
  service: IngestTargetSummary;
  ceiling: IngestTargetSummary;
  /** Service events/s over the target's, paired within each round. */
  ratio_to_baseline: Spread;
  ratio_to_ceiling: Spread;
  lost: number;
  errors: number;
  relinked_all: boolean;
}

export interface OpenLoopRun {
  share: number;
  rate_per_s: number;
  duration_s: number;
  sent: number;
  accepted_202: number;
  achieved_per_s: number;
  /** From each request's due time. */
  p50_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  errors: number;
  stored: number;
  lost: number;
  /** Stored to processed, for the events of this run. */
  processing_lag: { p50_ms: number | null; p99_ms: number | null };
  cpu_ms_per_1k_requests: { server: number | null; postgres: number | null };
  error_samples: string[];
}

interface Latency {
  p50_ms: number | null;
  p99_ms: number | null;
}

/** The shape of a benchmark results file (scenario objects are filled by run.ts). */
export interface BenchResults {
  schema: number;
  date: string;
  quick: boolean;
  /** The scenarios that ran (BENCH_SCENARIOS); absent in files written before the selection existed. */
  scenarios_run?: string[];
  /** Every scenario ran: only such a run is published (latest.*). */
  complete?: boolean;
  duration_s: number;
  source: SourceState;
  machine: MachineState & {
    postgres: string;
    database: string;
    /** Other work on the machine skews every figure: the load averages (1, 5, 15 min) are recorded. */
    load_avg_before: LoadAverage;
    load_avg_after: LoadAverage;
  };
  setup: Record<string, string>;
  /** A run of a selection (BENCH_SCENARIOS) holds only the selected scenarios. */
  scenarios: Partial<ScenarioResults> & Pick<ScenarioResults, 'memory'>;
  goals: Goal[];
}

export interface ScenarioResults {
  webhook_ingest: {
    connections: number;
    repeats: number;
    measured_s: number;
    variants: Record<IngestVariant, IngestVariantSummary>;
  };
  open_loop_ingest: { ceiling_events_per_s: number; connections: number; runs: OpenLoopRun[] };
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
    completion: Latency;
    processing_lag: Latency;
    /** From the force sync's due time to the workflow's last stored callback (delivery, before processing). */
    last_callback_stored: Latency;
    force_sync_answer: Latency;
  };
  diagnostics: {
    rows: number;
    workflows: number;
    build_s: number | null;
    samples_per_query: number;
    shape: {
      received_late_minutes_share: number;
      received_late_hours_share: number;
      out_of_order_share: number;
      busiest_day_events: number;
      quietest_day_events: number;
      avg_payload_bytes: number;
      avg_payload_stored_bytes: number;
    };
    queries: { name: string; p50_ms: number | null; p95_ms: number | null; returned_p50: number | null }[];
  };
  live_push?: LivePushResults;
  memory: {
    peak_rss_mb: number;
    sampled_peak_rss_mb: number;
    vm_hwm_mb: number | null;
    sampled_peak_by_phase_mb: Record<string, number>;
  };
}

const fmt = (value: number | null | undefined): string =>
  value === null || value === undefined ? '–' : String(value);

const thousands = (value: number): string => value.toLocaleString('en-US');

/** `median (min–max)`, or the single value when there was one run. */
export function formatSpread(s: Spread, unit = ''): string {
  if (s.median === null) return '–';
  if (s.runs.length <= 1 || s.min === s.max) return `${s.median}${unit}`;
  return `${s.median}${unit} (${s.min}–${s.max})`;
}

const pct = (share: number): string => `${Math.round(share * 1000) / 10} %`;

function goalMark(r: BenchResults, name: string): string {
  const g = r.goals.find((x) => x.name === name);
  return g ? `${g.target} ${g.met ? '✅' : '❌'}` : '';
}

function table(header: string[], rows: string[][]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

/** One line saying which code was measured, on what, and how busy the machine was. */
export function describeRun(r: BenchResults): string {
  const m = r.machine;
  const commit = r.source.commit
    ? `commit \`${r.source.commit.slice(0, 7)}\`${r.source.dirty ? ' with uncommitted changes' : ''}`
    : 'an unknown commit';
  return `Benchmark ${r.quick ? '(quick mode: short runs, not for publication) ' : ''}of ${r.date.slice(0, 10)}, ${commit}, on ${m.cores} cores (${m.cpu_model}), ${m.memory_gb} GB memory, Node ${m.node}, PostgreSQL ${m.postgres} (${m.database}); load average (1/5/15 min) ${m.load_avg_before.join(' / ')} before, ${m.load_avg_after.join(' / ')} after; the run took ${Math.round(r.duration_s / 60)} min (${r.duration_s} s).`;
}

/** The Markdown the README's "Performance" section reproduces (and latest.md holds). */
export function renderMarkdown(r: BenchResults): string {
  const s = r.scenarios;
  const ingest = s.webhook_ingest;
  const ingestRows: string[][] = [];
  for (const variant of ingest ? INGEST_VARIANTS : []) {
    const v = ingest!.variants[variant];
    for (const target of ['service', 'baseline', 'ceiling'] as const) {
      const t = v[target];
      const lost = t.runs.reduce((sum, run) => sum + run.lost, 0);
      const errors = t.runs.reduce((sum, run) => sum + run.errors, 0);
      const conflicts = t.runs.reduce((sum, run) => sum + run.conflicts_409, 0);
      ingestRows.push([
        target === 'service' ? VARIANT_LABELS[variant] : '',
        TARGET_LABELS[target],
        formatSpread(t.events_per_s),
        formatSpread(t.p99_ms),
        `${formatSpread(t.cpu_ms_per_1k_requests_server)} / ${formatSpread(t.cpu_ms_per_1k_requests_postgres)}`,
        `${errors} / ${lost}${variant === 'duplicates' ? `; ${thousands(conflicts)} × 409` : ''}`,
        target === 'service'
          ? `p99 ${goalMark(r, `webhook_ingest ${variant}: service p99 (ms, median)`)}; lost ${goalMark(r, `webhook_ingest ${variant}: lost (all runs, all targets)`)}`
          : '',
      ]);
    }
    const relink = v.service.runs
      .map((run) => run.relink)
      .filter((x): x is NonNullable<IngestRun['relink']> => x !== undefined);
    ingestRows.push([
      '',
      '**ratio** service / baseline, service / ceiling',
      `**${formatSpread(v.ratio_to_baseline)}**, **${formatSpread(v.ratio_to_ceiling)}**`,
      '',
      '',
      relink.length > 0
        ? `relinked ${relink.map((x) => `${thousands(x.linked)}/${thousands(x.events)} in ${(x.after_ms / 1000).toFixed(1)} s`).join(', ')}`
        : '',
      `${goalMark(r, `webhook_ingest ${variant}: ratio to the per-event baseline (median)`)}, aim ${goalMark(r, `webhook_ingest ${variant}: ratio to the ceiling (median)`)}`,
    ]);
  }

  const open = s.open_loop_ingest;
  const e = s.workflow_e2e;
  const d = s.diagnostics;
  const f = s.force_sync;
  const live = s.live_push;
  const otherRows: string[][] = [
    ...(open?.runs ?? []).map((run) => [
      `open-loop ingest at ${run.share * 100} % of the ceiling (${thousands(run.rate_per_s)}/s)`,
      `from due time p50 ${fmt(run.p50_ms)} ms, p99 ${fmt(run.p99_ms)} ms, max ${fmt(run.max_ms)} ms; ${thousands(run.accepted_202)}/${thousands(run.sent)} × 202, errors ${run.errors}, lost ${run.lost}; processing lag p50 ${fmt(run.processing_lag.p50_ms)} ms, p99 ${fmt(run.processing_lag.p99_ms)} ms`,
      [
        `p99 ${goalMark(r, `open-loop ingest at ${run.share * 100} % of the ceiling: p99 from due time (ms)`)}`,
        run.share === 0.5
          ? `lag ${goalMark(r, 'processing lag at nominal load (open loop, 50 %): p99 (ms)')}`
          : '',
      ]
        .filter(Boolean)
        .join('; '),
    ]),
    ...(f
      ? [
          [
            'force_sync',
            `p50 ${fmt(f.p50_ms)} ms, p99 ${fmt(f.p99_ms)} ms (${f.rate_per_s}/s, ${f.ok_2xx}/${f.requests} 2xx)`,
            goalMark(r, 'force_sync p99 (ms)'),
          ],
        ]
      : []),
    ...(e
      ? [
          [
            'workflow_e2e',
            `${e.completed}/${e.workflows} completed: p50 ${fmt(e.completion.p50_ms)} ms, p99 ${fmt(e.completion.p99_ms)} ms (force sync answered p99 ${fmt(e.force_sync_answer.p99_ms)} ms, last callback stored p99 ${fmt(e.last_callback_stored.p99_ms)} ms); processing lag p50 ${fmt(e.processing_lag.p50_ms)} ms, p99 ${fmt(e.processing_lag.p99_ms)} ms`,
            goalMark(r, 'workflow_e2e p99 (ms)'),
          ],
        ]
      : []),
    ...(d?.queries ?? []).map((q) => [
      `diagnostics (${thousands(d!.rows)} events): ${q.name}`,
      `p50 ${fmt(q.p50_ms)} ms, p95 ${fmt(q.p95_ms)} ms (${d!.samples_per_query} samples, ${fmt(q.returned_p50)} rows returned at the median)`,
      goalMark(r, `diagnostics ${q.name} p95 (ms)`),
    ]),
    ...(live
      ? [
          [
            `live_push: ${live.nominal.workflows} workflows, a stream each`,
            `callback 202 → frame p50 ${fmt(live.nominal.p50_ms)} ms, p99 ${fmt(live.nominal.p99_ms)} ms, max ${fmt(live.nominal.max_ms)} ms over ${live.nominal.callbacks} callbacks (missed ${live.nominal.missed}); processing lag p50 ${fmt(live.nominal.processing_lag.p50_ms)} ms, p99 ${fmt(live.nominal.processing_lag.p99_ms)} ms`,
            `${goalMark(r, 'live_push: callback 202 → frame p99 (ms, nominal)')}; missed ${goalMark(r, 'live_push: frames missed (both rounds)')}`,
          ],
          [
            `live_push at the ingest ceiling (${thousands(live.at_ceiling.background_events_per_s ?? 0)} events/s alongside)`,
            `callback 202 → frame p50 ${fmt(live.at_ceiling.p50_ms)} ms, p99 ${fmt(live.at_ceiling.p99_ms)} ms, max ${fmt(live.at_ceiling.max_ms)} ms (missed ${live.at_ceiling.missed})`,
            'reported',
          ],
          [
            `live_push: ${thousands(live.idle_streams.opened)} idle streams`,
            `service RSS ${live.idle_streams.rss_before_mb} MB before, peak ${live.idle_streams.peak_rss_mb} MB`,
            goalMark(r, `live_push: peak RSS with ${live.idle_streams.opened} idle streams (MB)`),
          ],
        ]
      : []),
    [
      'memory (service process)',
      `peak RSS ${s.memory.peak_rss_mb} MB (${Object.entries(s.memory.sampled_peak_by_phase_mb)
        .map(([phase, mb]) => `${phase} ${mb}`)
        .join(', ')})`,
      goalMark(r, 'peak RSS (MB)'),
    ],
  ];
  const shape = d?.shape;
  return [
    describeRun(r),
    ...(r.complete === false ? ['', `Only these scenarios ran: ${(r.scenarios_run ?? []).join(', ')}.`] : []),
    '',
    ...(ingest
      ? [
          `Ingest: closed loop, ${ingest.connections} connections, ${ingest.repeats} round${ingest.repeats === 1 ? '' : 's'} of ${ingest.measured_s} s per traffic kind and target with the order rotated each round; median (range) over the rounds. CPU in ms per 1,000 answered requests (server process / PostgreSQL backends); errors / lost over all rounds.`,
          '',
          ...table(
            ['Traffic', 'Target', 'events/s', 'p99 ms', 'CPU ms per 1,000', 'errors / lost', 'Goal'],
            ingestRows,
          ),
          '',
        ]
      : []),
    ...(d && shape
      ? [
          `Diagnostics dataset: ${thousands(d.rows)} events of ${thousands(d.workflows)} workflows, written pending then processed; ${pct(shape.received_late_minutes_share)} received minutes late and ${pct(shape.received_late_hours_share)} hours late (${pct(shape.out_of_order_share)} out of order), ${thousands(shape.quietest_day_events)}–${thousands(shape.busiest_day_events)} events a day, payloads ${thousands(shape.avg_payload_bytes)} bytes of JSON on average (${thousands(shape.avg_payload_stored_bytes)} as stored); every sample draws new parameters.`,
          '',
        ]
      : []),
    ...table(['Scenario', 'Measured', 'Goal'], otherRows),
    '',
  ].join('\n');
}
