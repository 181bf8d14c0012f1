import compression from 'compression';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Answers smaller than this are sent as they are: compressing them costs more than it saves. */
export const COMPRESSION_THRESHOLD_BYTES = 1024;

/**
 * Compresses answers (gzip, deflate or brotli, as the client's `Accept-Encoding` allows) once they are larger than
 * 1 KiB: diagnostics pages, exports, the OpenAPI document, the scrape. Never a stream: `text/event-stream` is
 * left alone, since the middleware would hold its events until a buffer fills. Nor the paths in `skipPaths`
 * (the webhook receiver, whose answers are a few hundred bytes and whose per-request cost is watched).
 *
 * This is about answers only: request bodies are still never decompressed (`requestBodyGate` answers 415 to any
 * `Content-Encoding`).
 */
export function answerCompression(skipPaths: readonly string[] = []): RequestHandler {
  const compress = compression({
    threshold: COMPRESSION_THRESHOLD_BYTES,
    filter: (req, res) => {
      const type = res.getHeader('Content-Type');
      if (typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream')) return false;
      return compression.filter(req, res);
    },
  });
  const skipped = new Set(skipPaths);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (skipped.has(req.path)) {
      next();
      return;
    }
    compress(req, res, next);
  };
}
