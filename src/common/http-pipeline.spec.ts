import { jsonDepthExceeds } from './http-pipeline';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('jsonDepthExceeds', () => {
  it('allows nesting up to the limit and refuses one level more', () => {
    expect(jsonDepthExceeds(nested(32), 32)).toBe(false);
    expect(jsonDepthExceeds(nested(33), 32)).toBe(true);
    expect(jsonDepthExceeds(`{"a":${nested(31)}}`, 32)).toBe(false);
    expect(jsonDepthExceeds(`{"a":${nested(32)}}`, 32)).toBe(true);
  });

  it('counts depth, not brackets: many shallow siblings pass', () => {
    const siblings = `[${Array.from({ length: 200 }, () => '{"a":[1]}').join(',')}]`;
    expect(jsonDepthExceeds(siblings, 32)).toBe(false);
  });

  it('ignores brackets inside strings, including after escaped quotes', () => {
    const text = JSON.stringify({ note: `${'['.repeat(100)} \\" ${'{'.repeat(100)}` });
    expect(jsonDepthExceeds(text, 32)).toBe(false);
    expect(jsonDepthExceeds(`["\\"", ${nested(40)}]`, 32)).toBe(true);
  });
});
