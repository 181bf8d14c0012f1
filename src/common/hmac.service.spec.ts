import { createHmac } from 'node:crypto';
import { HmacService } from './hmac.service';

const OLD = 'old-secret-0123456789abcdef0123456789ab';
const NEW = 'new-secret-0123456789abcdef0123456789ab';
const BODY = Buffer.from('{"event_type":"workflow_started","workflow_id":"wf-1"}', 'utf8');
const NOW = 1_760_000_000_000;

describe('HmacService', () => {
  it('signs t and the raw bytes with HMAC-SHA256 of the first secret (the contract vector)', () => {
    const header = new HmacService({ secrets: [NEW, OLD], toleranceSeconds: 300 }).sign(BODY, NOW);
    const expected = createHmac('sha256', NEW).update(String(NOW)).update(BODY).digest('hex');
    expect(header).toBe(`t=${NOW},v1=${expected}`);
  });

  it('verifies with either secret during a rotation, and with neither once the old one is gone', () => {
    const rotating = new HmacService({ secrets: [NEW, OLD], toleranceSeconds: 300 });
    const signedWithOld = new HmacService({ secrets: [OLD], toleranceSeconds: 300 }).sign(BODY, NOW);
    expect(rotating.verify(signedWithOld, BODY, NOW)).toEqual({ ok: true, timestampMs: NOW });
    expect(rotating.verify(rotating.sign(BODY, NOW), BODY, NOW).ok).toBe(true);
    const rotated = new HmacService({ secrets: [NEW], toleranceSeconds: 300 });
    expect(rotated.verify(signedWithOld, BODY, NOW)).toEqual({ ok: false, reason: 'no_matching_signature' });
  });

  it('keeps the timestamp window: the configured tolerance back, 60 s ahead', () => {
    const hmac = new HmacService({ secrets: [NEW], toleranceSeconds: 30 });
    expect(hmac.verify(hmac.sign(BODY, NOW - 30_000), BODY, NOW).ok).toBe(true);
    expect(hmac.verify(hmac.sign(BODY, NOW - 30_001), BODY, NOW)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(hmac.verify(hmac.sign(BODY, NOW + 60_000), BODY, NOW).ok).toBe(true);
    expect(hmac.verify(hmac.sign(BODY, NOW + 60_001), BODY, NOW)).toEqual({
      ok: false,
      reason: 'future_timestamp',
    });
  });

  it('refuses a body changed by one byte and a missing header', () => {
    const hmac = new HmacService({ secrets: [NEW], toleranceSeconds: 300 });
    const header = hmac.sign(BODY, NOW);
    const changed = Buffer.from(BODY);
    changed[changed.length - 2] ^= 1;
    expect(hmac.verify(header, changed, NOW)).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(hmac.verify(undefined, BODY, NOW)).toEqual({ ok: false, reason: 'missing_header' });
  });

  it('cannot sign without a secret', () => {
    const empty = new HmacService({ secrets: [], toleranceSeconds: 300 });
    expect(empty.canSign).toBe(false);
    expect(() => empty.sign(BODY, NOW)).toThrow(RangeError);
  });
});
