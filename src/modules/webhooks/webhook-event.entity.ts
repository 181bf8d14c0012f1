import { Check, Column, Entity, ForeignKey, Generated, Index, PrimaryColumn } from 'typeorm';
import { oneOf } from '../../database/check';
import {
  EVENT_STATUSES,
  EVENT_TYPES,
  EXECUTION_STATUSES,
  PROCESSING_STATUSES,
  type ProcessingStatus,
} from '../../domain/events';

/**
 * One signed callback from OPAL, stored before it is acknowledged. `sequence` is the global receive order
 * (cursor for diagnostics, order for processing and replay); `idempotency_key` makes duplicates impossible.
 */
@Entity({ name: 'webhook_events' })
@Check('chk_webhook_events_type', oneOf('event_type', EVENT_TYPES))
@Check('chk_webhook_events_status', oneOf('status', EVENT_STATUSES))
@Check(
  'chk_webhook_events_execution_status',
  oneOf('execution_status', EXECUTION_STATUSES, { nullable: true }),
)
@Check('chk_webhook_events_processing_status', oneOf('processing_status', PROCESSING_STATUSES))
@Index('uq_webhook_events_sequence', ['sequence'], { unique: true })
@Index('uq_webhook_events_idempotency_key', ['idempotencyKey'], { unique: true })
@Index('idx_webhook_events_processing', ['sequence'], { where: `"processing_status" = 'pending'` })
@Index('idx_webhook_events_unmatched', ['workflowRef'], { where: `"processing_status" = 'unmatched'` })
@Index('idx_webhook_events_unmatched_correlation', ['correlationId'], {
  where: `"processing_status" = 'unmatched'`,
})
@Index('idx_webhook_events_sync', ['syncId', 'sequence'])
@Index('idx_webhook_events_workflow_ref', ['workflowRef', 'sequence'])
@Index('idx_webhook_events_type', ['eventType', 'sequence'])
@Index('idx_webhook_events_failed', ['sequence', 'eventType'], { where: `"status" = 'failed'` })
@Index('idx_webhook_events_agent', ['agentId', 'sequence'])
@Index('idx_webhook_events_correlation', ['correlationId', 'sequence'])
@Index('idx_webhook_events_received', ['receivedAt', 'sequence'])
export class WebhookEventEntity {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'bigint' })
  @Generated('increment')
  sequence: string;

  @Column({ name: 'idempotency_key', type: 'text' })
  idempotencyKey: string;

  /** The sender's event_id, when it sent one. */
  @Column({ name: 'source_event_id', type: 'text', nullable: true })
  sourceEventId: string | null;

  @Column({ name: 'event_type', type: 'text' })
  eventType: string;

  @Column({ name: 'raw_event_type', type: 'text', nullable: true })
  rawEventType: string | null;

  /** The workflow_id field as received: OPAL's workflow id or our sync id. */
  @Column({ name: 'workflow_ref', type: 'text' })
  workflowRef: string;

  @Column({ name: 'workflow_name', type: 'text', nullable: true })
  workflowName: string | null;

  @Column({ name: 'sync_id', type: 'uuid', nullable: true })
  // By table name: the workflows table belongs to the workflows module, whose entity is not imported here.
  @ForeignKey('workflows', 'id', { onDelete: 'SET NULL', name: 'fk_webhook_events_workflow' })
  syncId: string | null;

  @Column({ name: 'agent_id', type: 'text', nullable: true })
  agentId: string | null;

  @Column({ name: 'execution_status', type: 'text', nullable: true })
  executionStatus: string | null;

  @Column({ type: 'text' })
  status: string;

  @Column({ name: 'correlation_id', type: 'text', nullable: true })
  correlationId: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage: string | null;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;

  @Column({ name: 'received_at', type: 'timestamptz', default: () => 'now()' })
  receivedAt: Date;

  @Column({ name: 'processing_status', type: 'text', default: 'pending' })
  processingStatus: ProcessingStatus;

  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true })
  processedAt: Date | null;

  /** Milliseconds from receipt until the event was applied to the workflow state. */
  @Column({ name: 'processing_time_ms', type: 'int', nullable: true })
  processingTimeMs: number | null;

  @Column({ name: 'processing_error', type: 'text', nullable: true })
  processingError: string | null;

  @Column({ type: 'jsonb' })
  payload: Record<string, unknown>;
}
