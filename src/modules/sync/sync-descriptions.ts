import { BLOCKED_WORKFLOWS, STRATEGY_WORKFLOW, SYNC_SCOPES } from '../../domain/opal';
import type { ParameterDescriptionDto, WorkflowSecurityDto } from './dto/sync-configuration.dto';

/** Defaults of the force sync and trigger bodies (contract sections 3 and 6). */
export const DEFAULT_SCOPE = 'priority_platforms';
export const DEFAULT_CLIENT_NAME = 'OPAL Sync Operation';
export const DEFAULT_INDUSTRY = 'Technology';
export const DEFAULT_FORCE_SYNC_TRIGGERED_BY = 'force_sync';
export const DEFAULT_TRIGGER_TRIGGERED_BY = 'api_trigger';

export function workflowSecurity(): WorkflowSecurityDto {
  return {
    allowed_workflow: STRATEGY_WORKFLOW,
    blocked_workflows: [...BLOCKED_WORKFLOWS],
    account_validation: true,
    security_note: `ONLY ${STRATEGY_WORKFLOW} is permitted`,
  };
}

export const FORCE_SYNC_PARAMETERS: Record<string, ParameterDescriptionDto> = {
  sync_scope: {
    type: 'string',
    required: false,
    description: 'Which platforms to sync',
    default: DEFAULT_SCOPE,
    enum: [...SYNC_SCOPES],
  },
  client_context: {
    type: 'object',
    required: false,
    description: `{ client_name?: string <= 200 (default "${DEFAULT_CLIENT_NAME}"), industry?: string <= 100 (default "${DEFAULT_INDUSTRY}"), recipients?: email[] <= 50 }`,
  },
  include_rag_update: {
    type: 'boolean',
    required: false,
    description: 'Ask OPAL to refresh its RAG index',
    default: true,
  },
  triggered_by: {
    type: 'string',
    required: false,
    description: 'Who or what started the sync, <= 100 chars',
    default: DEFAULT_FORCE_SYNC_TRIGGERED_BY,
  },
  metadata: {
    type: 'object',
    required: false,
    description: 'Free-form, <= 8 KiB as JSON; sent to OPAL as metadata.client_metadata',
  },
  allow_concurrent: {
    type: 'boolean',
    required: false,
    description: 'Start even when a sync with the same scope and client is still active',
    default: false,
  },
  'Idempotency-Key': {
    type: 'header',
    required: false,
    description: '1-200 chars; a repeat within 24 h returns the first answer (Idempotent-Replayed: true)',
  },
};

export const TRIGGER_PARAMETERS: Record<string, string> = {
  workflow_name: `required; only "${STRATEGY_WORKFLOW}"`,
  session_id: 'required; 1-200 chars',
  client_name: `optional string <= 200 (default "${DEFAULT_CLIENT_NAME}")`,
  engine_form:
    'optional { industry, company_size, current_capabilities[], business_objectives[], additional_marketing_technology[], timeline_preference, budget_range }',
  preferences: 'optional { recipients: email[] <= 50 }',
  triggered_by: `optional string <= 100 (default "${DEFAULT_TRIGGER_TRIGGERED_BY}")`,
  'Idempotency-Key': 'optional header, 1-200 chars',
};
