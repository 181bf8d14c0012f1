import { applyDecorators, Injectable, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiTooManyRequestsResponse } from '@nestjs/swagger';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  SkipThrottle,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
  type ThrottlerOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import type { Settings } from '../config/settings';
import { MetricsService } from '../metrics/metrics.service';
import { AppError } from '../common/app-error';
import { ErrorResponseDto } from '../common/error-response.dto';

/** The contract's rate limit groups (section 2); each limited route belongs to exactly one. */
export const THROTTLE_GROUPS = ['webhook', 'sync', 'admin', 'read'] as const;
export type ThrottleGroupName = (typeof THROTTLE_GROUPS)[number];
export const THROTTLE_GROUP = 'throttle_group';

const WINDOW_MS = 60_000;
const KEY_PREFIX = 'opal-force-sync:rate-limit';

/**
 * Puts a route (or a controller) in one rate limit group and skips the other groups' limits. A route without
 * a group (health, metrics, docs, the index) is not limited.
 */
export function ThrottleGroup(group: ThrottleGroupName): MethodDecorator & ClassDecorator {
  const skipOthers = Object.fromEntries(THROTTLE_GROUPS.filter((g) => g !== group).map((g) => [g, true]));
  return applyDecorators(
    SetMetadata(THROTTLE_GROUP, group),
    SkipThrottle(skipOthers),
    ApiTooManyRequestsResponse({
      description: 'RATE_LIMITED: too many requests from this client; retry after `Retry-After` seconds',
      type: ErrorResponseDto,
      headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
    }),
  );
}

function perMinute(settings: Settings, group: ThrottleGroupName): number {
  switch (group) {
    case 'webhook':
      return settings.rateLimits.webhookPerMin;
    case 'sync':
      return settings.rateLimits.syncPerMin;
    case 'admin':
      return settings.rateLimits.adminPerMin;
    case 'read':
      return settings.rateLimits.readPerMin;
  }
}

/** One named throttler per group, a one-minute window; a limit of 0 switches the group off. */
export function throttlerOptions(settings: Settings, storage: ThrottlerStorage): ThrottlerModuleOptions {
  const throttlers: ThrottlerOptions[] = THROTTLE_GROUPS.map((name) => {
    const limit = perMinute(settings, name);
    return { name, limit, ttl: WINDOW_MS, skipIf: () => limit === 0 };
  });
  return {
    throttlers,
    storage,
    // One budget per client and group, shared by the group's routes (and by every instance with Redis).
    generateKey: (_context: ExecutionContext, tracker: string, group: string) =>
      `${KEY_PREFIX}:${group}:${tracker}`,
  };
}

/**
 * Global guard (APP_GUARD), so it runs before each route's own guards: a burst is refused before any
 * authentication or database work. The client is `req.ip`, which follows Express's `trust proxy` (set from
 * TRUST_PROXY): `X-Forwarded-For` counts only when TRUST_PROXY names the proxies.
 */
@Injectable()
export class AppThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: MetricsService,
  ) {
    super(options, storage, reflector);
  }

  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    const group = this.reflector.getAllAndOverride<ThrottleGroupName | undefined>(THROTTLE_GROUP, [
      context.getHandler(),
      context.getClass(),
    ]);
    return Promise.resolve(group === undefined || context.getType() !== 'http');
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    return (await super.getTracker(req)) || 'unknown';
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const group = throttler.name ?? 'default';
    const key = generateKey(context, await getTracker(req, context), group);
    const record = await this.storageService.increment(key, ttl, limit, blockDuration, group);
    res.setHeader('X-RateLimit-Limit', String(limit));
    res.setHeader('X-RateLimit-Remaining', String(Math.max(0, limit - record.totalHits)));
    res.setHeader('X-RateLimit-Reset', String(record.timeToExpire));
    if (record.isBlocked) {
      this.metrics.rateLimited.inc({ group });
      const retryAfter = String(Math.max(1, record.timeToBlockExpire));
      throw new AppError(
        'RATE_LIMITED',
        `Too many requests (${group} limit: ${limit} per minute); retry after ${retryAfter} s`,
        undefined,
        { 'Retry-After': retryAfter },
      );
    }
    return true;
  }
}
