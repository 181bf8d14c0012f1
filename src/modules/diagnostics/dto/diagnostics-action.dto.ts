import { IsBoolean, IsIn, IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';

export const DIAGNOSTICS_ACTIONS = ['test_configuration', 'cleanup_old_events'] as const;
export type DiagnosticsAction = (typeof DIAGNOSTICS_ACTIONS)[number];

/** Body of `POST /api/diagnostics/last-webhook`. */
export class DiagnosticsActionDto {
  @IsIn(DIAGNOSTICS_ACTIONS)
  action: DiagnosticsAction;

  /** `cleanup_old_events` only (required there): delete events received more than this many days ago. */
  @ValidateIf(
    (o: DiagnosticsActionDto) => o.action === 'cleanup_old_events' || o.retention_days !== undefined,
  )
  @IsInt()
  @Min(1)
  @Max(3650)
  retention_days?: number;

  /** `cleanup_old_events` only: count what would be deleted, delete nothing. */
  @IsOptional()
  @IsBoolean()
  dry_run?: boolean;
}
