import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { oneOf } from '../database/check';

/** What the audit log records. */
export const AUDIT_ACTIONS = [
  'replay',
  'cleanup',
  'config_test',
  'requeue',
  'export',
  'cancel',
  'rerun',
  'maintenance',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * Operator actions: replays (one workflow or bulk), cleanups, configuration tests, requeues, exports, cancels,
 * reruns, maintenance mode (failed authentications: `auth_failures`).
 */
@Entity({ name: 'audit_log' })
@Check('chk_audit_log_action', oneOf('action', AUDIT_ACTIONS))
@Index('idx_audit_log_action_time', ['action', 'occurredAt'])
export class AuditLogEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz', default: () => 'now()' })
  occurredAt: Date;

  @Column({ type: 'text' })
  action: AuditAction;

  /** Who: an operator key fingerprint (never the key), or null when no valid credential was presented. */
  @Column({ type: 'text', nullable: true })
  actor: string | null;

  @Column({ name: 'client_ip', type: 'text', nullable: true })
  clientIp: string | null;

  @Column({ type: 'text', nullable: true })
  method: string | null;

  @Column({ type: 'text', nullable: true })
  route: string | null;

  @Column({ name: 'correlation_id', type: 'text', nullable: true })
  correlationId: string | null;

  // Spelled as TypeORM reads the column's default back (PostgreSQL shows `'{}'::jsonb`, TypeORM drops the cast), so
  // that migration:generate sees no change here.
  @Column({ type: 'jsonb', default: () => `'{}'` })
  details: Record<string, unknown>;
}
