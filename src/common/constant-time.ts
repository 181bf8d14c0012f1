import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares two strings in time independent of where they differ (and of their lengths, via digests). */
export function constantTimeEquals(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/** True when `presented` equals one of `keys`; every key is compared, so timing does not reveal which. */
export function matchesAnyKey(presented: string, keys: readonly string[]): boolean {
  let match = false;
  for (const key of keys) match = constantTimeEquals(presented, key) || match;
  return match;
}

/** A short, non-reversible name for a key, for audit records ("key:1a2b3c4d"). */
export function keyFingerprint(key: string): string {
  return `key:${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/**
 * The scope of an operator's `Idempotency-Key`s: 16 hex digits of the key's SHA-256 ("key:1a2b…"), so that
 * callers holding different keys never see each other's keys. Never the key itself.
 */
export function callerScopeOf(key: string): string {
  return `key:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}
