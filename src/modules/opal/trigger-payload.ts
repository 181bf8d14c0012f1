import { randomBytes } from 'node:crypto';
import { SCOPE_DETAILS, STRATEGY_WORKFLOW } from '../../domain/opal';
import type { SyncScope } from '../../domain/opal';

/** What the service asks OPAL to run (contract section 4). Everything the caller chose, nothing it may not. */
export interface TriggerPayloadInput {
  syncId: string;
  correlationId: string;
  spanId: string;
  clientName: string;
  industry: string;
  recipients: string[];
  syncScope: SyncScope;
  includeRagUpdate: boolean;
  triggeredBy: string;
  forceSync: boolean;
  callbackUrl: string;
  workspaceId: string | null;
  triggerTimestamp: Date;
  sessionId?: string | null;
  /** The orchestration trigger's engine form, sent as given. */
  engineForm?: Record<string, unknown> | null;
  /** The caller's free-form metadata; nested under `metadata.client_metadata`, never merged. */
  clientMetadata?: Record<string, unknown> | null;
}

export interface TriggerPayload {
  workflow_name: typeof STRATEGY_WORKFLOW;
  input_data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** A W3C-style span id: 16 lowercase hex characters. */
export function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Builds the trigger body once per workflow; it is stored and every attempt sends it unchanged.
 * The caller's metadata only ever appears as the value of `client_metadata`, so no key in it can replace the
 * service's `correlation_id`, `span_id`, `source_system` or `sync_id`.
 */
export function buildTriggerPayload(input: TriggerPayloadInput): TriggerPayload {
  const inputData: Record<string, unknown> = {
    client_name: input.clientName,
    industry: input.industry,
    recipients: [...input.recipients],
    sync_scope: input.syncScope,
    platforms: [...SCOPE_DETAILS[input.syncScope].platforms],
    include_rag_update: input.includeRagUpdate,
    triggered_by: input.triggeredBy,
    force_sync: input.forceSync,
  };
  if (input.sessionId) inputData.session_id = input.sessionId;
  if (input.engineForm && Object.keys(input.engineForm).length > 0) {
    inputData.engine_form = structuredClone(input.engineForm);
  }

  const metadata: Record<string, unknown> = {
    trigger_timestamp: input.triggerTimestamp.toISOString(),
    correlation_id: input.correlationId,
    span_id: input.spanId,
    sync_id: input.syncId,
  };
  if (input.workspaceId) metadata.workspace_id = input.workspaceId;
  metadata.source_system = 'OSA-ForceSync';
  metadata.callback_url = input.callbackUrl;
  if (input.clientMetadata && Object.keys(input.clientMetadata).length > 0) {
    metadata.client_metadata = structuredClone(input.clientMetadata);
  }

  return { workflow_name: STRATEGY_WORKFLOW, input_data: inputData, metadata };
}
