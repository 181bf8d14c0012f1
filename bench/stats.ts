/** Nearest-rank percentile of an ascending array (null when empty). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface LatencySummary {
  count: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(sorted.length > 0 ? sorted[sorted.length - 1] : null),
  };
}

export function round(value: number | null, digits = 1): number | null {
  if (value === null) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Median and range of repeated measurements of one figure (null entries are ignored). */
export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
  runs: (number | null)[];
}

export function spread(values: readonly (number | null)[], digits = 2): Spread {
  const present = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (present.length === 0) return { median: null, min: null, max: null, runs: [...values] };
  const mid = Math.floor(present.length / 2);
  const median = present.length % 2 === 1 ? present[mid] : (present[mid - 1] + present[mid]) / 2;
  return {
    median: round(median, digits),
    min: round(present[0], digits),
    max: round(present[present.length - 1], digits),
    runs: [...values],
  };
}
