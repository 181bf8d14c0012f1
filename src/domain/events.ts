/** The vocabulary of OPAL's callbacks as stored (contract sections 5 and 7). */

/** The five canonical event types; aliases are normalised to these before anything is stored. */
export const EVENT_TYPES = [
  'workflow_started',
  'agent_started',
  'agent_completed',
  'workflow_completed',
  'workflow_failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EXECUTION_STATUSES = ['success', 'failure', 'pending', 'timeout'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** The diagnostics `status` of an event. */
export const EVENT_STATUSES = ['success', 'failed', 'pending'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Where an event stands in processing: waiting, applied, matching no workflow, or not applicable. */
export const PROCESSING_STATUSES = ['pending', 'processed', 'unmatched', 'failed'] as const;
export type ProcessingStatus = (typeof PROCESSING_STATUSES)[number];

/** Why a delivery was refused (one counter row per minute, reason and client address). */
export const REJECTION_REASONS = [
  'signature_invalid',
  'body_invalid',
  'payload_too_large',
  'unsupported_media_type',
  'workflow_not_allowed',
  'duplicate',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];
