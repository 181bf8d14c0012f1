import type { Request } from 'express';
import { AppError } from './app-error';
import { decodeJsonBody, DEFAULT_BODY_RULES, jsonDepthExceeds } from './http-pipeline';

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

describe('decodeJsonBody', () => {
  const req = { is: () => 'application/json', headers: {} } as unknown as Request;
  const decode = (text: string) => decodeJsonBody(req, Buffer.from(text, 'utf8'), DEFAULT_BODY_RULES);
  const failure = (text: string): unknown => {
    try {
      decode(text);
    } catch (error) {
      return error;
    }
    return null;
  };

  it('decodes JSON, surrogate pairs and escaped backslashes included', () => {
    expect(decode('{"a":"\\ud83d\\ude00","b":"\\\\u0000","c":"\\\\ud800"}')).toEqual({
      a: '😀',
      b: '\\u0000',
      c: '\\ud800',
    });
    expect(decode('')).toEqual({});
  });

  it.each([
    ['a lone high surrogate', '{"a":"x\\ud800y"}'],
    ['a lone low surrogate', '{"a":["\\udc00"]}'],
    ['a surrogate in a key', '{"\\udfff":1}'],
    ['a NUL character', '{"a":{"b":"\\u0000"}}'],
  ])('refuses %s with 400 before anything reaches the database', (_name, text) => {
    expect(failure(text)).toBeInstanceOf(AppError);
    expect(failure(text)).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('refuses bodies that are not JSON or nest too deep', () => {
    expect(failure('{"a":')).toMatchObject({ code: 'INVALID_JSON' });
    expect(failure(nested(40))).toMatchObject({ code: 'INVALID_JSON' });
  });
});
