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

/** The caller's choices in a stored trigger body: what a rerun sends again. */
export interface TriggerInputs {
  clientName: string;
  industry: string | null;
  recipients: string[];
  syncScope: SyncScope | null;
  includeRagUpdate: boolean | null;
  triggeredBy: string;
  sessionId: string | null;
  engineForm: Record<string, unknown> | null;
  clientMetadata: Record<string, unknown> | null;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads back what `buildTriggerPayload` put in a stored body (the inverse of its caller's part, never the
 * service's own ids or times). Fields missing or of the wrong type are taken from `fallback` (the workflow row)
 * or left null for the caller's defaults.
 */
export function triggerInputsOf(
  payload: unknown,
  fallback: Pick<TriggerInputs, 'clientName' | 'syncScope' | 'triggeredBy' | 'sessionId'>,
): TriggerInputs {
  const input = isRecord(payload) && isRecord(payload.input_data) ? payload.input_data : {};
  const metadata = isRecord(payload) && isRecord(payload.metadata) ? payload.metadata : {};
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);
  const scope = text(input.sync_scope);
  return {
    clientName: text(input.client_name) ?? fallback.clientName,
    industry: text(input.industry),
    recipients: Array.isArray(input.recipients)
      ? input.recipients.filter((r): r is string => typeof r === 'string')
      : [],
    syncScope: scope !== null && scope in SCOPE_DETAILS ? (scope as SyncScope) : fallback.syncScope,
    includeRagUpdate: typeof input.include_rag_update === 'boolean' ? input.include_rag_update : null,
    triggeredBy: text(input.triggered_by) ?? fallback.triggeredBy,
    sessionId: text(input.session_id) ?? fallback.sessionId,
    engineForm: isRecord(input.engine_form) ? structuredClone(input.engine_form) : null,
    clientMetadata: isRecord(metadata.client_metadata) ? structuredClone(metadata.client_metadata) : null,
  };
}
