import type { Request } from 'express';

/** The route template (`/api/opal/sync/:syncId`) when Express matched one; metrics and audit use it. */
export function routeTemplateOf(req: Request): string {
  const route = (req as { route?: { path?: unknown } }).route?.path;
  if (typeof route === 'string') return `${req.baseUrl ?? ''}${route}`;
  return 'unmatched';
}
