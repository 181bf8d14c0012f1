import { Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { AuthFailuresService } from '../audit/auth-failures.service';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { AppError } from './app-error';
import { keyFingerprint, matchesAnyKey } from './constant-time';
import { bearerTokenOf, routeTemplateOf } from './http-utils';
import { RequestContext } from './request-context';

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
    if (keys.length === 0 && !this.config.isProduction) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const token = bearerTokenOf(req);
    if (token && matchesAnyKey(token, keys)) return true;

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
