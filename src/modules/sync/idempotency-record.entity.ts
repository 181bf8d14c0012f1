import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A request `Idempotency-Key` and the answer it produced, unique per caller (the operator key's scope, or one
 * shared scope while operator routes are open), route and key. `status_code` is null while the first request
 * is still in flight; a repeat within 24 h replays the stored answer.
 */
@Entity({ name: 'idempotency_keys' })
export class IdempotencyRecordEntity {
  /** `key:<16 hex of the operator key's SHA-256>`, or `open`. */
  @PrimaryColumn({ type: 'text' })
  caller: string;

  /** The route, e.g. `POST /api/opal/sync`. */
  @PrimaryColumn({ type: 'text' })
  scope: string;

  @PrimaryColumn({ type: 'text' })
  key: string;

  @Column({ name: 'request_hash', type: 'text' })
  requestHash: string;

  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode: number | null;

  @Column({ name: 'response_body', type: 'jsonb', nullable: true })
  responseBody: Record<string, unknown> | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
