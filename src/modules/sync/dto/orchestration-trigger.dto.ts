import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsEmail,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { BLOCKED_WORKFLOWS, STRATEGY_WORKFLOW } from '../../../domain/opal';

/** The strategy engine's intake form, sent to OPAL as `input_data.engine_form`. */
export class EngineFormDto {
  /**
   * Industry of the client.
   * @example "Retail"
   */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  industry?: string;

  /**
   * Company size band.
   * @example "500-1000"
   */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  company_size?: string;

  /**
   * What the client already does.
   * @example ["email marketing"]
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  current_capabilities?: string[];

  /**
   * What the client wants to achieve.
   * @example ["increase conversion"]
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  business_objectives?: string[];

  /**
   * Other marketing tools in use.
   * @example ["Salesforce"]
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  additional_marketing_technology?: string[];

  /**
   * Preferred timeline.
   * @example "3-6 months"
   */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  timeline_preference?: string;

  /**
   * Budget band.
   * @example "50k-100k"
   */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  budget_range?: string;
}

export class TriggerPreferencesDto {
  /**
   * At most 50 e-mail addresses.
   * @example ["strategy@acme.example"]
   */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsEmail({}, { each: true })
  recipients?: string[];
}

/** Orchestration trigger request; unknown fields are refused. */
export class OrchestrationTriggerRequestDto {
  /**
   * Must be `strategy_workflow`; any other name (e.g. `strategy_assistant_workflow`) is refused with 400
   * WORKFLOW_NOT_ALLOWED.
   * @example "strategy_workflow"
   */
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  workflow_name: string;

  /**
   * The caller's session, sent to OPAL as `input_data.session_id`.
   * @example "session_123"
   */
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  session_id: string;

  /**
   * Client name (default `OPAL Sync Operation`).
   * @example "ACME Corp"
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  client_name?: string;

  /** The intake form, passed to OPAL as is. */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => EngineFormDto)
  engine_form?: EngineFormDto;

  /** Delivery preferences. */
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => TriggerPreferencesDto)
  preferences?: TriggerPreferencesDto;

  /**
   * Who or what started the run (default `api_trigger`).
   * @example "api_trigger"
   */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  triggered_by?: string;
}

/** Answer of the orchestration trigger: 200 when OPAL accepted, 202 when a retry is scheduled. */
export class OrchestrationTriggerResponseDto {
  /**
   * True: the workflow exists and OPAL accepted it or will be retried.
   * @example true
   */
  success: boolean;
  /**
   * The service's id of the workflow (the sync id).
   * @example "0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  workflow_id: string;
  /**
   * OPAL's id of the workflow, when OPAL gave one.
   * @example "opal-wf-7f3c2a91"
   */
  opal_workflow_id: string | null;
  /**
   * The caller's session, as sent.
   * @example "session_123"
   */
  session_id: string;
  /**
   * The workflow's correlation id, sent to OPAL and found in the logs.
   * @example "force-sync-1732800000000-k3j9x2a1"
   */
  correlation_id: string;
  /** `accepted`, or `retry_scheduled` when the service keeps trying in the background. */
  @ApiProperty({ enum: ['accepted', 'retry_scheduled'], enumName: 'TriggerDeliveryStatus' })
  status: string;
  /**
   * Where to follow the workflow.
   * @example "/api/opal/sync/0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11"
   */
  status_url: string;
  /**
   * What happened, for a person.
   * @example "strategy_workflow triggered"
   */
  message: string;
}

/** What `POST /api/orchestrations/trigger` accepts and whether it can run now. */
export class OrchestrationTriggerInfoDto {
  /**
   * The trigger route.
   * @example "/api/orchestrations/trigger"
   */
  endpoint: string;
  /**
   * Its HTTP method.
   * @example "POST"
   */
  method: string;
  /** The only workflow that may be triggered. */
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  allowed_workflow: string;
  /**
   * Workflows refused with WORKFLOW_NOT_ALLOWED.
   * @example ["strategy_assistant_workflow"]
   */
  @ApiProperty({ enum: BLOCKED_WORKFLOWS, enumName: 'BlockedWorkflow', isArray: true })
  blocked_workflows: string[];
  /** True when the OPAL configuration is valid and a trigger can be sent. */
  ready: boolean;
  /** `opal`, or `simulator` when the built-in simulator stands in for OPAL. */
  @ApiProperty({ enum: ['opal', 'simulator'], enumName: 'OpalMode' })
  mode: string;
  /**
   * Names of failing configuration checks (empty when ready).
   * @example []
   */
  problems: string[];
  /**
   * The body fields `POST` accepts.
   * @example {"workflow_name":"string, required: strategy_workflow","session_id":"string, required"}
   */
  parameters: Record<string, string>;
}
