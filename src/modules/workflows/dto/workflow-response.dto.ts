import { ApiProperty } from '@nestjs/swagger';
import { OPAL_AGENTS, SYNC_SCOPES, STRATEGY_WORKFLOW } from '../../opal/agents';
import { AGENT_STATUSES, WORKFLOW_STATUSES } from '../workflow-state';

/** Finished agents out of nine. */
export class WorkflowProgressDto {
  /** Always 9. */
  agents_total: number;
  agents_completed: number;
  /** Agents that failed or timed out. */
  agents_failed: number;
  /** Finished agents (completed or failed) in percent, rounded. */
  percent: number;
}

/** One call to OPAL. */
export class TriggerAttemptResponseDto {
  /** 1-based attempt number. */
  attempt: number;
  started_at: string;
  duration_ms: number;
  /** OPAL's HTTP status; null when there was no answer (network error, timeout). */
  status_code: number | null;
  @ApiProperty({ enum: ['accepted', 'retryable', 'rejected'] })
  outcome: string;
  error: string | null;
}

/** The trigger's delivery to OPAL. */
export class WorkflowTriggerDto {
  /** Calls to OPAL so far. */
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  /** When the next call is due while OPAL has not accepted yet; null otherwise. */
  next_attempt_at: string | null;
  /** Every call, oldest first (only on a single workflow). */
  history?: TriggerAttemptResponseDto[];
}

/** One of the nine agents within the workflow. */
export class AgentRunResponseDto {
  @ApiProperty({ enum: OPAL_AGENTS })
  agent_id: string;
  @ApiProperty({ enum: AGENT_STATUSES })
  status: string;
  started_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
  error: string | null;
}

/** A workflow as listed (without its agents). */
export class WorkflowSummaryDto {
  /** The service's id of the workflow. */
  sync_id: string;
  /** `force-sync-<epoch ms>-<base36>`; also sent to OPAL and in the logs. */
  correlation_id: string;
  /** The id OPAL gave the workflow, once known. */
  opal_workflow_id: string | null;
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  workflow_name: string;
  @ApiProperty({ enum: WORKFLOW_STATUSES })
  status: string;
  @ApiProperty({ enum: SYNC_SCOPES, nullable: true })
  sync_scope: string | null;
  client_name: string;
  triggered_by: string;
  created_at: string;
  /** When OPAL accepted the trigger. */
  triggered_at: string | null;
  started_at: string | null;
  completed_at: string | null;
  /** From creation to completion; null while not finished. */
  duration_ms: number | null;
  progress: WorkflowProgressDto;
  trigger: WorkflowTriggerDto;
}

/** One workflow, live: its state, its delivery to OPAL and its nine agents. */
export class WorkflowResponseDto extends WorkflowSummaryDto {
  /** The nine agents in OPAL's order. */
  agents: AgentRunResponseDto[];
}

/** A page of workflows, newest first. */
export class WorkflowListResponseDto {
  items: WorkflowSummaryDto[];
  /** Pass as `before` for the next page; null on the last page. */
  next_before: string | null;
}
