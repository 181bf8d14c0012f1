import { Check, Column, Entity, PrimaryColumn } from 'typeorm';
import { oneOf } from '../../database/check';
import { REJECTION_REASONS } from '../../domain/events';

/**
 * Rejected deliveries, aggregated per minute, reason and client address. An unauthenticated flood adds at most
 * one row per minute per reason and address (the count grows instead), and no body is ever kept.
 */
@Entity({ name: 'rejected_deliveries' })
@Check('chk_rejected_deliveries_reason', oneOf('reason', REJECTION_REASONS))
export class RejectedDeliveryEntity {
  @PrimaryColumn({ name: 'bucket', type: 'timestamptz' })
  bucket: Date;

  @PrimaryColumn({ type: 'text' })
  reason: string;

  @PrimaryColumn({ name: 'client_ip', type: 'text' })
  clientIp: string;

  @Column({ type: 'int', default: 1 })
  count: number;

  @Column({ name: 'first_at', type: 'timestamptz', default: () => 'now()' })
  firstAt: Date;

  @Column({ name: 'last_at', type: 'timestamptz', default: () => 'now()' })
  lastAt: Date;

  /** The last rejection's short reason detail (at most 300 characters, never a body or a signature). */
  @Column({ name: 'last_detail', type: 'text', nullable: true })
  lastDetail: string | null;

  @Column({ name: 'last_correlation_id', type: 'text', nullable: true })
  lastCorrelationId: string | null;
}
