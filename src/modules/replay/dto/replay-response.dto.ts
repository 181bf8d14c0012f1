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
