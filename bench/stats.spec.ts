import { percentile, spread, summarize } from './stats';

describe('benchmark statistics', () => {
  it('takes the nearest-rank percentile of a sorted list', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([], 50)).toBeNull();
    expect(summarize([3, 1, 2])).toMatchObject({ count: 3, p50_ms: 2, max_ms: 3 });
  });

  it('reports the median and the range of repeated runs, ignoring runs without a value', () => {
    expect(spread([0.71, 0.79, 0.7])).toEqual({ median: 0.71, min: 0.7, max: 0.79, runs: [0.71, 0.79, 0.7] });
    expect(spread([10, 20, 30, 40], 0)).toMatchObject({ median: 25, min: 10, max: 40 });
    expect(spread([null, 5, null])).toMatchObject({ median: 5, min: 5, max: 5 });
    expect(spread([])).toEqual({ median: null, min: null, max: null, runs: [] });
  });
});
