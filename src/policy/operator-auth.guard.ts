import {
  createParamDecorator,
  Injectable,
  Logger,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { Request } from 'express';
import { AuthFailuresService } from '../audit/auth-failures.service';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { AppError } from '../common/app-error';
import { callerScopeOf, keyFingerprint, matchesAnyKey } from '../common/constant-time';
import { bearerTokenOf, routeTemplateOf } from '../common/http-utils';
import { RequestContext } from '../common/request-context';

/** The caller scope shared by every request while operator routes are open (no OPERATOR_API_KEYS). */
export const OPEN_CALLER_SCOPE = 'open';

/** An operator request once authenticated: whose it is, as a scope for its idempotency keys. */
export interface OperatorRequest extends Request {
  callerScope?: string;
}

/**
 * The authenticated caller's scope (`key:<16 hex>`, or `open` while operator routes are open), set by
 * {@link OperatorAuthGuard}: only for operator routes.
 */
export const CallerScope = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const scope = context.switchToHttp().getRequest<OperatorRequest>().callerScope;
  if (scope === undefined) throw new Error('CallerScope is only available on operator routes');
  return scope;
});

/**
 * Bearer operator keys (OPERATOR_API_KEYS, several at once for rotation). Outside production with no keys
 * configured, operator routes are open (a warning is logged at start). Every failure is counted in the metrics
 * and in the per-minute counters of `auth_failures` (route and address, never the presented key).
 */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  private readonly logger = new Logger('OperatorAuth');

  constructor(
    private readonly config: AppConfig,
    private readonly authFailures: AuthFailuresService,
    private readonly metrics: MetricsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const keys = this.config.operatorApiKeys;
    const req = context.switchToHttp().getRequest<OperatorRequest>();
    if (keys.length === 0 && !this.config.isProduction) {
      req.callerScope = OPEN_CALLER_SCOPE;
      return true;
    }
    const token = bearerTokenOf(req);
    if (token && matchesAnyKey(token, keys)) {
      req.callerScope = callerScopeOf(token);
      return true;
    }

    const route = routeTemplateOf(req);
    this.metrics.authFailures.inc({ route });
    const presented = token ? keyFingerprint(token) : null;
    this.logger.warn({ msg: 'Operator authentication failed', route, method: req.method, client_ip: req.ip });
    await this.authFailures
      .record({
        route,
        clientIp: req.ip,
        method: req.method,
        reason: req.headers.authorization ? 'invalid_key' : 'missing_key',
        keyFingerprint: presented,
        correlationId: RequestContext.correlationId() ?? null,
      })
      .catch((error: unknown) =>
        this.logger.error({ msg: 'Could not count an authentication failure', error }),
      );
    throw new AppError('AUTHENTICATION_FAILED', 'Invalid or missing authentication key');
  }
}
