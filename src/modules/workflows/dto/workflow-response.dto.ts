import { ApiProperty } from '@nestjs/swagger';
import { OPAL_AGENTS, SYNC_SCOPES, STRATEGY_WORKFLOW } from '../../../domain/opal';
import { AGENT_STATUSES, TRIGGER_OUTCOMES, WORKFLOW_STATUSES } from '../../../domain/workflow';

/** Finished agents out of nine. */
export class WorkflowProgressDto {
  /**
   * Always 9.
   * @example 9
   */
  agents_total: number;
  /**
   * Agents that completed successfully.
   * @example 8
   */
  agents_completed: number;
  /**
   * Agents that failed or timed out.
   * @example 1
   */
  agents_failed: number;
  /**
   * Finished agents (completed or failed) in percent, rounded.
   * @example 100
   */
  percent: number;
}

/** One call to OPAL. */
export class TriggerAttemptResponseDto {
  /**
   * 1-based attempt number.
   * @example 1
   */
  attempt: number;
  /**
   * When the call started (ISO-8601).
   * @example "2026-03-02T10:15:30.000Z"
   */
  started_at: string;
  /**
   * How long the call took.
   * @example 152
   */
  duration_ms: number;
  /**
   * OPAL's HTTP status; null when there was no answer (network error, timeout).
   * @example 200
   */
  status_code: number | null;
  /** `accepted`, `retryable` (retried later) or `rejected` (given up). */
  @ApiProperty({ enum: TRIGGER_OUTCOMES, enumName: 'TriggerAttemptOutcome' })
  outcome: string;
  /**
   * Why the call failed; null when accepted.
   * @example "OPAL answered 503 Service Unavailable"
   */
  error: string | null;
}

/** The trigger's delivery to OPAL. */
export class WorkflowTriggerDto {
  /**
   * Calls to OPAL so far.
   * @example 1
   */
  attempts: number;
  /**
   * OPAL's HTTP status on the last call; null when there was no answer.
   * @example 200
   */
  last_status_code: number | null;
  /**
   * Why the last call failed; null when it was accepted.
   * @example "OPAL answered 503 Service Unavailable"
   */
  last_error: string | null;
  /**
   * When the next call is due while OPAL has not accepted yet; null otherwise.
   * @example "2026-03-02T10:15:35.000Z"
   */
  next_attempt_at: string | null;
  /** Every call, oldest first (only on a single workflow). */
  history?: TriggerAttemptResponseDto[];
}

/** One of the nine agents within the workflow. */
export class AgentRunResponseDto {
  /** The agent. */
  @ApiProperty({ enum: OPAL_AGENTS, enumName: 'OpalAgent' })
  agent_id: string;
  /** The agent's status. */
  @ApiProperty({ enum: AGENT_STATUSES, enumName: 'AgentStatus' })
  status: string;
  /**
   * When the agent started (ISO-8601); null before.
   * @example "2026-03-02T10:15:30.000Z"
   */
  started_at: string | null;
  /**
   * When the agent finished (ISO-8601); null before.
   * @example "2026-03-02T10:21:42.500Z"
   */
  completed_at: string | null;
  /**
   * From start to finish; null while not finished.
   * @example 41250
   */
  duration_ms: number | null;
  /**
   * The failure OPAL reported; null unless failed or timed out.
   * @example "Agent did not finish in time"
   */
  error: string | null;
}

/** A workflow as listed (without its agents). */
export class WorkflowSummaryDto {
  /**
   * The service's id of the workflow.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  sync_id: string;
  /**
   * Grows with every stored change of the workflow (its status, its delivery to OPAL, any of its agents); a
   * client that saw version n has seen every change up to n.
   */
  @ApiProperty({ type: 'integer', minimum: 1, example: 7 })
  version: number;
  /**
   * `force-sync-<epoch ms>-<base36>`; also sent to OPAL and in the logs.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  correlation_id: string;
  /**
   * The id OPAL gave the workflow, once known.
   * @example "opal-wf-7f3c2a91"
   */
  opal_workflow_id: string | null;
  /** Always `strategy_workflow`. */
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  workflow_name: string;
  /** The workflow's status. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus' })
  status: string;
  /** The scope of a force sync; null for an orchestration trigger. */
  @ApiProperty({ enum: SYNC_SCOPES, nullable: true })
  sync_scope: string | null;
  /**
   * The client the workflow runs for.
   * @example "ACME Corp"
   */
  client_name: string;
  /**
   * Who or what started it.
   * @example "admin_header_button"
   */
  triggered_by: string;
  /**
   * When the workflow was created (ISO-8601).
   * @example "2026-03-02T10:15:30.000Z"
   */
  created_at: string;
  /**
   * When OPAL accepted the trigger.
   * @example "2026-03-02T10:15:30.152Z"
   */
  triggered_at: string | null;
  /**
   * When OPAL reported the start (ISO-8601).
   * @example "2026-03-02T10:15:31.000Z"
   */
  started_at: string | null;
  /**
   * When the workflow finished (ISO-8601); null while not finished.
   * @example "2026-03-02T10:21:42.500Z"
   */
  completed_at: string | null;
  /**
   * From creation to completion; null while not finished.
   * @example 372500
   */
  duration_ms: number | null;
  /**
   * The finished workflow this one reran with the same inputs; null for a first run.
   * @example "5d2c9e70-1b3a-4c6d-8e9f-0a1b2c3d4e5f"
   */
  rerun_of: string | null;
  /**
   * When an operator cancelled it (status `cancelled`); null otherwise.
   * @example "2026-03-02T10:17:05.000Z"
   */
  cancelled_at: string | null;
  /**
   * The reason given with the cancel; null when none was given or it was not cancelled.
   * @example "started with the wrong scope"
   */
  cancel_reason: string | null;
  /** Finished agents out of nine. */
  progress: WorkflowProgressDto;
  /** The trigger's delivery to OPAL. */
  trigger: WorkflowTriggerDto;
}

/** One workflow, live: its state, its delivery to OPAL and its nine agents. */
export class WorkflowResponseDto extends WorkflowSummaryDto {
  /** The nine agents in OPAL's order. */
  agents: AgentRunResponseDto[];
}

/** A page of workflows, newest first. */
export class WorkflowListResponseDto {
  /** Workflows, newest first. */
  items: WorkflowSummaryDto[];
  /**
   * Pass as `before` for the next page; null on the last page.
   * @example "2026-03-02T10:15:30.000Z|0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  next_before: string | null;
}
