import { Check, Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { oneOf } from '../../database/check';
import { TRIGGER_OUTCOMES, type TriggerOutcome } from '../../domain/workflow';
import { WorkflowEntity } from './workflow.entity';

/** One call to OPAL for a workflow: its answer (or error) and how long it took. */
@Entity({ name: 'trigger_attempts' })
@Check('chk_trigger_attempts_outcome', oneOf('outcome', TRIGGER_OUTCOMES))
@Index('uq_trigger_attempts_workflow_attempt', ['workflowId', 'attempt'], { unique: true })
export class TriggerAttemptEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ name: 'workflow_id', type: 'uuid' })
  @ForeignKey(() => WorkflowEntity, 'id', { onDelete: 'CASCADE', name: 'fk_trigger_attempts_workflow' })
  workflowId: string;

  @Column({ type: 'int' })
  attempt: number;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt: Date;

  @Column({ name: 'duration_ms', type: 'int' })
  durationMs: number;

  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode: number | null;

  @Column({ type: 'text' })
  outcome: TriggerOutcome;

  @Column({ type: 'text', nullable: true })
  error: string | null;
}
