/**
 * Masking for log output: known secret values anywhere in a string, bearer tokens, signatures and fields whose
 * names say they hold a credential. Applied to every log line in every mode.
 */
const SENSITIVE_KEY =
  /(secret|token|password|passwd|authorization|signature|api[-_]?key|auth[-_]?key|cookie|credential)/i;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const SIGNATURE_PART = /\bv1=[0-9a-fA-F]{8,}/g;
// Every quantifier is bounded: an unbounded scheme (`[a-z][a-z0-9+.-]*`) made a long run of `a.a.a.…` cost
// quadratic time, on every access line. Schemes are short; user names and passwords longer than these bounds
// are not credentials anyone puts in a URL.
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]{0,31}:\/\/)([^/\s:@]{1,256}):([^@\s/]{1,256})@/gi;

let knownSecrets: string[] = [];

export function registerSecrets(values: readonly string[]): void {
  const merged = new Set([...knownSecrets, ...values.filter((v) => v.length >= 8)]);
  // Longest first, so that a secret containing another is masked whole.
  knownSecrets = [...merged].sort((a, b) => b.length - a.length);
}

export function redactString(value: string): string {
  let out = value;
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  out = out.replace(BEARER, '$1 [REDACTED]').replace(SIGNATURE_PART, 'v1=[REDACTED]');
  return out.includes('://') ? out.replace(URL_CREDENTIALS, '$1$2:[REDACTED]@') : out;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[…]';
  if (value instanceof Error) return { name: value.name, message: redactString(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    out[key] =
      SENSITIVE_KEY.test(key) && v !== null && v !== undefined && v !== ''
        ? '[REDACTED]'
        : redact(v, depth + 1);
  }
  return out;
}

/** For display: first 4 characters and the length, never the whole value. */
export function maskSecret(value: string | null | undefined): string {
  if (!value) return 'not set';
  return `${value.slice(0, 4)}… (${value.length} chars)`;
}
