import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { keyFingerprint } from './constant-time';
import { bearerTokenOf, routeTemplateOf } from './http-utils';

export interface AuditActor {
  actor: string | null;
  clientIp: string | null;
  method: string;
  route: string;
}

/** Who made an operator request, for the audit record: the key's fingerprint (never the key), address, route. */
export const CurrentActor = createParamDecorator((_data: unknown, context: ExecutionContext): AuditActor => {
  const req = context.switchToHttp().getRequest<Request>();
  const token = bearerTokenOf(req);
  return {
    actor: token ? keyFingerprint(token) : 'operator',
    clientIp: req.ip ?? null,
    method: req.method,
    route: routeTemplateOf(req),
  };
});
