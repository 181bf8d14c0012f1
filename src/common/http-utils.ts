import type { Request } from 'express';

/** The route template (`/api/opal/sync/:syncId`) when Express matched one; metrics and audit use it. */
export function routeTemplateOf(req: Request): string {
  const route = (req as { route?: { path?: unknown } }).route?.path;
  if (typeof route === 'string') return `${req.baseUrl ?? ''}${route}`;
  return 'unmatched';
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerTokenOf(req: Request): string | null {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match ? match[1] : null;
}
