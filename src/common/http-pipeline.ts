import express, { type NextFunction, type Request, type Response } from 'express';
import { Logger } from '@nestjs/common';
import { mapError } from './error-mapping';
import { API_PREFIX, WEBHOOK_PATH } from '../domain/routes';
import { routeTemplateOf } from './http-utils';
import {
  acceptCorrelationId,
  newCorrelationId,
  RequestContext,
  type RequestContextData,
} from './request-context';

export type BodyProblemKind = 'INVALID_JSON' | 'TOO_DEEP' | 'UNSUPPORTED_MEDIA_TYPE';

/** Stands in for a body that was present but could not be used; `BodyProblemPipe` reports it. */
export class BodyProblem {
  constructor(readonly kind: BodyProblemKind) {}
}

/** Raw bytes of the body, kept for signature checks (the webhook receiver verifies these, never re-serialised JSON). */
export interface RequestWithBody extends Request {
  rawBody?: Buffer;
}

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_BODY_LIMIT = 64 * 1024;

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
          path: req.path,
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

const JSON_TYPES = ['application/json', 'application/*+json'];
// Operators' `curl -d '{…}'` sends this type by default; the service takes no forms, so the body is read as JSON.
const LENIENT_TYPES = ['application/x-www-form-urlencoded'];

/**
 * Reads every body as raw bytes under a size limit (1 MiB for the webhook receiver, 64 KiB elsewhere), keeps
 * the bytes, and decodes JSON. A body that cannot be used is replaced by a `BodyProblem`, which `BodyProblemPipe` reports
 * them after authentication, so an unauthenticated caller learns nothing from body errors.
 */
export function bodyMiddlewares() {
  const webhookRaw = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT });
  const defaultRaw = express.raw({ type: () => true, limit: DEFAULT_BODY_LIMIT });
  const readRaw = (req: Request, res: Response, next: NextFunction) =>
    req.path === WEBHOOK_PATH ? webhookRaw(req, res, next) : defaultRaw(req, res, next);
  const decode = (req: RequestWithBody, _res: Response, next: NextFunction) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : null;
    req.rawBody = raw ?? Buffer.alloc(0);
    req.body = {};
    if (raw && raw.length > 0) {
      const lenient = req.path !== WEBHOOK_PATH;
      const type = req.is([...JSON_TYPES, ...(lenient ? LENIENT_TYPES : [])]);
      if (!type) {
        req.body = new BodyProblem('UNSUPPORTED_MEDIA_TYPE');
      } else {
        const text = raw.toString('utf8');
        if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
          req.body = new BodyProblem('TOO_DEEP');
        } else {
          try {
            req.body = JSON.parse(text) as unknown;
          } catch {
            req.body = new BodyProblem('INVALID_JSON');
          }
        }
      }
    }
    next();
  };
  return [readRaw, decode];
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
