import { ApiProperty } from '@nestjs/swagger';

export class ConfigurationCheckResultDto {
  /** The check. */
  @ApiProperty({
    enum: ['configuration', 'database', 'migrations', 'opal_host'],
    enumName: 'ConfigurationCheckName',
  })
  name: string;
  /**
   * True when the check passed.
   * @example true
   */
  ok: boolean;
  /**
   * The outcome, for a person.
   * @example "connected to opal.example.com:443"
   */
  message: string;
  /**
   * How long the check took.
   * @example 12
   */
  duration_ms: number;
}

/** Answer to `{ "action": "test_configuration" }`. */
export class ConfigurationTestResponseDto {
  /** True when every check passed. */
  success: boolean;
  /** The action run. */
  @ApiProperty({ enum: ['test_configuration'] })
  action: 'test_configuration';
  /** `opal`, or `simulator` when the built-in simulator stands in for OPAL. */
  @ApiProperty({ enum: ['opal', 'simulator'], enumName: 'OpalMode' })
  mode: 'opal' | 'simulator';
  /** Every check, in order. */
  checks: ConfigurationCheckResultDto[];
}

export class CleanupPrunedDto {
  /**
   * Rejected-delivery counters older than the cutoff.
   * @example 4
   */
  rejected_deliveries: number;
  /**
   * Force sync idempotency records past their expiry.
   * @example 17
   */
  idempotency_keys: number;
  /**
   * Per-minute counters of failed operator authentications older than the cutoff.
   * @example 3
   */
  auth_failures: number;
}

/** Answer to `{ "action": "cleanup_old_events", "retention_days": N }`. */
export class CleanupResponseDto {
  /**
   * True: the cleanup ran.
   * @example true
   */
  success: boolean;
  /** The action run. */
  @ApiProperty({ enum: ['cleanup_old_events'] })
  action: 'cleanup_old_events';
  /**
   * Events deleted (with `dry_run`: events that would be deleted).
   * @example 1250
   */
  deleted: number;
  /**
   * Events received before this time were (or would be) deleted.
   * @example "2026-01-31T10:15:30.000Z"
   */
  older_than: string;
  /**
   * The retention asked for.
   * @example 30
   */
  retention_days: number;
  /**
   * True: nothing was deleted.
   * @example false
   */
  dry_run: boolean;
  /** Other records pruned by the same cleanup. */
  pruned: CleanupPrunedDto;
}
