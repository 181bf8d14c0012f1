import { Check, Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Failed operator authentications, counted per minute, route and client address: a flood of bad keys grows a
 * count, not the table (at most one row per minute, route and address), and the rows are pruned with the
 * event retention. Never the presented key: only a fingerprint of the last one.
 */
@Entity({ name: 'auth_failures' })
@Check('chk_auth_failures_reason', `"last_reason" IN ('missing_key','invalid_key')`)
export class AuthFailureEntity {
  @PrimaryColumn({ name: 'bucket', type: 'timestamptz' })
  bucket: Date;

  @PrimaryColumn({ type: 'text' })
  route: string;

  @PrimaryColumn({ name: 'client_ip', type: 'text' })
  clientIp: string;

  @Column({ type: 'int', default: 1 })
  count: number;

  @Column({ name: 'first_at', type: 'timestamptz', default: () => 'now()' })
  firstAt: Date;

  @Column({ name: 'last_at', type: 'timestamptz', default: () => 'now()' })
  lastAt: Date;

  /** Why the last attempt of the minute failed: no key, or a key that is not one of OPERATOR_API_KEYS. */
  @Column({ name: 'last_reason', type: 'text' })
  lastReason: string;

  @Column({ name: 'last_method', type: 'text', nullable: true })
  lastMethod: string | null;

  /** A short non-reversible fingerprint of the last presented key, never the key. */
  @Column({ name: 'last_key_fingerprint', type: 'text', nullable: true })
  lastKeyFingerprint: string | null;

  @Column({ name: 'last_correlation_id', type: 'text', nullable: true })
  lastCorrelationId: string | null;
}
