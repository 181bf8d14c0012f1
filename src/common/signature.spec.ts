import {
  buildSignatureHeader,
  computeSignature,
  FUTURE_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  verifySignature,
} from './signature';
import type { SignatureFailure, VerifyOptions } from './signature';

const SECRET = 'whsec_test_secret_0123456789abcdef';
const OTHER_SECRET = 'second-secret';
const T = 1_700_000_000_000;
const BODY = Buffer.from('{"a":1}');
// Expected values computed independently with `openssl dgst -sha256 -hmac <secret>` over `<t><body>`.
const SIG = '04640cd4dab4e8ed2c3521cebac1750a50a123c968d23607fde58f14fcfa984a';
// HMAC over '01700000000000{"a":1}': the leading zero is part of the signed text.
const LEADING_ZERO_SIG = '385b014b369a462c61605bd233090fc81cbd5411e4548985244d1c33dfe09d35';
const TOLERANCE = 300;

describe('computeSignature', () => {
  it.each([
    { name: 'a small JSON body', secret: SECRET, t: T, body: '{"a":1}', expected: SIG },
    {
      name: 'an empty body',
      secret: SECRET,
      t: T,
      body: '',
      expected: 'c036cb318d5d4bacef9f248bb4f8ade342295532c48b1210f0b68f9e172ca66f',
    },
    {
      name: 'another secret and timestamp',
      secret: OTHER_SECRET,
      t: 1_700_000_123_456,
      body: '{"event_type":"workflow_started","workflow_id":"wf-1"}',
      expected: '40db80c87c1281619e444eb07ce0873de5f8ddafcef831cba6cf0116d6ed2b28',
    },
    {
      name: 'non-ASCII text hashed as UTF-8',
      secret: SECRET,
      t: T,
      body: 'héllo ✓',
      expected: 'e9cfee57683abd13392f80b15ee1f09b9f2e0bde7aa134030d3e359af37c0205',
    },
  ])('matches the known vector for $name', ({ secret, t, body, expected }) => {
    expect(computeSignature(secret, t, body)).toBe(expected);
    expect(computeSignature(secret, t, Buffer.from(body, 'utf8'))).toBe(expected);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])('refuses timestamp %p', (t) => {
    expect(() => computeSignature(SECRET, t, BODY)).toThrow(RangeError);
  });
});

describe('buildSignatureHeader', () => {
  it('formats t and v1', () => {
    expect(buildSignatureHeader(SECRET, BODY, T)).toBe(`t=${T},v1=${SIG}`);
  });

  it('defaults t to now', () => {
    const before = Date.now();
    const header = buildSignatureHeader(SECRET, BODY);
    const after = Date.now();
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
    expect(match).not.toBeNull();
    const t = Number(match![1]);
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
    expect(match![2]).toBe(computeSignature(SECRET, t, BODY));
  });

  it('uses the lowercase header name the receivers look up', () => {
    expect(SIGNATURE_HEADER).toBe('x-osa-signature');
    expect(FUTURE_TOLERANCE_SECONDS).toBe(60);
  });
});

describe('verifySignature', () => {
  const seconds = (n: number): number => n * 1000;
  const signedAt = (t: number, secret = SECRET, body: Buffer = BODY): string =>
    buildSignatureHeader(secret, body, t);
  const base: VerifyOptions = {
    header: `t=${T},v1=${SIG}`,
    rawBody: BODY,
    secrets: [SECRET],
    nowMs: T,
    toleranceSeconds: TOLERANCE,
  };
  const wrongSig = 'f'.repeat(64);

  type Case = { name: string; opts: Partial<VerifyOptions> };

  const accepted: Case[] = [
    { name: 'a valid header', opts: {} },
    { name: 'a timestamp 240 s old', opts: { nowMs: T + seconds(240) } },
    { name: 'a timestamp exactly at the tolerance edge (300 s)', opts: { nowMs: T + seconds(300) } },
    { name: 'a timestamp 30 s in the future', opts: { nowMs: T - seconds(30) } },
    { name: 'a timestamp exactly 60 s in the future', opts: { nowMs: T - seconds(60) } },
    { name: 'parts in reverse order', opts: { header: `v1=${SIG},t=${T}` } },
    { name: 'whitespace around parts', opts: { header: ` t = ${T} ,  v1=${SIG}  ` } },
    { name: 'unknown extra parts', opts: { header: `t=${T},v0=abc,v1=${SIG},scheme=hmac,flag` } },
    {
      name: 'several v1 parts with the second matching',
      opts: { header: `t=${T},v1=${wrongSig},v1=${SIG}` },
    },
    { name: 'rotation: the old secret listed first', opts: { secrets: [OTHER_SECRET, SECRET] } },
    {
      name: 'rotation: the new secret listed second',
      opts: { header: signedAt(T, OTHER_SECRET), secrets: [SECRET, OTHER_SECRET] },
    },
    { name: 'an empty secret next to the real one', opts: { secrets: ['', SECRET] } },
    {
      name: 't with leading zeros (the text as sent is what was signed)',
      opts: { header: `t=0${T},v1=${LEADING_ZERO_SIG}` },
    },
  ];

  it.each(accepted)('accepts $name', ({ opts }) => {
    const result = verifySignature({ ...base, ...opts });
    expect(result).toEqual({ ok: true, timestampMs: T });
  });

  const rejected: Array<Case & { reason: SignatureFailure }> = [
    { name: 'a tampered body', opts: { rawBody: Buffer.from('{"a":2}') }, reason: 'no_matching_signature' },
    {
      name: 'a body re-serialised with different whitespace',
      opts: { rawBody: Buffer.from('{ "a": 1 }') },
      reason: 'no_matching_signature',
    },
    { name: 'the wrong secret', opts: { secrets: [OTHER_SECRET] }, reason: 'no_matching_signature' },
    { name: 'no secrets at all', opts: { secrets: [] }, reason: 'no_matching_signature' },
    { name: 'only an empty secret', opts: { secrets: [''] }, reason: 'no_matching_signature' },
    {
      name: 'a signature made with an empty secret',
      opts: { header: signedAt(T, ''), secrets: [''] },
      reason: 'no_matching_signature',
    },
    { name: 'a timestamp 301 s old', opts: { nowMs: T + seconds(301) }, reason: 'stale_timestamp' },
    {
      name: 'a timestamp 1 ms past the edge',
      opts: { nowMs: T + seconds(300) + 1 },
      reason: 'stale_timestamp',
    },
    {
      name: 'a timestamp 120 s in the future',
      opts: { nowMs: T - seconds(120) },
      reason: 'future_timestamp',
    },
    { name: 'a timestamp 61 s in the future', opts: { nowMs: T - seconds(61) }, reason: 'future_timestamp' },
    { name: 'a missing header (undefined)', opts: { header: undefined }, reason: 'missing_header' },
    { name: 'a missing header (null)', opts: { header: null }, reason: 'missing_header' },
    { name: 'an empty header', opts: { header: '' }, reason: 'missing_header' },
    { name: 'a blank header', opts: { header: '   ' }, reason: 'missing_header' },
    { name: 'a garbage header', opts: { header: 'garbage' }, reason: 'malformed_header' },
    { name: 'a bare hex signature', opts: { header: SIG }, reason: 'malformed_header' },
    { name: 'a header without t', opts: { header: `v1=${SIG}` }, reason: 'malformed_header' },
    { name: 'a header without v1', opts: { header: `t=${T}` }, reason: 'malformed_header' },
    { name: 'a header with only v0', opts: { header: `t=${T},v0=${SIG}` }, reason: 'malformed_header' },
    { name: 'two t parts', opts: { header: `t=${T},t=${T + 1},v1=${SIG}` }, reason: 'malformed_header' },
    {
      name: 'a header longer than 4096 chars',
      opts: { header: `t=${T},v1=${SIG},x=${'a'.repeat(4096)}` },
      reason: 'malformed_header',
    },
    { name: 't=0', opts: { header: `t=0,v1=${SIG}` }, reason: 'invalid_timestamp' },
    { name: 'a negative t', opts: { header: `t=-${T},v1=${SIG}` }, reason: 'invalid_timestamp' },
    { name: 'a non-numeric t', opts: { header: `t=abc,v1=${SIG}` }, reason: 'invalid_timestamp' },
    { name: 'a t with decimals', opts: { header: `t=${T}.5,v1=${SIG}` }, reason: 'invalid_timestamp' },
    { name: 'a t in exponent form', opts: { header: `t=1.7e12,v1=${SIG}` }, reason: 'invalid_timestamp' },
    { name: 'an empty t', opts: { header: `t=,v1=${SIG}` }, reason: 'invalid_timestamp' },
    {
      name: 'a t beyond safe integers',
      opts: { header: `t=9007199254740993,v1=${SIG}` },
      reason: 'invalid_timestamp',
    },
    {
      name: 'a t in seconds (looks 53 years stale)',
      opts: { header: `t=${T / 1000},v1=${SIG}` },
      reason: 'stale_timestamp',
    },
    {
      name: 'an uppercase hex v1 (lowercase is required)',
      opts: { header: `t=${T},v1=${SIG.toUpperCase()}` },
      reason: 'no_matching_signature',
    },
    {
      name: 'a truncated v1',
      opts: { header: `t=${T},v1=${SIG.slice(0, 63)}` },
      reason: 'no_matching_signature',
    },
    { name: 'an over-long v1', opts: { header: `t=${T},v1=${SIG}00` }, reason: 'no_matching_signature' },
    { name: 'an empty v1', opts: { header: `t=${T},v1=` }, reason: 'no_matching_signature' },
    {
      name: 'a base64 v1 of the right digest',
      opts: { header: `t=${T},v1=${Buffer.from(SIG, 'hex').toString('base64')}` },
      reason: 'no_matching_signature',
    },
    {
      name: 'a valid v1 replayed with another t',
      opts: { header: `t=${T + 1000},v1=${SIG}` },
      reason: 'no_matching_signature',
    },
  ];

  it.each(rejected)('rejects $name with $reason', ({ opts, reason }) => {
    expect(verifySignature({ ...base, ...opts })).toEqual({ ok: false, reason });
  });
});
