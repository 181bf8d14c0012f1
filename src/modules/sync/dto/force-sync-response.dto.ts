import { ApiProperty } from '@nestjs/swagger';
import { STRATEGY_WORKFLOW, SYNC_SCOPES } from '../../../domain/opal';

/** The service's own record of the run. */
export class InternalWorkflowDto {
  /**
   * Always true: the service tracks every run.
   * @example true
   */
  enabled: boolean;
  /**
   * Same as `sync_id`.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  workflow_id: string;
  /** The workflow's status when the answer was given. */
  @ApiProperty({
    enum: ['pending', 'triggered', 'running', 'trigger_failed'],
    enumName: 'InitialWorkflowStatus',
  })
  status: string;
}

/** The trigger sent to OPAL. */
export class ExternalOpalDto {
  /** True once OPAL accepted the trigger. */
  triggered: boolean;
  /** The OPAL workflow triggered; always `strategy_workflow`. */
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  workflow_name: string;
  /**
   * OPAL's id of the workflow, when OPAL gave one.
   * @example "opal-wf-7f3c2a91"
   */
  workflow_id: string | null;
  /** `accepted`, or `retry_scheduled` when the service keeps trying in the background. */
  @ApiProperty({ enum: ['accepted', 'retry_scheduled'], enumName: 'TriggerDeliveryStatus' })
  status: string;
  /**
   * Calls to OPAL so far.
   * @example 1
   */
  attempts: number;
  /**
   * When the next call is due (retry_scheduled only).
   * @example "2026-03-02T10:15:35.000Z"
   */
  next_attempt_at: string | null;
  /**
   * Why the last call to OPAL failed; null after an accepted call.
   * @example "OPAL answered 503 Service Unavailable"
   */
  last_error: string | null;
  /**
   * Always 9.
   * @example 9
   */
  ai_agents_count: number;
  /** True when the built-in OPAL simulator stands in for OPAL. */
  simulated: boolean;
}

export class SyncTelemetryDto {
  /**
   * Time spent answering this request.
   * @example 184
   */
  total_duration_ms: number;
  /**
   * Time spent calling OPAL within this request.
   * @example 152
   */
  external_duration_ms: number;
}

export class SyncDetailsDto {
  /** The scope synced. */
  @ApiProperty({ enum: SYNC_SCOPES, enumName: 'SyncScope' })
  scope: string;
  /**
   * The platforms the scope covers.
   * @example ["ODP","Content Recommendations","CMS PaaS","CMP"]
   */
  platforms_included: string[];
  /**
   * How long OPAL usually takes for this scope.
   * @example "6-8 minutes"
   */
  estimated_duration: string;
  /**
   * Who or what started the sync.
   * @example "admin_header_button"
   */
  triggered_by: string;
  /**
   * When the sync was created (ISO-8601).
   * @example "2026-03-02T10:15:30.000Z"
   */
  sync_timestamp: string;
  /** The service's own record of the run. */
  internal_workflow: InternalWorkflowDto;
  /** The trigger sent to OPAL. */
  external_opal: ExternalOpalDto;
  /** Timings of this request. */
  telemetry: SyncTelemetryDto;
}

/** Answer of a force sync: 200 when OPAL accepted the trigger, 202 when a retry is scheduled. */
export class ForceSyncResponseDto {
  /**
   * True: the sync exists and OPAL accepted it or will be retried.
   * @example true
   */
  success: boolean;
  /**
   * The workflow's id: poll `status_url` with it.
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  sync_id: string;
  /**
   * The workflow's correlation id, sent to OPAL and found in the logs.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  correlation_id: string;
  /**
   * What happened, for a person.
   * @example "Force sync triggered: OPAL accepted strategy_workflow"
   */
  message: string;
  /**
   * Where to follow the workflow.
   * @example "/api/opal/sync/0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  status_url: string;
  /** The sync as created and the trigger sent to OPAL. */
  sync_details: SyncDetailsDto;
}
