import { ApiProperty } from '@nestjs/swagger';

export class ConfigurationCheckResultDto {
  @ApiProperty({ enum: ['configuration', 'database', 'migrations', 'opal_host'] })
  name: string;
  ok: boolean;
  message: string;
  duration_ms: number;
}

/** Answer to `{ "action": "test_configuration" }`. */
export class ConfigurationTestResponseDto {
  /** True when every check passed. */
  success: boolean;
  @ApiProperty({ enum: ['test_configuration'] })
  action: 'test_configuration';
  @ApiProperty({ enum: ['opal', 'simulator'] })
  mode: 'opal' | 'simulator';
  checks: ConfigurationCheckResultDto[];
}

export class CleanupPrunedDto {
  /** Rejected-delivery counters older than the cutoff. */
  rejected_deliveries: number;
  /** Force sync idempotency records past their expiry. */
  idempotency_keys: number;
}

/** Answer to `{ "action": "cleanup_old_events", "retention_days": N }`. */
export class CleanupResponseDto {
  success: boolean;
  @ApiProperty({ enum: ['cleanup_old_events'] })
  action: 'cleanup_old_events';
  /** Events deleted (with `dry_run`: events that would be deleted). */
  deleted: number;
  /** Events received before this time were (or would be) deleted. */
  older_than: string;
  retention_days: number;
  dry_run: boolean;
  pruned: CleanupPrunedDto;
}
