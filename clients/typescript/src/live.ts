/**
 * Live progress of one workflow (`GET /api/opal/sync/{sync_id}/events`, server-sent events) read with `fetch`,
 * so that the operator key travels in the `Authorization` header and never in a URL (`EventSource` cannot send
 * headers).
 */
import type { components, paths } from './schema.js';

/** One frame of the stream, `data` parsed: `snapshot`, `progress` or `end` (the workflow's final state). */
export type SyncStreamFrame =
  paths['/api/opal/sync/{sync_id}/events']['get']['responses'][200]['content']['text/event-stream'];

type ErrorBody = components['schemas']['ErrorResponseDto'];

/** The service refused the stream for good (400, 401, 403, 404): `status` and the contract's error body. */
export class SyncStreamError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | null,
  ) {
    super(body ? `${body.code}: ${body.message}` : `The stream was refused with HTTP ${status}`);
    this.name = 'SyncStreamError';
  }
}

export interface SubscribeToSyncOptions {
  /** The service's base URL, e.g. `https://force-sync.example.com`. */
  baseUrl: string;
  /** One of the service's OPERATOR_API_KEYS; sent as `Authorization: Bearer …`. */
  operatorKey?: string;
  /** Aborting it ends the subscription (the promise resolves with `null`). */
  signal?: AbortSignal;
  /** Resume after this version (no snapshot when it is still the current one). */
  lastEventId?: number;
  /** First delay before reconnecting after a dropped stream (doubles up to 30 s; reset by each frame). Default 1000. */
  reconnectDelayMs?: number;
  /** Another `fetch` (default: the global one). */
  fetch?: typeof fetch;
}

const MAX_RECONNECT_DELAY_MS = 30_000;
/** Answers worth trying again (later or on another instance); anything else ends the subscription. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Calls `onFrame` for every frame of one workflow's stream until its `end` frame, then resolves with that
 * frame. When the connection drops (a deploy, a network blip) it reconnects with `Last-Event-ID`, so that no
 * state is missed: the service answers with a snapshot unless nothing changed. A 429 or 503 is retried after
 * its `Retry-After`; a 401 or 404 rejects with a `SyncStreamError`. Aborting `signal` resolves with `null`.
 *
 *   const end = await subscribeToSync(syncId, (frame) => render(frame.data), { baseUrl, operatorKey, signal });
 */
export async function subscribeToSync(
  syncId: string,
  onFrame: (frame: SyncStreamFrame) => void,
  options: SubscribeToSyncOptions,
): Promise<SyncStreamFrame | null> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const url = `${options.baseUrl.replace(/\/+$/, '')}/api/opal/sync/${encodeURIComponent(syncId)}/events`;
  const firstDelay = options.reconnectDelayMs ?? 1000;
  let lastEventId = options.lastEventId;
  let delay = firstDelay;
  for (;;) {
    if (options.signal?.aborted) return null;
    let waitMs = delay;
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (options.operatorKey) headers.Authorization = `Bearer ${options.operatorKey}`;
      if (lastEventId !== undefined) headers['Last-Event-ID'] = String(lastEventId);
      const response = await doFetch(url, { headers, signal: options.signal });
      if (response.status !== 200 || !response.body) {
        const body = await readErrorBody(response);
        if (!RETRYABLE_STATUSES.has(response.status)) throw new SyncStreamError(response.status, body);
        waitMs = retryAfterMs(response) ?? delay;
      } else {
        for await (const frame of readFrames(response.body)) {
          lastEventId = frame.id;
          delay = firstDelay;
          onFrame(frame);
          if (frame.event === 'end') return frame;
        }
      }
    } catch (error) {
      if (options.signal?.aborted) return null;
      if (error instanceof SyncStreamError) throw error;
      // A network error or a dropped connection: reconnect below.
    }
    if (!(await sleep(waitMs, options.signal))) return null;
    delay = Math.min(MAX_RECONNECT_DELAY_MS, delay * 2);
  }
}

async function readErrorBody(response: Response): Promise<ErrorBody | null> {
  try {
    return (await response.json()) as ErrorBody;
  } catch {
    return null;
  }
}

function retryAfterMs(response: Response): number | null {
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The frames of a `text/event-stream` body (the server-sent events format), `data` parsed as JSON. */
async function* readFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<SyncStreamFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let id: string | null = null;
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A lone CR at the end may be the first half of a CRLF still on its way.
        if (newline === buffer.length - 1 && buffer.endsWith('\r')) break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (data.length > 0 && id !== null) {
            yield { event, id: Number(id), data: JSON.parse(data.join('\n')) } as SyncStreamFrame;
          }
          event = 'message';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
        else if (field === 'id') id = text;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
