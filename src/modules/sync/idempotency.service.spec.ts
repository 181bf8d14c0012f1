import { AppError } from '../../common/app-error';
import { parseIdempotencyKey, requestHash } from './idempotency.service';

describe('parseIdempotencyKey', () => {
  it('is null when the header is absent', () => {
    expect(parseIdempotencyKey(undefined)).toBeNull();
  });
  it('accepts 1 to 200 printable ASCII characters', () => {
    expect(parseIdempotencyKey('a')).toBe('a');
    expect(parseIdempotencyKey('k'.repeat(200))).toBe('k'.repeat(200));
    expect(parseIdempotencyKey('sync 2026-01-01 #1')).toBe('sync 2026-01-01 #1');
  });
  it.each([[''], ['k'.repeat(201)], ['naïve'], ['tab\there']])(
    'refuses %j with a field-level 400',
    (value) => {
      let thrown: unknown;
      try {
        parseIdempotencyKey(value);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(AppError);
      expect(thrown).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'Idempotency-Key' }] });
    },
  );
});

describe('requestHash', () => {
  it('ignores key order and treats an absent body as empty', () => {
    expect(requestHash({ a: 1, b: { c: 2, d: 3 } })).toBe(requestHash({ b: { d: 3, c: 2 }, a: 1 }));
    expect(requestHash(undefined)).toBe(requestHash({}));
    expect(requestHash({ a: 1 })).not.toBe(requestHash({ a: 2 }));
  });
});
