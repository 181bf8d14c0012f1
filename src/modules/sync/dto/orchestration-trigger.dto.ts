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
import { BLOCKED_WORKFLOWS, STRATEGY_WORKFLOW } from '../../opal/agents';

/** The strategy engine's intake form, sent to OPAL as `input_data.engine_form`. */
export class EngineFormDto {
  /** @example "Retail" */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  industry?: string;

  /** @example "500-1000" */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  company_size?: string;

  /** @example ["email marketing"] */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  current_capabilities?: string[];

  /** @example ["increase conversion"] */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  business_objectives?: string[];

  /** @example ["Salesforce"] */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  additional_marketing_technology?: string[];

  /** @example "3-6 months" */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  timeline_preference?: string;

  /** @example "50k-100k" */
  @IsOptional()
  @IsString()
  @MaxLength(100)
  budget_range?: string;
}

export class TriggerPreferencesDto {
  /** At most 50 e-mail addresses. */
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

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => EngineFormDto)
  engine_form?: EngineFormDto;

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
  success: boolean;
  /** The service's id of the workflow (the sync id). */
  workflow_id: string;
  /** OPAL's id of the workflow, when OPAL gave one. */
  opal_workflow_id: string | null;
  session_id: string;
  /** @example "force-sync-1732800000000-k3j9x2a1" */
  correlation_id: string;
  @ApiProperty({ enum: ['accepted', 'retry_scheduled'] })
  status: string;
  /** @example "/api/opal/sync/0b0e7c1a-2f4c-4a57-9d1b-6f1f3b1f6a11" */
  status_url: string;
  message: string;
}

/** What `POST /api/orchestrations/trigger` accepts and whether it can run now. */
export class OrchestrationTriggerInfoDto {
  /** @example "/api/orchestrations/trigger" */
  endpoint: string;
  /** @example "POST" */
  method: string;
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  allowed_workflow: string;
  @ApiProperty({ enum: BLOCKED_WORKFLOWS, isArray: true })
  blocked_workflows: string[];
  /** True when the OPAL configuration is valid and a trigger can be sent. */
  ready: boolean;
  @ApiProperty({ enum: ['opal', 'simulator'] })
  mode: string;
  /** Names of failing configuration checks (empty when ready). */
  problems: string[];
  /** The body fields `POST` accepts. */
  parameters: Record<string, string>;
}
