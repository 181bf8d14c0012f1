import { ApiProperty } from '@nestjs/swagger';

/** This instance's circuit breaker on the calls to OPAL (each instance has its own). */
export class CircuitBreakerDto {
  /**
   * False when OPAL_BREAKER_FAILURES is 0 (every call goes out).
   * @example true
   */
  enabled: boolean;
  /** `closed`: calls go out; `open`: none do, force syncs answer 202 at once; `half_open`: one call probes OPAL. */
  @ApiProperty({ enum: ['closed', 'open', 'half_open'], enumName: 'CircuitBreakerState' })
  state: 'closed' | 'open' | 'half_open';
  /**
   * Consecutive failed calls to OPAL seen by this instance.
   * @example 0
   */
  consecutive_failures: number;
  /**
   * OPAL_BREAKER_FAILURES: failures that open the breaker.
   * @example 5
   */
  failure_threshold: number;
  /**
   * OPAL_BREAKER_COOLDOWN_MS: how long it stays open before a probe.
   * @example 30000
   */
  cooldown_ms: number;
  /**
   * When it last opened (ISO-8601); null while closed.
   * @example "2026-01-15T10:00:00.000Z"
   */
  opened_at: string | null;
  /**
   * When a call may probe OPAL (ISO-8601); null while closed.
   * @example "2026-01-15T10:00:30.000Z"
   */
  probe_at: string | null;
  /** The state is this instance's own. */
  @ApiProperty({ enum: ['instance'] })
  scope: 'instance';
}
