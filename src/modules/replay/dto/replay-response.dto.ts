import { ApiProperty } from '@nestjs/swagger';

export class ReplayedEventDto {
  /** Position in the workflow's stored event stream (receive order, 0-based). */
  offset: number;
  event_id: string;
  @ApiProperty({
    enum: ['workflow_started', 'agent_started', 'agent_completed', 'workflow_completed', 'workflow_failed'],
  })
  event_type: string;
  agent_id: string | null;
  /** `apply`: (re)applied by this replay; `skip`: left as it is (already processed, or still waiting for the processor). */
  @ApiProperty({ enum: ['apply', 'skip'] })
  action: 'apply' | 'skip';
}

export class ReplayStateDto {
  @ApiProperty({
    enum: [
      'pending',
      'triggered',
      'running',
      'completed',
      'partially_completed',
      'failed',
      'timed_out',
      'trigger_failed',
    ],
  })
  status: string;
  /** Each of the nine agents' status. */
  @ApiProperty({
    type: 'object',
    additionalProperties: {
      type: 'string',
      enum: ['pending', 'running', 'completed', 'failed', 'timed_out'],
    },
  })
  agents: Record<string, string>;
}

/** Answer of `POST /api/orchestrations/replay`. */
export class ReplayResponseDto {
  success: boolean;
  /** Id of this replay (also in the audit log). */
  replay_id: string;
  /** The workflow's sync id. */
  workflow_id: string;
  dry_run: boolean;
  from_offset: number;
  /** The agent filter applied; null = every event. */
  agent_filter: string[] | null;
  /** Events at or after `from_offset` that pass the agent filter. */
  events_considered: number;
  /** Of those, the events (re)applied. */
  events_replayed: number;
  events: ReplayedEventDto[];
  /** The workflow's state after the replay (with `dry_run`: the state it would have). */
  resulting_state: ReplayStateDto;
  duration_ms: number;
}
