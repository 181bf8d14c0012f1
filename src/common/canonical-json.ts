import { createHash } from 'node:crypto';

/**
 * JSON.stringify with object keys sorted at every depth, so two bodies that differ only in key order produce the
 * same text (and the same idempotency hash). Keys are sorted by UTF-16 code unit order, explicitly rather than by
 * rebuilding objects, because JavaScript always enumerates integer-like keys ("2" before "10") first.
 * Otherwise it follows JSON.stringify: toJSON() is honoured, undefined/function/symbol members are dropped from
 * objects and become null in arrays, non-finite numbers become null, BigInt and cycles throw.
 */
export function canonicalJson(value: unknown): string {
  const text = serialize(value, '', new Set());
  if (text === undefined) {
    throw new TypeError(`canonicalJson: a top-level ${typeof value} has no JSON representation`);
  }
  return text;
}

export function sha256Hex(input: string | Buffer): string {
  return createHash('sha256').update(input).digest('hex');
}

function serialize(input: unknown, key: string, ancestors: Set<object>): string | undefined {
  let value = input;
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    value = value.valueOf();
  }

  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt has no JSON representation');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value === null) {
    return 'null';
  }

  const object = value;
  if (ancestors.has(object)) {
    throw new TypeError('canonicalJson: circular structure');
  }
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      const items = object.map((item: unknown, index) => serialize(item, String(index), ancestors) ?? 'null');
      return `[${items.join(',')}]`;
    }
    const record = object as Record<string, unknown>;
    const members: string[] = [];
    // Default sort compares UTF-16 code units, which is the order the contract asks for.
    for (const name of Object.keys(record).sort()) {
      const member = serialize(record[name], name, ancestors);
      if (member !== undefined) {
        members.push(`${JSON.stringify(name)}:${member}`);
      }
    }
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(object);
  }
}
