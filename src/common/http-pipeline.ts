import type { NextFunction, Request, Response } from 'express';
import { Logger } from '@nestjs/common';
import { AppError } from './app-error';
import { mapError } from './error-mapping';
import { API_PREFIX } from '../domain/routes';
import { routeTemplateOf } from './http-utils';
import {
  acceptCorrelationId,
  newCorrelationId,
  RequestContext,
  type RequestContextData,
} from './request-context';

/** Raw bytes of the body, kept for signature checks (the webhook receiver verifies these, never re-serialised JSON). */
export interface RequestWithBody extends Request {
  rawBody?: Buffer;
}

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Paths longer than this are cut in log lines (with a marker): an access line costs the same whatever the URL. */
export const MAX_LOGGED_PATH_LENGTH = 256;

export function loggedPath(path: string): string {
  if (path.length <= MAX_LOGGED_PATH_LENGTH) return path;
  return `${path.slice(0, MAX_LOGGED_PATH_LENGTH)}…[truncated, ${path.length} chars]`;
}

/** The labels of one answered request, for the request metrics. */
export interface RequestLabels {
  method: string;
  route: string;
  status: string;
}

/**
 * Correlation id on every answer and every log line of the request; one access log line per request, and
 * `onAnswered` (the request metrics) once it is answered.
 */
export function requestContextMiddleware(onAnswered: (labels: RequestLabels, seconds: number) => void) {
  const logger = new Logger('HTTP');
  return (req: Request, res: Response, next: NextFunction): void => {
    const correlationId = acceptCorrelationId(req.headers['x-correlation-id']) ?? newCorrelationId('req');
    res.setHeader('X-Correlation-ID', correlationId);
    const started = process.hrtime.bigint();
    const context: RequestContextData = { correlationId };
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const route = routeTemplateOf(req);
      const labels = { method: req.method, route, status: String(res.statusCode) };
      onAnswered(labels, durationMs / 1000);
      RequestContext.run(context, () => {
        const line = {
          msg: 'request',
          method: req.method,
          route,
          path: loggedPath(req.path),
          status: res.statusCode,
          duration_ms: Math.round(durationMs * 10) / 10,
          client_ip: req.ip,
          ...context.logFields,
        };
        if (route.startsWith(`/${API_PREFIX}/health`) || route === '/metrics') logger.debug(line);
        else logger.log(line);
      });
    });
    RequestContext.run(context, () => next());
  };
}

/**
 * Request bodies are never decompressed: a `Content-Encoding` other than `identity` is refused with 415 on every
 * route before a byte of the body is read (a few compressed bytes could otherwise become megabytes of work for
 * an unauthenticated caller). Every other request gets an {@link UnreadBody} as its body: nothing is read here.
 * A route reads its body only once its rate limit and authentication have passed — the receiver's signature guard
 * (which needs the bytes), or {@link RequestBodyPipe} for a route's `@Body()` parameter — so neither a flood
 * nor an unauthenticated caller makes the service read, buffer or parse a body.
 */
export function requestBodyGate() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && !isIdentity(encoding)) {
      next(
        new AppError(
          'UNSUPPORTED_CONTENT_ENCODING',
          'Request bodies are never decompressed: send the body without Content-Encoding',
        ),
      );
      return;
    }
    req.body = new UnreadBody(req);
    next();
  };
}

function isIdentity(encoding: string): boolean {
  const value = encoding.trim().toLowerCase();
  return value === '' || value === 'identity';
}

/** What `@Body()` holds until the route reads the body (see {@link requestBodyGate}). */
export class UnreadBody {
  constructor(readonly req: RequestWithBody) {}
}

/** What a route accepts as a body. */
export interface BodyRules {
  /** Most bytes read; a longer body is refused with 413 (by its `Content-Length`, before a byte is read). */
  limit: number;
  /**
   * `application/x-www-form-urlencoded` is read as JSON: operators' `curl -d '{…}'` sends that type. Never for
   * a request from a browser, which can send that type cross-site without a CORS preflight.
   */
  formAsJson: boolean;
}

/** Every route but the receiver (whose guard reads its body with {@link WEBHOOK_BODY_RULES}). */
export const DEFAULT_BODY_RULES: BodyRules = { limit: DEFAULT_BODY_LIMIT, formAsJson: true };
export const WEBHOOK_BODY_RULES: BodyRules = { limit: WEBHOOK_BODY_LIMIT, formAsJson: false };

const JSON_TYPES = ['application/json', 'application/*+json'];
const JSON_OR_FORM_TYPES = [...JSON_TYPES, 'application/x-www-form-urlencoded'];

/**
 * A browser says where a request comes from: it sends `Origin` with every POST (even same-origin ones) and
 * `Sec-Fetch-Site` with every request. curl and other HTTP clients send neither unless told to.
 */
function fromBrowser(req: Request): boolean {
  if (req.headers.origin !== undefined) return true;
  const site = req.headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Throws 415 unless the body's type is one the rules read as JSON. */
function assertJsonType(req: Request, rules: BodyRules): void {
  const formAsJson = rules.formAsJson && !fromBrowser(req);
  if (req.is(formAsJson ? JSON_OR_FORM_TYPES : JSON_TYPES)) return;
  const form = req.is('application/x-www-form-urlencoded') !== false;
  throw new AppError(
    'UNSUPPORTED_MEDIA_TYPE',
    form && rules.formAsJson
      ? 'A form-encoded body sent by a browser is not read as JSON: send Content-Type: application/json'
      : 'The request body must be JSON (Content-Type: application/json)',
  );
}

/**
 * The body's bytes as received (never decompressed), at most `limit` of them: a longer body is refused with 413
 * as soon as its length is known, by `Content-Length` before anything is read. Kept on the request, so reading
 * twice costs nothing. The rest of a refused body is drained by Node after the answer, never buffered.
 */
export function readRawBody(req: RequestWithBody, limit: number): Promise<Buffer> {
  if (req.rawBody) return Promise.resolve(req.rawBody);
  if (!hasBody(req)) {
    req.rawBody = EMPTY;
    return Promise.resolve(EMPTY);
  }
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (error: AppError) => {
      stop();
      // Whatever is still coming is discarded, not kept.
      req.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) fail(tooLarge(limit));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
      req.rawBody = body;
      resolve(body);
    };
    const onError = () => fail(new AppError('VALIDATION_FAILED', 'The request body could not be read'));
    const onClose = () => {
      if (!req.complete) fail(new AppError('VALIDATION_FAILED', 'The request body was cut off'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

const EMPTY = Buffer.alloc(0);

function tooLarge(limit: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `Request body too large (at most ${limit} bytes)`);
}

/**
 * The body decoded as JSON under the rules; an empty body is `{}`. Throws 415, or 400: `INVALID_JSON`, or
 * `VALIDATION_FAILED` for text PostgreSQL cannot store (`\u0000`, a lone surrogate), refused here once for
 * every route rather than by whichever statement meets it first.
 */
export function decodeJsonBody(req: Request, raw: Buffer, rules: BodyRules): unknown {
  if (raw.length === 0) return {};
  assertJsonType(req, rules);
  const text = raw.toString('utf8');
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new AppError('INVALID_JSON', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new AppError('INVALID_JSON', 'The request body is not valid JSON');
  }
  // Only a \u escape can put these in a parsed string (raw NUL is invalid JSON, invalid UTF-8 becomes U+FFFD).
  if (text.includes('\\u') && holdsUnstorableText(body, 0)) {
    throw new AppError(
      'VALIDATION_FAILED',
      'The request body contains text that cannot be stored (a \\u0000 character or a lone surrogate)',
    );
  }
  return body;
}

// A UTF-16 surrogate without its other half: valid in a JSON escape, but not Unicode text PostgreSQL stores.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when a string or key anywhere in the value holds NUL or a lone surrogate (depth is bounded above). */
function holdsUnstorableText(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.includes('\u0000') || LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object' || depth > MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) return value.some((item) => holdsUnstorableText(item, depth + 1));
  for (const [key, item] of Object.entries(value)) {
    if (holdsUnstorableText(key, depth + 1) || holdsUnstorableText(item, depth + 1)) return true;
  }
  return false;
}

/** Reads and decodes a body under the rules; the type is checked before a byte is read. */
export async function readJsonBody(req: RequestWithBody, rules: BodyRules): Promise<unknown> {
  if (!hasBody(req)) return {};
  assertJsonType(req, rules);
  return decodeJsonBody(req, await readRawBody(req, rules.limit), rules);
}

/** Deeper bodies are refused: validation and transformation recurse once per level and would overflow the stack. */
export const MAX_JSON_DEPTH = 32;

/** True when the JSON text nests arrays/objects deeper than `max` (one linear scan, strings skipped). */
export function jsonDepthExceeds(text: string, max: number): boolean {
  // Nesting deeper than `max` needs more than `max` opening brackets; counting them (native searches) settles
  // most bodies without the character-by-character scan.
  if (!hasMoreThan(text, '{', '[', max)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** True when `a` and `b` occur more than `limit` times in all (stops counting past the limit). */
function hasMoreThan(text: string, a: string, b: string, limit: number): boolean {
  let count = 0;
  for (const char of [a, b]) {
    for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) {
      if (++count > limit) return true;
    }
  }
  return false;
}

/** Errors raised before Nest's router (body too large, aborted upload) still get the contract's body. */
export function expressErrorHandler() {
  return (error: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(error);
    const mapped = mapError(
      error,
      RequestContext.correlationId() ?? String(res.getHeader('X-Correlation-ID')),
    );
    for (const [name, value] of Object.entries(mapped.headers)) res.setHeader(name, value);
    res.status(mapped.status).json(mapped.body);
  };
}
