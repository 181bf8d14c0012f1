import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../metrics/metrics.service';
import { registerSecrets } from '../common/redact';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** How long one rate limit check may wait for Redis before the request goes on without it. */
const REDIS_COMMAND_TIMEOUT_MS = 300;

/**
 * Where rate limit counters live. Without REDIS_URL: in this instance's memory (limits per instance).
 * With REDIS_URL: in Redis, shared by every instance.
 *
 * When Redis is unreachable or slow, the check fails open to per-instance counters: the request is limited by
 * this instance alone, an error is logged once per outage and `rate_limiter_storage_errors_total` counts each
 * fallback. An outage of the limiter's store must never turn OPAL's callbacks or an operator's force sync into
 * errors, and per-instance limits still stop a single client's burst. Commands are not queued while Redis is
 * down (enableOfflineQueue off) and time out quickly, so a check never waits long for it.
 */
@Injectable()
export class RateLimitStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly local = new ThrottlerStorageService();
  private readonly redis: Redis | null = null;
  private readonly shared: ThrottlerStorageRedisService | null = null;
  private sharedFailing = false;
  private closed = false;

  constructor(
    config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    if (!config.redisUrl) return;
    const password = safePassword(config.redisUrl);
    if (password) registerSecrets([password]);
    this.redis = new Redis(config.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    // Connection errors are reported through the failed checks (once per outage), not per reconnect attempt.
    this.redis.on('error', () => undefined);
    this.shared = new ThrottlerStorageRedisService(this.redis);
  }

  get mode(): 'redis' | 'memory' {
    return this.shared ? 'redis' : 'memory';
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    if (!this.shared) return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    try {
      const record = await this.shared.increment(key, ttl, limit, blockDuration, throttlerName);
      if (this.sharedFailing) this.logger.log({ msg: 'Redis reachable again: rate limits are shared again' });
      this.sharedFailing = false;
      return record;
    } catch (error) {
      this.metrics.rateLimiterErrors.inc();
      if (!this.sharedFailing) {
        this.logger.error({
          msg: 'Redis unreachable: rate limits fall back to per-instance counters until it answers again',
          error,
        });
      }
      this.sharedFailing = true;
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.local.onApplicationShutdown();
    if (this.redis) {
      await this.redis.quit().catch(() => this.redis?.disconnect());
    }
  }
}

function safePassword(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.password ? decodeURIComponent(parsed.password) : null;
  } catch {
    return null;
  }
}
