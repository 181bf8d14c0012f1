import { waitFor } from './wait';

/** One server-sent event as a client sees it. */
export interface SseFrame {
  event: string;
  id: string | null;
  data: Record<string, unknown>;
}

/** A stream read with `fetch` (as the console reads it): its answer, its frames and comments as they arrive. */
export interface OpenedStream {
  status: number;
  headers: Headers;
  /** The JSON body of an answer that is not a stream (an error). */
  body: Record<string, unknown> | null;
  frames: SseFrame[];
  comments: string[];
  /** True once the server closed the stream. */
  ended: () => boolean;
  /** Waits until a frame matches (any frame from index `from` on); answers it. */
  next(match: (frame: SseFrame) => boolean, what: string, from?: number): Promise<SseFrame>;
  waitEnded(what: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens `url` with the given headers and reads it in the background; frames are parsed as they arrive. */
export async function openStream(url: string, headers: Record<string, string>): Promise<OpenedStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  let ended = false;
  let body: Record<string, unknown> | null = null;
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    body = (await res.json()) as Record<string, unknown>;
    ended = true;
  } else {
    void (async () => {
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const frame: { event: string; id: string | null; data: string | null } = {
              event: 'message',
              id: null,
              data: null,
            };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comments.push(line.slice(1).trim());
              else if (line.startsWith('event: ')) frame.event = line.slice(7);
              else if (line.startsWith('id: ')) frame.id = line.slice(4);
              else if (line.startsWith('data: ')) frame.data = line.slice(6);
            }
            if (frame.data !== null) {
              frames.push({ ...frame, data: JSON.parse(frame.data) as Record<string, unknown> });
            }
          }
        }
      } catch {
        // aborted by close()
      } finally {
        ended = true;
      }
    })();
  }
  return {
    status: res.status,
    headers: res.headers,
    body,
    frames,
    comments,
    ended: () => ended,
    next: (match, what, from = 0) =>
      waitFor(() => frames.slice(from).find(match), what, { timeoutMs: 30000 }),
    waitEnded: (what, timeoutMs = 30000) => waitFor(() => ended, what, { timeoutMs }).then(() => undefined),
    close: () => controller.abort(),
  };
}
