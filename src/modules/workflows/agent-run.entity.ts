import { Check, Column, Entity, ForeignKey, PrimaryColumn } from 'typeorm';
import { oneOf } from '../../database/check';
import { OPAL_AGENTS } from '../../domain/opal';
import { AGENT_STATUSES } from '../../domain/workflow';
import { WorkflowEntity } from './workflow.entity';

/** The state of one of the nine agents within one workflow. */
@Entity({ name: 'agent_runs' })
@Check('chk_agent_runs_status', oneOf('status', AGENT_STATUSES))
@Check('chk_agent_runs_agent', oneOf('agent_id', OPAL_AGENTS))
export class AgentRunEntity {
  @PrimaryColumn({ name: 'workflow_id', type: 'uuid' })
  @ForeignKey(() => WorkflowEntity, 'id', { onDelete: 'CASCADE', name: 'fk_agent_runs_workflow' })
  workflowId: string;

  @PrimaryColumn({ name: 'agent_id', type: 'text' })
  agentId: string;

  @Column({ type: 'text', default: 'pending' })
  status: string;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;
}
