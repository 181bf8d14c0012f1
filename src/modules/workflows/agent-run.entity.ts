import { Check, Column, Entity, ForeignKey, PrimaryColumn } from 'typeorm';
import { WorkflowEntity } from './workflow.entity';

/** The state of one of the nine agents within one workflow. */
@Entity({ name: 'agent_runs' })
@Check('chk_agent_runs_status', `"status" IN ('pending','running','completed','failed','timed_out')`)
@Check(
  'chk_agent_runs_agent',
  `"agent_id" IN ('integration_health','content_review','geo_audit','audience_suggester','experiment_blueprinter','personalization_idea_generator','customer_journey','roadmap_generator','cmp_organizer')`,
)
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
