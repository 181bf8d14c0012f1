import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The OPAL callback signature (contract section 5): `X-OSA-Signature: t=<unix ms>,v1=<hex>` where `v1` is the
 * lowercase hex HMAC-SHA256, keyed with the shared secret, of the decimal `t` immediately followed by the raw
 * body bytes.
 */
export const SIGNATURE_HEADER = 'x-osa-signature';

/** Senders' clocks drift; more than this ahead of ours is refused so a captured header cannot be pre-dated. */
export const FUTURE_TOLERANCE_SECONDS = 60;

/** Bounds the work an unauthenticated caller can make us do (header parsing and HMAC comparisons). */
const MAX_HEADER_LENGTH = 4096;

const TIMESTAMP_PATTERN = /^[0-9]+$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;

export type SignatureFailure =
  | 'missing_header'
  | 'malformed_header'
  | 'invalid_timestamp'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'no_matching_signature';

export type VerifyResult = { ok: true; timestampMs: number } | { ok: false; reason: SignatureFailure };

export interface VerifyOptions {
  header: string | undefined | null;
  rawBody: Buffer;
  secrets: readonly string[];
  nowMs: number;
  toleranceSeconds: number;
}

export function computeSignature(secret: string, timestampMs: number, rawBody: Buffer | string): string {
  if (!Number.isSafeInteger(timestampMs) || timestampMs <= 0) {
    throw new RangeError('timestampMs must be a positive safe integer');
  }
  return hmacHex(secret, String(timestampMs), rawBody);
}

export function buildSignatureHeader(
  secret: string,
  rawBody: Buffer | string,
  timestampMs: number = Date.now(),
): string {
  return `t=${timestampMs},v1=${computeSignature(secret, timestampMs, rawBody)}`;
}

/**
 * Checks a signature header against the raw body. The failure reason is for logs and metrics only: callers
 * must answer every failure the same way so the reason does not help an attacker.
 */
export function verifySignature(opts: VerifyOptions): VerifyResult {
  const { header, rawBody, secrets, nowMs, toleranceSeconds } = opts;
  if (header === undefined || header === null || header.trim() === '') {
    return fail('missing_header');
  }
  if (header.length > MAX_HEADER_LENGTH) {
    return fail('malformed_header');
  }

  let timestampText: string | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator === -1) {
      continue;
    }
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't') {
      // Two timestamps would leave it ambiguous which one was signed.
      if (timestampText !== undefined) {
        return fail('malformed_header');
      }
      timestampText = value;
    } else if (key === 'v1') {
      candidates.push(value);
    }
  }
  if (timestampText === undefined || candidates.length === 0) {
    return fail('malformed_header');
  }

  if (!TIMESTAMP_PATTERN.test(timestampText)) {
    return fail('invalid_timestamp');
  }
  const timestampMs = Number(timestampText);
  if (!Number.isSafeInteger(timestampMs) || timestampMs <= 0) {
    return fail('invalid_timestamp');
  }
  if (nowMs - timestampMs > toleranceSeconds * 1000) {
    return fail('stale_timestamp');
  }
  if (timestampMs - nowMs > FUTURE_TOLERANCE_SECONDS * 1000) {
    return fail('future_timestamp');
  }

  // The sender signed the decimal text it put in the header, so that exact text is what gets hashed.
  const expected = secrets
    .filter((secret) => secret.length > 0)
    .map((secret) => Buffer.from(hmacHex(secret, timestampText, rawBody), 'utf8'));
  let matched = false;
  for (const candidate of candidates) {
    if (!SIGNATURE_PATTERN.test(candidate)) {
      continue;
    }
    const given = Buffer.from(candidate, 'utf8');
    for (const signature of expected) {
      // No early exit: every comparison runs so timing does not reveal which secret or part matched.
      if (given.length === signature.length && timingSafeEqual(given, signature)) {
        matched = true;
      }
    }
  }
  return matched ? { ok: true, timestampMs } : fail('no_matching_signature');
}

function hmacHex(secret: string, timestampText: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(timestampText, 'utf8').update(rawBody).digest('hex');
}

function fail(reason: SignatureFailure): VerifyResult {
  return { ok: false, reason };
}
