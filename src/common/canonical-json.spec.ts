import { canonicalJson, sha256Hex } from './canonical-json';

describe('canonicalJson', () => {
  it.each([
    { name: 'flat keys', a: { b: 1, a: 2 }, b: { a: 2, b: 1 }, expected: '{"a":2,"b":1}' },
    {
      name: 'keys reordered at three depths',
      a: { z: { y: { b: 1, a: [{ d: 1, c: 2 }] }, x: true }, a: null },
      b: { a: null, z: { x: true, y: { a: [{ c: 2, d: 1 }], b: 1 } } },
      expected: '{"a":null,"z":{"x":true,"y":{"a":[{"c":2,"d":1}],"b":1}}}',
    },
    {
      name: 'integer-like keys in code unit order, not numeric order',
      a: { '2': 'b', '10': 'a', b: 'c', '1': 'd' },
      b: { b: 'c', '1': 'd', '10': 'a', '2': 'b' },
      expected: '{"1":"d","10":"a","2":"b","b":"c"}',
    },
    {
      name: 'uppercase before lowercase (code unit order, not locale order)',
      a: { b: 1, B: 2, a: 3, _: 4 },
      b: { _: 4, a: 3, B: 2, b: 1 },
      expected: '{"B":2,"_":4,"a":3,"b":1}',
    },
  ])('gives the same text for $name', ({ a, b, expected }) => {
    expect(canonicalJson(a)).toBe(expected);
    expect(canonicalJson(b)).toBe(expected);
  });

  it.each([
    { name: 'a leaf deep inside nested objects', a: { x: { y: { z: 1 } } }, b: { x: { y: { z: 2 } } } },
    { name: 'a key deep inside nested objects', a: { x: { y: { z: 1 } } }, b: { x: { y: { w: 1 } } } },
    { name: 'array order', a: { list: [1, 2, 3] }, b: { list: [3, 2, 1] } },
    { name: 'array order of objects', a: [{ a: 1 }, { b: 1 }], b: [{ b: 1 }, { a: 1 }] },
    { name: 'a number and its string', a: { n: 1 }, b: { n: '1' } },
    { name: 'null and false', a: { v: null }, b: { v: false } },
    { name: 'a missing member and a null one', a: {}, b: { v: null } },
  ])('distinguishes $name', ({ a, b }) => {
    expect(canonicalJson(a)).not.toBe(canonicalJson(b));
  });

  it.each([
    { name: 'null', value: null, expected: 'null' },
    { name: 'true', value: true, expected: 'true' },
    { name: 'false', value: false, expected: 'false' },
    { name: 'an integer', value: 42, expected: '42' },
    { name: 'a negative decimal', value: -1.5, expected: '-1.5' },
    { name: 'an exponent', value: 1e21, expected: '1e+21' },
    { name: 'negative zero', value: -0, expected: '0' },
    { name: 'NaN', value: Number.NaN, expected: 'null' },
    { name: 'Infinity', value: Number.POSITIVE_INFINITY, expected: 'null' },
    {
      name: 'a string with quotes and controls',
      value: 'a"b\\c\n\u0001',
      expected: '"a\\"b\\\\c\\n\\u0001"',
    },
    { name: 'unicode text', value: { clé: 'héllo ✓ 日本 😀' }, expected: '{"clé":"héllo ✓ 日本 😀"}' },
    { name: 'a lone surrogate (well-formed escape)', value: '\ud800', expected: '"\\ud800"' },
    {
      name: 'a Date (via toJSON)',
      value: { at: new Date(Date.UTC(2024, 0, 2)) },
      expected: '{"at":"2024-01-02T00:00:00.000Z"}',
    },
    {
      name: 'undefined, function and symbol members dropped',
      value: { a: undefined, b: () => 1, c: Symbol('s'), d: 1 },
      expected: '{"d":1}',
    },
    { name: 'undefined in arrays as null', value: [undefined, () => 1, 1], expected: '[null,null,1]' },
    { name: 'empty containers', value: { a: {}, b: [] }, expected: '{"a":{},"b":[]}' },
    { name: 'boxed primitives', value: [Object(1), Object('s'), Object(false)], expected: '[1,"s",false]' },
  ])('serialises $name like JSON.stringify', ({ value, expected }) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('sorts keys of objects inside arrays and of toJSON results', () => {
    const custom = { toJSON: () => ({ b: 1, a: 2 }) };
    expect(canonicalJson([{ b: 1, a: 2 }, custom])).toBe('[{"a":2,"b":1},{"a":2,"b":1}]');
  });

  it('produces text that parses back to an equal value', () => {
    const value = { b: [1, { d: 'x', c: null }], a: { f: false, e: 1.25 } };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('accepts a shared (non-circular) reference', () => {
    const shared = { y: 1, x: 2 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":2,"y":1},"b":{"x":2,"y":1}}');
  });

  it('throws on a circular structure', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    expect(() => canonicalJson(loop)).toThrow(TypeError);
  });

  it.each([
    { name: 'BigInt', value: { n: BigInt(1) } },
    { name: 'top-level undefined', value: undefined },
  ])('throws on $name', ({ value }) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });
});

describe('sha256Hex', () => {
  it.each([
    {
      name: 'the empty string',
      input: '',
      expected: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    },
    {
      name: 'a JSON string',
      input: '{"b":[1,2],"a":"x"}',
      expected: '30981568381cd801ebfc455a934e65a59c7a852bf5c1e702ee5b615a54a4fac3',
    },
    {
      name: 'the same bytes as a Buffer',
      input: Buffer.from('{"b":[1,2],"a":"x"}'),
      expected: '30981568381cd801ebfc455a934e65a59c7a852bf5c1e702ee5b615a54a4fac3',
    },
  ])('hashes $name', ({ input, expected }) => {
    expect(sha256Hex(input)).toBe(expected);
  });

  it('gives bodies that differ only in key order the same hash once canonicalised', () => {
    expect(sha256Hex(canonicalJson({ a: 1, b: { d: 2, c: 3 } }))).toBe(
      sha256Hex(canonicalJson({ b: { c: 3, d: 2 }, a: 1 })),
    );
  });
});
