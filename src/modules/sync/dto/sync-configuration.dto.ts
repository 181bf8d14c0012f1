import { ApiProperty } from '@nestjs/swagger';
import { BLOCKED_WORKFLOWS, STRATEGY_WORKFLOW } from '../../opal/agents';

export class WorkflowSecurityDto {
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  allowed_workflow: string;
  /** @example ["strategy_assistant_workflow"] */
  @ApiProperty({ enum: BLOCKED_WORKFLOWS, isArray: true })
  blocked_workflows: string[];
  account_validation: boolean;
  security_note: string;
}

/** One configuration check; secrets appear only masked. */
export class ConfigurationCheckDto {
  /** @example "OPAL_STRATEGY_WORKFLOW_AUTH_KEY" */
  name: string;
  ok: boolean;
  /** @example "set (48 chars)" */
  message: string;
}

export class SyncConfigurationDto {
  valid: boolean;
  @ApiProperty({ enum: ['opal', 'simulator'] })
  mode: string;
  @ApiProperty({ enum: ['development', 'test', 'production'] })
  environment: string;
  checks: ConfigurationCheckDto[];
}

/** One accepted field of the request body. */
export class ParameterDescriptionDto {
  type: string;
  required: boolean;
  description: string;
  default?: unknown;
  enum?: string[];
}

/**
 * Configuration report. With a valid configuration it is the whole 200 answer; with an invalid one the 500
 * answer carries the same fields plus the error body's (`success: false`, `code: CONFIGURATION_ERROR`, …).
 */
export class SyncConfigurationResponseDto {
  workflow_security: WorkflowSecurityDto;
  configuration: SyncConfigurationDto;
  /** @example "/api/opal/sync" */
  endpoint: string;
  /** @example "POST" */
  method: string;
  /** The body fields `POST` accepts, and the optional `Idempotency-Key` header. */
  parameters: Record<string, ParameterDescriptionDto>;
  /** Only on the 500 answer: false. */
  success?: boolean;
  /** Only on the 500 answer: `Configuration Error`. */
  error?: string;
  /** Only on the 500 answer: `CONFIGURATION_ERROR`. */
  code?: string;
  /** Only on the 500 answer: `Environment validation failed`. */
  message?: string;
  /** Only on the 500 answer: each failing check (name and message, never a secret's value). */
  details?: Record<string, unknown>[];
  /** Only on the 500 answer. */
  correlation_id?: string;
}
