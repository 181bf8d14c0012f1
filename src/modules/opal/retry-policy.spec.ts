import {
  DEFAULT_BACKOFF_POLICY,
  RETRY_AFTER_CAP_MS,
  classifyOpalStatus,
  parseRetryAfterMs,
  retryDelayMs,
  shouldRetry,
} from './retry-policy';
import type { AttemptOutcome, BackoffPolicy } from './retry-policy';

const POLICY: BackoffPolicy = { baseDelayMs: 2000, maxDelayMs: 60000, maxAttempts: 6 };
const ZERO = () => 0;
const HALF = () => 0.5;
const ALMOST_ONE = () => 0.9999999;

describe('classifyOpalStatus', () => {
  it.each<[number | null, AttemptOutcome]>([
    [null, 'retryable'],
    [200, 'accepted'],
    [201, 'accepted'],
    [202, 'accepted'],
    [204, 'accepted'],
    [299, 'accepted'],
    [408, 'retryable'],
    [425, 'retryable'],
    [429, 'retryable'],
    [500, 'retryable'],
    [502, 'retryable'],
    [503, 'retryable'],
    [504, 'retryable'],
    [599, 'retryable'],
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [404, 'rejected'],
    [405, 'rejected'],
    [409, 'rejected'],
    [410, 'rejected'],
    [413, 'rejected'],
    [415, 'rejected'],
    [422, 'rejected'],
    [451, 'rejected'],
    [100, 'rejected'],
    [101, 'rejected'],
    [199, 'rejected'],
    [300, 'rejected'],
    [301, 'rejected'],
    [302, 'rejected'],
    [304, 'rejected'],
    [307, 'rejected'],
    [0, 'rejected'],
    [600, 'rejected'],
    [-1, 'rejected'],
    [200.5, 'rejected'],
    [Number.NaN, 'rejected'],
  ])('%p → %s', (status, outcome) => {
    expect(classifyOpalStatus(status)).toBe(outcome);
  });

  it('retries every 5xx and accepts every 2xx', () => {
    for (let s = 200; s < 300; s++) expect(classifyOpalStatus(s)).toBe('accepted');
    for (let s = 500; s < 600; s++) expect(classifyOpalStatus(s)).toBe('retryable');
    for (let s = 400; s < 500; s++) {
      expect(classifyOpalStatus(s)).toBe([408, 425, 429].includes(s) ? 'retryable' : 'rejected');
    }
  });
});

describe('parseRetryAfterMs', () => {
  const NOW = Date.parse('2025-01-01T12:00:00.000Z');

  it.each<[string, number]>([
    ['0', 0],
    ['1', 1000],
    ['30', 30000],
    [' 120 ', 120000],
    ['007', 7000],
    ['86400', 86400000],
  ])('delta-seconds %p → %i ms', (value, ms) => {
    expect(parseRetryAfterMs(value, NOW)).toBe(ms);
  });

  it.each<[string, number]>([
    ['Wed, 01 Jan 2025 12:00:30 GMT', 30000],
    ['Wed, 01 Jan 2025 13:00:00 GMT', 3600000],
    ['Wed, 01 Jan 2025 12:00:00 GMT', 0],
    ['Wednesday, 01-Jan-25 12:00:10 GMT', 10000],
    ['Wed Jan  1 12:00:20 2025', 20000],
  ])('HTTP-date %p → %i ms', (value, ms) => {
    expect(parseRetryAfterMs(value, NOW)).toBe(ms);
  });

  it('reads the zone-less asctime form as GMT whatever the local zone', () => {
    // The expected value is independent of TZ because the parser appends GMT itself.
    expect(parseRetryAfterMs('Wed Jan  1 12:01:00 2025', NOW)).toBe(60000);
  });

  it.each<[string | null | undefined]>([
    [undefined],
    [null],
    [''],
    ['   '],
    ['-5'],
    ['-0.5'],
    ['1.5'],
    ['+5'],
    ['1e3'],
    ['5s'],
    ['soon'],
    ['Infinity'],
    ['NaN'],
    ['Wed, 01 Jan 2025 11:59:59 GMT'],
    ['Tue, 31 Dec 2024 12:00:00 GMT'],
    ['Wed, 32 Foo 2025 12:00:00 GMT'],
  ])('%p → null (missing, malformed, negative or in the past)', (value) => {
    expect(parseRetryAfterMs(value, NOW)).toBeNull();
  });
});

describe('retryDelayMs', () => {
  it('grows exponentially: the jitter ceiling doubles per failed attempt', () => {
    const ceilings = [1, 2, 3, 4, 5].map((n) => retryDelayMs(n, POLICY, null, ALMOST_ONE));
    expect(ceilings).toEqual([1999, 3999, 7999, 15999, 31999]);
  });

  it.each<[number, number]>([
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [4, 8000],
    [5, 16000],
    [6, 30000],
    [7, 30000],
  ])('attempt %i with random 0.5 → %i ms', (attempt, ms) => {
    expect(retryDelayMs(attempt, POLICY, null, HALF)).toBe(ms);
  });

  it('is capped at maxDelayMs however many attempts failed', () => {
    for (const attempt of [6, 7, 10, 50, 1000, 5000]) {
      const delay = retryDelayMs(attempt, POLICY, null, ALMOST_ONE);
      expect(delay).toBeLessThan(POLICY.maxDelayMs);
      expect(delay).toBeGreaterThanOrEqual(59999);
    }
  });

  it('uses full jitter: random 0 gives no delay', () => {
    for (const attempt of [1, 2, 6, 20]) expect(retryDelayMs(attempt, POLICY, null, ZERO)).toBe(0);
  });

  it('stays within [0, ceiling) for any random value, including out-of-range ones', () => {
    for (const r of [0, 0.1, 0.5, 0.999999999, 1, 2, -1, Number.NaN]) {
      const delay = retryDelayMs(3, POLICY, null, () => r);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(8000);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it('treats an attempt number below 1 as the first attempt', () => {
    expect(retryDelayMs(0, POLICY, null, HALF)).toBe(1000);
    expect(retryDelayMs(-3, POLICY, null, HALF)).toBe(1000);
    expect(retryDelayMs(Number.NaN, POLICY, null, HALF)).toBe(1000);
  });

  it('defaults to Math.random', () => {
    for (let i = 0; i < 50; i++) {
      const delay = retryDelayMs(2, POLICY, null);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(4000);
    }
  });

  it('handles a zero base delay', () => {
    expect(retryDelayMs(5000, { ...POLICY, baseDelayMs: 0 }, null, HALF)).toBe(0);
  });

  describe('with Retry-After', () => {
    it('waits at least Retry-After', () => {
      expect(retryDelayMs(1, POLICY, 30000, ZERO)).toBe(30000);
      expect(retryDelayMs(1, POLICY, 30000, ALMOST_ONE)).toBe(30000);
    });

    it('keeps the jitter when it is longer than Retry-After', () => {
      expect(retryDelayMs(5, POLICY, 1000, HALF)).toBe(16000);
    });

    it('honours a Retry-After above maxDelayMs, up to the one-hour cap', () => {
      expect(retryDelayMs(1, POLICY, 120000, ZERO)).toBe(120000);
      expect(retryDelayMs(1, POLICY, RETRY_AFTER_CAP_MS, ZERO)).toBe(RETRY_AFTER_CAP_MS);
      expect(retryDelayMs(1, POLICY, 24 * RETRY_AFTER_CAP_MS, ZERO)).toBe(RETRY_AFTER_CAP_MS);
    });

    it('uses maxDelayMs as the bound when it is above one hour', () => {
      const longPolicy = { ...POLICY, maxDelayMs: 2 * RETRY_AFTER_CAP_MS };
      expect(retryDelayMs(1, longPolicy, 10 * RETRY_AFTER_CAP_MS, ZERO)).toBe(2 * RETRY_AFTER_CAP_MS);
    });

    it('ignores a zero, negative or non-finite Retry-After', () => {
      for (const retryAfter of [0, -5000, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(retryDelayMs(2, POLICY, retryAfter, HALF)).toBe(2000);
      }
    });

    it('rounds a fractional Retry-After up to whole milliseconds', () => {
      expect(retryDelayMs(1, POLICY, 1500.2, ZERO)).toBe(1501);
    });

    it('works with parseRetryAfterMs', () => {
      const now = Date.parse('2025-01-01T12:00:00.000Z');
      expect(retryDelayMs(1, POLICY, parseRetryAfterMs('45', now), HALF)).toBe(45000);
      expect(retryDelayMs(1, POLICY, parseRetryAfterMs('Wed, 01 Jan 2025 12:00:20 GMT', now), HALF)).toBe(
        20000,
      );
      expect(retryDelayMs(1, POLICY, parseRetryAfterMs('garbage', now), HALF)).toBe(1000);
    });
  });
});

describe('shouldRetry', () => {
  it.each<[number, AttemptOutcome, boolean]>([
    [1, 'retryable', true],
    [5, 'retryable', true],
    [6, 'retryable', false],
    [7, 'retryable', false],
    [1, 'accepted', false],
    [1, 'rejected', false],
    [5, 'rejected', false],
  ])('failed attempt %i, %s → %p', (attempt, outcome, want) => {
    expect(shouldRetry(attempt, outcome, POLICY)).toBe(want);
  });

  it('allows exactly maxAttempts attempts in total', () => {
    let attempts = 0;
    do attempts++;
    while (shouldRetry(attempts, 'retryable', POLICY));
    expect(attempts).toBe(POLICY.maxAttempts);
  });

  it('makes a single attempt when maxAttempts is 1', () => {
    expect(shouldRetry(1, 'retryable', { ...POLICY, maxAttempts: 1 })).toBe(false);
  });
});

describe('DEFAULT_BACKOFF_POLICY', () => {
  it('matches the contract defaults and is frozen', () => {
    expect(DEFAULT_BACKOFF_POLICY).toEqual({ baseDelayMs: 2000, maxDelayMs: 60000, maxAttempts: 6 });
    expect(Object.isFrozen(DEFAULT_BACKOFF_POLICY)).toBe(true);
  });
});
