import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { oneOf } from '../../database/check';
import { STRATEGY_WORKFLOW, SYNC_SCOPES } from '../../domain/opal';
import {
  ACTIVE_WORKFLOW_STATUSES,
  WORKFLOW_SOURCES,
  WORKFLOW_STATUSES,
  type WorkflowSource,
} from '../../domain/workflow';

/** One request to run OPAL's strategy_workflow (a sync run). `id` is the sync_id. */
@Entity({ name: 'workflows' })
@Check('chk_workflows_status', oneOf('status', WORKFLOW_STATUSES))
@Check('chk_workflows_source', oneOf('source', WORKFLOW_SOURCES))
@Check('chk_workflows_name', `"workflow_name" = '${STRATEGY_WORKFLOW}'`)
@Check('chk_workflows_scope', oneOf('sync_scope', SYNC_SCOPES, { nullable: true }))
@Index('idx_workflows_created', ['createdAt'])
@Index('idx_workflows_updated', ['updatedAt'])
@Index('idx_workflows_status_created', ['status', 'createdAt'])
@Index('idx_workflows_active_key', ['syncScope', 'clientName', 'createdAt'], {
  where: oneOf('status', ACTIVE_WORKFLOW_STATUSES),
})
@Index('idx_workflows_due', ['nextAttemptAt'], { where: `"status" = 'pending'` })
@Index('uq_workflows_opal_workflow_id', ['opalWorkflowId'], {
  unique: true,
  where: `"opal_workflow_id" IS NOT NULL`,
})
export class WorkflowEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ name: 'correlation_id', type: 'text', unique: true })
  correlationId: string;

  @Column({ name: 'opal_workflow_id', type: 'text', nullable: true })
  opalWorkflowId: string | null;

  @Column({ name: 'session_id', type: 'text', nullable: true })
  sessionId: string | null;

  @Column({ name: 'workflow_name', type: 'text', default: 'strategy_workflow' })
  workflowName: string;

  @Column({ type: 'text' })
  source: WorkflowSource;

  @Column({ type: 'text' })
  status: string;

  /** Grows by one with every stored change of the workflow or its agents (written by the one write path). */
  @Column({ type: 'int', default: 1 })
  version: number;

  @Column({ name: 'sync_scope', type: 'text', nullable: true })
  syncScope: string | null;

  @Column({ name: 'client_name', type: 'text' })
  clientName: string;

  @Column({ name: 'triggered_by', type: 'text' })
  triggeredBy: string;

  /** The exact body sent to OPAL, built once so that every retry (on any instance) sends the same request. */
  @Column({ name: 'outbound_payload', type: 'jsonb' })
  outboundPayload: Record<string, unknown>;

  @Column({ name: 'trigger_attempts', type: 'int', default: 0 })
  triggerAttempts: number;

  @Column({ name: 'last_status_code', type: 'int', nullable: true })
  lastStatusCode: number | null;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError: string | null;

  /** When status is pending: when the next attempt is due. Also serves as the lease of the attempt in flight. */
  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null;

  /** How long the force sync / trigger request took to answer (for the response-time alert). */
  @Column({ name: 'response_time_ms', type: 'int', nullable: true })
  responseTimeMs: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'triggered_at', type: 'timestamptz', nullable: true })
  triggeredAt: Date | null;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
