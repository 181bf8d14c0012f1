/**
 * Retry classification and backoff for the trigger call to OPAL (contract section 4).
 *
 * Kept free of I/O and clocks (time and randomness are passed in) so the durable retry scheduler and its
 * tests agree on every delay.
 *
 * - Classification: a 2xx is accepted; no status at all (network error, per-attempt timeout), 408, 425, 429
 *   and 5xx are worth retrying; every other status (400, 401, 403, 404, 422, other 4xx, 1xx, 3xx, anything
 *   out of range) is a refusal that another attempt would only repeat.
 * - Delay after failed attempt n (1-based): exponential with full jitter,
 *   floor(random() * min(maxDelayMs, baseDelayMs * 2^(n-1))).
 * - Retry-After: the delay is max(jitter, Retry-After), so OPAL's request is honoured even when it asks for
 *   longer than our own cap (retrying earlier would just spend an attempt on another 429/503). It is bounded
 *   by max(maxDelayMs, RETRY_AFTER_CAP_MS = 1 hour) so a bogus or hostile header cannot park a trigger for
 *   days; the caller's attempt limit still applies.
 */

export type AttemptOutcome = 'accepted' | 'retryable' | 'rejected';

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}

/** The contract's defaults: OPAL_RETRY_BASE_DELAY_MS, OPAL_RETRY_MAX_DELAY_MS, OPAL_MAX_ATTEMPTS. */
export const DEFAULT_BACKOFF_POLICY: Readonly<BackoffPolicy> = Object.freeze({
  baseDelayMs: 2000,
  maxDelayMs: 60000,
  maxAttempts: 6,
});

/** Upper bound for a delay stretched by Retry-After, unless maxDelayMs is larger still. */
export const RETRY_AFTER_CAP_MS = 60 * 60 * 1000;

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 425, 429]);

export function classifyOpalStatus(status: number | null): AttemptOutcome {
  if (status === null) return 'retryable';
  if (!Number.isInteger(status)) return 'rejected';
  if (status >= 200 && status <= 299) return 'accepted';
  if (RETRYABLE_STATUSES.has(status) || (status >= 500 && status <= 599)) return 'retryable';
  return 'rejected';
}

/**
 * Reads a Retry-After header (RFC 9110: delta-seconds or an HTTP-date) as milliseconds from `nowMs`.
 * Returns null for a missing, malformed or negative value and for a date that is already past, so the caller
 * falls back to the plain backoff.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;

  if (/^\d+$/.test(trimmed)) {
    const ms = Number(trimmed) * 1000;
    return Number.isFinite(ms) ? ms : null;
  }
  // Every HTTP-date form names a weekday and a month; without letters this is a malformed number (Date.parse
  // would read '-5' or '1.5' as a year).
  if (!/[a-z]/i.test(trimmed)) return null;
  // The asctime form carries no zone but means GMT; Date.parse would read it in the process's local zone.
  const text = /\d{2}:\d{2}:\d{2}\s+\d{4}$/.test(trimmed) ? `${trimmed} GMT` : trimmed;

  const dateMs = Date.parse(text);
  if (Number.isNaN(dateMs)) return null;
  const delta = dateMs - nowMs;
  return delta >= 0 ? delta : null;
}

export function retryDelayMs(
  failedAttempt: number,
  policy: BackoffPolicy,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const attempt = Number.isFinite(failedAttempt) ? Math.max(1, Math.floor(failedAttempt)) : 1;
  const maxDelay = Math.max(0, policy.maxDelayMs);
  const base = Math.max(0, policy.baseDelayMs);
  // Checked separately because 0 * 2 ** (a huge attempt) is 0 * Infinity = NaN.
  const ceiling = base === 0 ? 0 : Math.min(maxDelay, base * 2 ** (attempt - 1));
  const jitter = Math.floor(clampUnit(random()) * ceiling);

  if (retryAfterMs === null || !Number.isFinite(retryAfterMs) || retryAfterMs <= 0) return jitter;
  return Math.min(Math.max(jitter, Math.ceil(retryAfterMs)), Math.max(maxDelay, RETRY_AFTER_CAP_MS));
}

export function shouldRetry(failedAttempt: number, outcome: AttemptOutcome, policy: BackoffPolicy): boolean {
  return outcome === 'retryable' && failedAttempt < policy.maxAttempts;
}

// A random source returning 1 (or garbage) must not push the delay past its ceiling.
function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value <= 0) return 0;
  return value >= 1 ? 1 - Number.EPSILON : value;
}
