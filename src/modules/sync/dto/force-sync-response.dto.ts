import { ApiProperty } from '@nestjs/swagger';
import { STRATEGY_WORKFLOW, SYNC_SCOPES } from '../../opal/agents';

/** The service's own record of the run. */
export class InternalWorkflowDto {
  enabled: boolean;
  /** Same as `sync_id`. */
  workflow_id: string;
  /** The workflow's status when the answer was given. */
  @ApiProperty({ enum: ['pending', 'triggered', 'running', 'trigger_failed'] })
  status: string;
}

/** The trigger sent to OPAL. */
export class ExternalOpalDto {
  /** True once OPAL accepted the trigger. */
  triggered: boolean;
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  workflow_name: string;
  /** OPAL's id of the workflow, when OPAL gave one. */
  workflow_id: string | null;
  /** `accepted`, or `retry_scheduled` when the service keeps trying in the background. */
  @ApiProperty({ enum: ['accepted', 'retry_scheduled'] })
  status: string;
  /** Calls to OPAL so far. */
  attempts: number;
  /** When the next call is due (retry_scheduled only). */
  next_attempt_at: string | null;
  last_error: string | null;
  /** Always 9. */
  ai_agents_count: number;
  /** True when the built-in OPAL simulator stands in for OPAL. */
  simulated: boolean;
}

export class SyncTelemetryDto {
  /** Time spent answering this request. */
  total_duration_ms: number;
  /** Time spent calling OPAL within this request. */
  external_duration_ms: number;
}

export class SyncDetailsDto {
  @ApiProperty({ enum: SYNC_SCOPES })
  scope: string;
  /** @example ["ODP","Content Recommendations","CMS PaaS","CMP"] */
  platforms_included: string[];
  /** @example "6-8 minutes" */
  estimated_duration: string;
  triggered_by: string;
  sync_timestamp: string;
  internal_workflow: InternalWorkflowDto;
  external_opal: ExternalOpalDto;
  telemetry: SyncTelemetryDto;
}

/** Answer of a force sync: 200 when OPAL accepted the trigger, 202 when a retry is scheduled. */
export class ForceSyncResponseDto {
  success: boolean;
  /** The workflow's id: poll `status_url` with it. */
  sync_id: string;
  /** @example "force-sync-1732800000000-k3j9x2a1" */
  correlation_id: string;
  message: string;
  /** @example "/api/opal/sync/0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11" */
  status_url: string;
  sync_details: SyncDetailsDto;
}
