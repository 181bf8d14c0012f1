import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { MetricsService } from '../../metrics/metrics.service';
import type { AttemptOutcome } from './retry-policy';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** What a caller was let through as: an ordinary call, or the one probe of a half-open breaker. */
export type BreakerPermit = 'call' | 'probe';

/** The breaker as the configuration report, system_health and /metrics show it. */
export interface BreakerReport {
  enabled: boolean;
  state: BreakerState;
  consecutive_failures: number;
  failure_threshold: number;
  cooldown_ms: number;
  /** When it last opened (ISO-8601); null while closed. */
  opened_at: string | null;
  /** When the next call may probe OPAL (ISO-8601); null while closed. */
  probe_at: string | null;
  /** The breaker's state is this instance's own. */
  scope: 'instance';
}

/**
 * A circuit breaker on the calls to OPAL, per instance (state in memory: each instance learns OPAL's health from
 * its own calls, which is enough to spare a request the wait when OPAL is down; nothing is lost when it is wrong,
 * since a trigger's schedule lives in the database).
 *
 * - closed: calls go out. After OPAL_BREAKER_FAILURES consecutive failed calls (no answer, a timeout, 408, 425,
 *   429 or 5xx: what is retried) it opens. A refusal (e.g. 401) is an answer, so it counts as OPAL being up.
 * - open: no call goes out; a force sync or trigger answers 202 at once with its first call scheduled for the end
 *   of the cooldown, and the dispatcher claims nothing.
 * - half-open: once OPAL_BREAKER_COOLDOWN_MS has passed, exactly one call (the dispatcher's next due trigger, or a
 *   new force sync) probes OPAL; success closes the breaker, failure opens it for another cooldown.
 *
 * OPAL_BREAKER_FAILURES=0 turns it off (every call goes out, as before it existed).
 */
@Injectable()
export class OpalBreakerService {
  private readonly logger = new Logger('OpalBreaker');
  private failures = 0;
  private openedAtMs: number | null = null;
  private probing = false;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    metrics.setBreakerReader(() => ({ state: this.state(), failures: this.failures }));
  }

  get enabled(): boolean {
    return this.config.opal.breakerFailures > 0;
  }

  private get cooldownMs(): number {
    return this.config.opal.breakerCooldownMs;
  }

  state(nowMs: number = Date.now()): BreakerState {
    if (this.openedAtMs === null) return 'closed';
    if (this.probing || nowMs >= this.openedAtMs + this.cooldownMs) return 'half_open';
    return 'open';
  }

  /** How long until a call may go out again: 0 when closed or a probe may go now. */
  waitMs(nowMs: number = Date.now()): number {
    if (this.openedAtMs === null) return 0;
    return Math.max(0, this.openedAtMs + this.cooldownMs - nowMs);
  }

  /**
   * How many of `wanted` calls may go out now: all while closed, one probe once the cooldown is over (reserved
   * for the caller: `record` or `release` it), none otherwise.
   */
  admit(wanted: number, nowMs: number = Date.now()): { calls: number; permit: BreakerPermit } {
    if (wanted <= 0) return { calls: 0, permit: 'call' };
    if (!this.enabled || this.openedAtMs === null) return { calls: wanted, permit: 'call' };
    if (this.probing || nowMs < this.openedAtMs + this.cooldownMs) return { calls: 0, permit: 'call' };
    this.probing = true;
    this.logger.log({ msg: 'OPAL circuit breaker half-open: one call probes OPAL' });
    return { calls: 1, permit: 'probe' };
  }

  /** One call for a request: its permit, or null when the breaker refuses (counted as a short circuit). */
  acquire(nowMs: number = Date.now()): BreakerPermit | null {
    const { calls, permit } = this.admit(1, nowMs);
    if (calls === 1) return permit;
    this.metrics.opalBreakerShortCircuits.inc();
    return null;
  }

  /** A permit given back unused (no call was made, or it was cut short by shutdown). */
  release(permit: BreakerPermit): void {
    if (permit === 'probe') this.probing = false;
  }

  /** The outcome of a call made under `permit`. */
  record(permit: BreakerPermit, outcome: AttemptOutcome, nowMs: number = Date.now()): void {
    if (permit === 'probe') this.probing = false;
    if (!this.enabled) return;
    if (outcome !== 'retryable') {
      if (this.openedAtMs !== null) {
        this.logger.log({ msg: 'OPAL circuit breaker closed: OPAL answered', after_failures: this.failures });
      }
      this.failures = 0;
      this.openedAtMs = null;
      return;
    }
    this.failures += 1;
    if (permit === 'probe') {
      this.openedAtMs = nowMs;
      this.logger.warn({
        msg: 'OPAL circuit breaker open again: the probe failed',
        consecutive_failures: this.failures,
        cooldown_ms: this.cooldownMs,
      });
    } else if (this.openedAtMs === null && this.failures >= this.config.opal.breakerFailures) {
      this.openedAtMs = nowMs;
      this.logger.warn({
        msg: 'OPAL circuit breaker open: calls to OPAL keep failing; force syncs answer 202 at once',
        consecutive_failures: this.failures,
        cooldown_ms: this.cooldownMs,
      });
    }
  }

  report(nowMs: number = Date.now()): BreakerReport {
    const opened = this.openedAtMs;
    return {
      enabled: this.enabled,
      state: this.state(nowMs),
      consecutive_failures: this.failures,
      failure_threshold: this.config.opal.breakerFailures,
      cooldown_ms: this.cooldownMs,
      opened_at: opened === null ? null : new Date(opened).toISOString(),
      probe_at: opened === null ? null : new Date(opened + this.cooldownMs).toISOString(),
      scope: 'instance',
    };
  }
}
