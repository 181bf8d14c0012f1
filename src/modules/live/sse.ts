/** The server-sent event wire format (contract section 11): frames, the keep-alive comment, `Last-Event-ID`. */

export type SyncStreamEvent = 'snapshot' | 'progress' | 'end';
export type ListStreamEvent = 'workflow';
export type StreamEvent = SyncStreamEvent | ListStreamEvent;

/** Written every SSE_HEARTBEAT_SECONDS so that proxies and clients see the stream alive. */
export const SSE_KEEP_ALIVE = ': keep-alive\n\n';

/**
 * One frame: `event:`, then `id:` when given, then the JSON on one `data:` line (JSON.stringify never writes a
 * line break), then a blank line.
 */
export function sseFrame(event: StreamEvent, data: unknown, id?: number): string {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  return `event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`;
}

/** The version a client resumes from: a non-negative integer, else none (the client gets a snapshot). */
export function parseLastEventId(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return null;
  return Number(value.trim());
}

/** `<sync_id>:<version>` of the write path's notification; null when malformed. */
export function parseChangeNotification(
  payload: string | undefined,
): { syncId: string; version: number } | null {
  const match = /^([0-9a-f-]{36}):(\d{1,15})$/i.exec(payload ?? '');
  return match ? { syncId: match[1].toLowerCase(), version: Number(match[2]) } : null;
}
