import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { MAINTENANCE_MODES, type MaintenanceMode } from '../../../domain/workflow';

/** The maintenance mode, as every instance obeys it. */
export class MaintenanceStateDto {
  /** `normal`, or `paused`: write routes answer 503 MAINTENANCE_MODE; callbacks are stored, not processed. */
  @ApiProperty({ enum: MAINTENANCE_MODES, enumName: 'MaintenanceMode', example: 'paused' })
  mode: MaintenanceMode;
  /**
   * When the mode was last set (ISO-8601); null when it was never set.
   * @example "2026-03-02T10:15:30.000Z"
   */
  since: string | null;
  /**
   * Why, as given when it was set.
   * @example "restoring the database from last night's backup"
   */
  reason: string | null;
  /**
   * Who set it: the operator key's fingerprint (never the key), or `operator` while operator routes are open.
   * @example "key:3f9a1c2b7d4e5f60"
   */
  by: string | null;
}

/** Body of `PUT /api/maintenance`. */
export class SetMaintenanceDto {
  /** `paused` stops write operations; `normal` resumes them (held events are processed in received order). */
  @ApiProperty({ enum: MAINTENANCE_MODES, enumName: 'MaintenanceMode', example: 'paused' })
  @IsIn(MAINTENANCE_MODES)
  mode: MaintenanceMode;

  /**
   * Why (shown in GET /api/maintenance, system_health and the audit log); at most 500 characters.
   * @example "restoring the database from last night's backup"
   */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}
