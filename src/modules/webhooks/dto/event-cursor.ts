/**
 * The diagnostics page cursor is the `sequence` of the last event of a page. It is emitted as the plain decimal
 * string; a base64url encoding of that string is accepted too, so clients that treat cursors as opaque tokens
 * and encode them still work.
 */
const SEQUENCE = /^[1-9]\d{0,17}$/;

export function parseEventCursor(value: string): string | null {
  const trimmed = value.trim();
  if (SEQUENCE.test(trimmed)) return trimmed;
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(trimmed)) return null;
  const decoded = Buffer.from(trimmed, 'base64url').toString('utf8');
  return SEQUENCE.test(decoded) ? decoded : null;
}

export function eventCursorOf(sequence: string | number): string {
  return String(sequence);
}
