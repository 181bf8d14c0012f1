import { ApiProperty } from '@nestjs/swagger';
import { BLOCKED_WORKFLOWS, STRATEGY_WORKFLOW } from '../../../domain/opal';
import { CircuitBreakerDto } from '../../opal/dto/circuit-breaker.dto';

export class WorkflowSecurityDto {
  /** The only workflow that may be triggered. */
  @ApiProperty({ enum: [STRATEGY_WORKFLOW] })
  allowed_workflow: string;
  /**
   * Workflows refused with WORKFLOW_NOT_ALLOWED.
   * @example ["strategy_assistant_workflow"]
   */
  @ApiProperty({ enum: BLOCKED_WORKFLOWS, enumName: 'BlockedWorkflow', isArray: true })
  blocked_workflows: string[];
  /**
   * True: every trigger names the configured OPAL account.
   * @example true
   */
  account_validation: boolean;
  /**
   * How the allow-list is enforced.
   * @example "Only strategy_workflow can be triggered"
   */
  security_note: string;
}

/** One configuration check; secrets appear only masked. */
export class ConfigurationCheckDto {
  /**
   * The setting or check.
   * @example "OPAL_STRATEGY_WORKFLOW_AUTH_KEY"
   */
  name: string;
  /**
   * True when the check passed.
   * @example true
   */
  ok: boolean;
  /**
   * The outcome; secrets appear only masked.
   * @example "set (48 chars)"
   */
  message: string;
}

export class SyncConfigurationDto {
  /**
   * True when every check passed and a force sync can run.
   * @example true
   */
  valid: boolean;
  /** `opal`, or `simulator` when the built-in simulator stands in for OPAL. */
  @ApiProperty({ enum: ['opal', 'simulator'], enumName: 'OpalMode' })
  mode: string;
  /** The service's NODE_ENV. */
  @ApiProperty({ enum: ['development', 'test', 'production'], enumName: 'Environment' })
  environment: string;
  /** Every check, in order. */
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
  /** Which workflows may be triggered. */
  workflow_security: WorkflowSecurityDto;
  /** The configuration checks. */
  configuration: SyncConfigurationDto;
  /** This instance's circuit breaker on OPAL. */
  @ApiProperty({ type: () => CircuitBreakerDto })
  circuit_breaker: CircuitBreakerDto;
  /**
   * The force sync route.
   * @example "/api/opal/sync"
   */
  endpoint: string;
  /**
   * Its HTTP method.
   * @example "POST"
   */
  method: string;
  /**
   * The body fields `POST` accepts, and the optional `Idempotency-Key` header.
   * @example {"sync_scope":{"type":"string","required":false,"description":"Which platforms to sync","default":"priority_platforms"}}
   */
  parameters: Record<string, ParameterDescriptionDto>;
  /** Only on the 500 answer: false. */
  success?: boolean;
  /**
   * Only on the 500 answer: `Configuration Error`.
   * @example "Configuration Error"
   */
  error?: string;
  /**
   * Only on the 500 answer: `CONFIGURATION_ERROR`.
   * @example "CONFIGURATION_ERROR"
   */
  code?: string;
  /**
   * Only on the 500 answer: `Environment validation failed`.
   * @example "Environment validation failed"
   */
  message?: string;
  /**
   * Only on the 500 answer: each failing check (name and message, never a secret's value).
   * @example [{"name":"OPAL_WEBHOOK_URL","message":"missing"}]
   */
  details?: Record<string, unknown>[];
  /**
   * Only on the 500 answer.
   * @example "req-1732800000000-a1b2c3"
   */
  correlation_id?: string;
}
