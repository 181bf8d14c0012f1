import { Check, Column, Entity, PrimaryColumn } from 'typeorm';
import { oneOf } from '../../database/check';
import { MAINTENANCE_MODES, type MaintenanceMode } from '../../domain/workflow';

/**
 * The service's maintenance mode: one row (id 1) shared by every instance. No row means `normal` (a fresh
 * database, or one emptied by tests).
 */
@Entity({ name: 'maintenance_mode' })
@Check('chk_maintenance_mode_single_row', `"id" = 1`)
@Check('chk_maintenance_mode_mode', oneOf('mode', MAINTENANCE_MODES))
export class MaintenanceModeEntity {
  @PrimaryColumn({ type: 'smallint' })
  id: number;

  @Column({ type: 'text' })
  mode: MaintenanceMode;

  /** When the mode was last set. */
  @Column({ type: 'timestamptz' })
  since: Date;

  @Column({ type: 'text', nullable: true })
  reason: string | null;

  /** Who set it: an operator key fingerprint (never the key), or `operator` while operator routes are open. */
  @Column({ name: 'changed_by', type: 'text', nullable: true })
  changedBy: string | null;
}
