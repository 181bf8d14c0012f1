import { ApiProperty, getSchemaPath } from '@nestjs/swagger';
import { EVENT_TYPES } from '../../../domain/events';
import { WORKFLOW_STATUSES } from '../../../domain/workflow';

export class ReplayedEventDto {
  /**
   * Position in the workflow's stored event stream (receive order, 0-based).
   * @example 3
   */
  offset: number;
  /**
   * The stored event's id.
   * @example "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"
   */
  event_id: string;
  /** The event's type. */
  @ApiProperty({ enum: EVENT_TYPES, enumName: 'EventType' })
  event_type: string;
  /**
   * The agent of an `agent_*` event; null for workflow events.
   * @example "content_review"
   */
  agent_id: string | null;
  /** `apply`: (re)applied by this replay; `skip`: left as it is (already processed, or still waiting for the processor). */
  @ApiProperty({ enum: ['apply', 'skip'], enumName: 'ReplayAction' })
  action: 'apply' | 'skip';
}

export class ReplayStateDto {
  /** The workflow's status. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus' })
  status: string;
  /**
   * Each of the nine agents' status.
   * @example {"integration_health":"completed","content_review":"completed"}
   */
  @ApiProperty({
    type: 'object',
    additionalProperties: { $ref: getSchemaPath('AgentStatus') },
  })
  agents: Record<string, string>;
}

/** Answer of `POST /api/orchestrations/replay`. */
export class ReplayResponseDto {
  /**
   * True: the replay ran.
   * @example true
   */
  success: boolean;
  /**
   * Id of this replay (also in the audit log).
   * @example "replay-1732800000000-x7y8z9"
   */
  replay_id: string;
  /**
   * The workflow's sync id.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  workflow_id: string;
  /**
   * True: nothing was written.
   * @example false
   */
  dry_run: boolean;
  /**
   * The offset the replay started from.
   * @example 0
   */
  from_offset: number;
  /**
   * The agent filter applied; null = every event.
   * @example ["content_review"]
   */
  agent_filter: string[] | null;
  /**
   * Events at or after `from_offset` that pass the agent filter.
   * @example 11
   */
  events_considered: number;
  /**
   * Of those, the events (re)applied.
   * @example 11
   */
  events_replayed: number;
  /** Each considered event and what the replay did with it. */
  events: ReplayedEventDto[];
  /** The workflow's state after the replay (with `dry_run`: the state it would have). */
  resulting_state: ReplayStateDto;
  /**
   * How long the replay took.
   * @example 38
   */
  duration_ms: number;
}

export class ReplayStatusChangeDto {
  /**
   * The workflow's sync id.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  workflow_id: string;
  /** Its status before the replay. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus' })
  from_status: string;
  /** Its status after the replay. */
  @ApiProperty({ enum: WORKFLOW_STATUSES, enumName: 'WorkflowStatus' })
  to_status: string;
}

/** Answer of a bulk replay's dry run (`selection` with `dry_run: true`): what it would change; nothing is written. */
export class BulkReplayPreviewDto {
  /**
   * True: the preview was computed.
   * @example true
   */
  success: boolean;
  /**
   * Always true: nothing was written.
   * @example true
   */
  dry_run: boolean;
  /**
   * Workflows in the selection.
   * @example 42
   */
  workflows_matched: number;
  /**
   * Stored events of those workflows the replay would consider.
   * @example 840
   */
  events_considered: number;
  /** Every workflow whose status the replay would change. */
  changes: ReplayStatusChangeDto[];
}

/** Answer of a bulk replay started (202): where to follow it. */
export class BulkReplayAcceptedDto {
  /**
   * True: the job is stored and will run (on one instance, resuming after a restart).
   * @example true
   */
  success: boolean;
  /**
   * The job's id.
   * @example "replay-1732800000000-x7y8z9"
   */
  replay_id: string;
  /**
   * Where its progress is read.
   * @example "/api/orchestrations/replay/replay-1732800000000-x7y8z9"
   */
  status_url: string;
  /**
   * Workflows in the selection.
   * @example 42
   */
  workflows_total: number;
}

export class ReplayFailureDto {
  /**
   * The workflow's sync id.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  workflow_id: string;
  /**
   * Why it could not be replayed.
   * @example "canceling statement due to statement timeout"
   */
  error: string;
}

/** `GET /api/orchestrations/replay/{replay_id}`: a bulk replay's progress. */
export class BulkReplayProgressDto {
  /**
   * The job's id.
   * @example "replay-1732800000000-x7y8z9"
   */
  replay_id: string;
  /** `running` until every workflow is done; then `completed`, or `failed` when any could not be replayed. */
  @ApiProperty({ enum: ['running', 'completed', 'failed'], enumName: 'BulkReplayStatus' })
  status: string;
  /**
   * The selection, as requested.
   * @example {"status":["failed"],"from":"2026-03-02T00:00:00Z","to":"2026-03-03T00:00:00Z"}
   */
  selection: Record<string, unknown>;
  /**
   * Workflows in the selection.
   * @example 42
   */
  workflows_total: number;
  /**
   * Workflows replayed so far (each exactly once).
   * @example 17
   */
  workflows_done: number;
  /**
   * Of those, the ones that could not be replayed (listed in `failures`).
   * @example 0
   */
  workflows_failed: number;
  /** Every status change made so far. */
  changes: ReplayStatusChangeDto[];
  /** The workflows that could not be replayed. */
  failures: ReplayFailureDto[];
  /**
   * When the job was requested (ISO-8601).
   * @example "2026-03-03T09:00:00.000Z"
   */
  created_at: string;
  /**
   * When it finished (ISO-8601); null while running.
   * @example "2026-03-03T09:02:41.000Z"
   */
  finished_at: string | null;
}
