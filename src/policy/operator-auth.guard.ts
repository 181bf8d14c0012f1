import { Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { AppError } from '../common/app-error';
import { keyFingerprint, matchesAnyKey } from '../common/constant-time';
import { bearerTokenOf, routeTemplateOf } from '../common/http-utils';

/**
 * Bearer operator keys (OPERATOR_API_KEYS, several at once for rotation). Outside production with no keys
 * configured, operator routes are open (a warning is logged at start). Every failure is counted and audited
 * with who/when/route, never with the presented key.
 */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  private readonly logger = new Logger('OperatorAuth');

  constructor(
    private readonly config: AppConfig,
    private readonly audit: AuditService,
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
    await this.audit
      .record({
        action: 'auth_failure',
        actor: null,
        clientIp: req.ip ?? null,
        method: req.method,
        route,
        details: {
          reason: req.headers.authorization ? 'invalid_key' : 'missing_key',
          presented_fingerprint: presented,
        },
      })
      .catch((error: unknown) =>
        this.logger.error({ msg: 'Could not audit an authentication failure', error }),
      );
    throw new AppError('AUTHENTICATION_FAILED', 'Invalid or missing authentication key');
  }
}
