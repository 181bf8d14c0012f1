import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';

export const DIAGNOSTICS_ACTIONS = ['test_configuration', 'cleanup_old_events'] as const;
export type DiagnosticsAction = (typeof DIAGNOSTICS_ACTIONS)[number];

/** Body of `POST /api/diagnostics/last-webhook`. */
export class DiagnosticsActionDto {
  /** `test_configuration` or `cleanup_old_events`. */
  @ApiProperty({ enum: DIAGNOSTICS_ACTIONS, enumName: 'DiagnosticsAction' })
  @IsIn(DIAGNOSTICS_ACTIONS)
  action: DiagnosticsAction;

  /**
   * `cleanup_old_events` only (required there): delete events received more than this many days ago.
   * @example 30
   */
  @ValidateIf(
    (o: DiagnosticsActionDto) => o.action === 'cleanup_old_events' || o.retention_days !== undefined,
  )
  @IsInt()
  @Min(1)
  @Max(3650)
  retention_days?: number;

  /**
   * `cleanup_old_events` only: count what would be deleted, delete nothing.
   * @example true
   */
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;
}
