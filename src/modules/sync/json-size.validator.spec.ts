import { validate } from 'class-validator';
import { jsonByteLength, MaxJsonBytes } from './json-size.validator';

class Sample {
  @MaxJsonBytes(16)
  metadata?: unknown;
}

function sample(metadata: unknown): Sample {
  const s = new Sample();
  s.metadata = metadata;
  return s;
}

describe('jsonByteLength', () => {
  it('counts UTF-8 bytes of the JSON text', () => {
    expect(jsonByteLength({ a: 1 })).toBe(7);
    expect(jsonByteLength({ a: 'é' })).toBe(10);
  });
  it('is Infinity for values JSON cannot represent', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(jsonByteLength(cyclic)).toBe(Infinity);
    expect(jsonByteLength(undefined)).toBe(Infinity);
  });
});

describe('MaxJsonBytes', () => {
  it('accepts values up to the limit and absent values', async () => {
    await expect(validate(sample({ a: '12345678' }))).resolves.toHaveLength(0); // 16 bytes
    await expect(validate(sample(undefined))).resolves.toHaveLength(0);
    await expect(validate(sample(null))).resolves.toHaveLength(0);
  });
  it('refuses values one byte over the limit, naming the property', async () => {
    const errors = await validate(sample({ a: '123456789' }));
    expect(errors).toHaveLength(1);
    expect(Object.values(errors[0].constraints ?? {})).toEqual([
      'metadata must be at most 16 bytes when serialised as JSON',
    ]);
  });
});
