import { Injectable, type PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import {
  isIn,
  isInt,
  isISO8601,
  isNotEmpty,
  isObject,
  isString,
  maxLength,
  min,
  validate,
  type ValidationError,
} from 'class-validator';
import { AppError, type ErrorDetail } from '../../common/app-error';
import { canonicalJson, sha256Hex } from '../../common/canonical-json';
import { storableTimeMs } from '../../common/validation';
import { OPAL_AGENTS, STRATEGY_WORKFLOW, isAgentId, type AgentId } from '../../domain/opal';
import { WebhookEventDto } from './dto/webhook-event.dto';
import { isExecutionStatus, normalizeEventType } from '../../domain/event-type';
import {
  EXECUTION_STATUSES,
  type EventStatus,
  type EventType,
  type ExecutionStatus,
} from '../../domain/events';

/** A validated callback, normalised into the columns of `webhook_events`. */
export interface ParsedWebhookEvent {
  /** The body exactly as parsed, unknown fields included: stored as the payload. */
  payload: Record<string, unknown>;
  idempotencyKey: string;
  sourceEventId: string | null;
  eventType: EventType;
  rawEventType: string | null;
  status: EventStatus;
  workflowRef: string;
  workflowName: string | null;
  agentId: AgentId | null;
  executionStatus: ExecutionStatus | null;
  correlationId: string | null;
  errorMessage: string | null;
  /** null = the time of receipt. */
  occurredAt: Date | null;
}

const MAX_CORRELATION_ID_LENGTH = 200;

/**
 * The duplicate key of a callback: the sender's `event_id` when it sent one, else the SHA-256 of the body's
 * canonical JSON (keys sorted at every depth). The prefixes keep the two spaces apart, so an `event_id` that
 * happens to look like a hash can never collide with the hash of another body.
 */
export function idempotencyKeyOf(body: Record<string, unknown>): string {
  const eventId = body.event_id;
  if (typeof eventId === 'string' && eventId.length > 0) return `id:${eventId}`;
  return `sha256:${sha256Hex(canonicalJson(body))}`;
}

/** Validates a parsed callback body and normalises it; throws 400 with every field problem listed. */
export async function parseWebhookEvent(body: unknown): Promise<ParsedWebhookEvent> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('VALIDATION_FAILED', 'Invalid request: body', [
      { field: 'body', message: 'must be a JSON object' },
    ]);
  }
  const payload = body as Record<string, unknown>;
  // Refused before anything else: only strategy_workflow may ever be acted upon.
  if (typeof payload.workflow_name === 'string' && payload.workflow_name !== STRATEGY_WORKFLOW) {
    throw new AppError('WORKFLOW_NOT_ALLOWED', `Only ${STRATEGY_WORKFLOW} is accepted`, [
      { field: 'workflow_name', message: `must be ${STRATEGY_WORKFLOW}` },
    ]);
  }

  // The fields have the DTO's shape once validated; before that only what is checked below is relied on.
  const dto = payload as unknown as WebhookEventDto;
  const details = hasValidFields(payload) ? [] : await fieldProblems(payload);
  const invalid = new Set(details.map((d) => d.field));

  const hasAgentId = isAgentId(dto.agent_id);
  const executionStatus = isExecutionStatus(dto.execution_status) ? dto.execution_status : null;
  const normalized = invalid.has('event_type')
    ? null
    : normalizeEventType(dto.event_type, executionStatus, hasAgentId);
  if (!invalid.has('event_type') && normalized === null) {
    const absent = typeof dto.event_type !== 'string' || dto.event_type.trim() === '';
    details.push({
      field: 'event_type',
      message: absent
        ? 'is required unless agent_id and execution_status are present'
        : 'must be one of workflow_started, agent_started, agent_completed, workflow_completed, workflow_failed (or an alias)',
    });
  }
  const isAgentEvent =
    normalized !== null &&
    (normalized.eventType === 'agent_started' || normalized.eventType === 'agent_completed');
  if (isAgentEvent && dto.agent_id === undefined) {
    details.push({ field: 'agent_id', message: 'is required for agent events' });
  }

  let occurredAt: Date | null = null;
  if (typeof dto.timestamp === 'string' && !invalid.has('timestamp')) {
    const ms = storableTimeMs(dto.timestamp);
    if (ms === null)
      details.push({ field: 'timestamp', message: 'timestamp must be a valid ISO 8601 date-time' });
    else occurredAt = new Date(ms);
  }

  if (details.length > 0 || normalized === null) {
    const fields = [...new Set(details.map((d) => d.field))].join(', ');
    throw new AppError('VALIDATION_FAILED', `Invalid request: ${fields}`, details);
  }

  return {
    payload,
    idempotencyKey: idempotencyKeyOf(payload),
    sourceEventId: dto.event_id ?? null,
    eventType: normalized.eventType,
    rawEventType: typeof dto.event_type === 'string' ? dto.event_type : null,
    status: normalized.status,
    workflowRef: dto.workflow_id,
    workflowName: dto.workflow_name ?? null,
    agentId: hasAgentId ? (dto.agent_id as AgentId) : null,
    executionStatus,
    correlationId: correlationIdOf(dto),
    errorMessage:
      typeof dto.error?.message === 'string' && dto.error.message !== '' ? dto.error.message : null,
    occurredAt,
  };
}

const optional = (value: unknown, check: (v: unknown) => boolean): boolean =>
  value === undefined || value === null || check(value);
const shortString = (max: number) => (v: unknown) => isString(v) && maxLength(v, max);
const nonEmptyString = (max: number) => (v: unknown) => isString(v) && isNotEmpty(v) && maxLength(v, max);

/**
 * True when the body passes every rule of `WebhookEventDto`, checked with class-validator's own functions but
 * without its per-call metadata machinery (most of the receiver's validation cost). Only a body that fails
 * goes through `fieldProblems`, which gives the exact per-field messages; a spec checks on a generated corpus
 * that both always agree.
 */
export function hasValidFields(body: Record<string, unknown>): boolean {
  const error = body.error;
  return (
    nonEmptyString(200)(body.workflow_id) &&
    optional(body.event_type, shortString(100)) &&
    optional(body.workflow_name, shortString(200)) &&
    optional(body.agent_id, (v) => isIn(v, OPAL_AGENTS)) &&
    optional(body.execution_status, (v) => isIn(v, EXECUTION_STATUSES)) &&
    optional(body.event_id, nonEmptyString(200)) &&
    optional(body.agent_data, isObject) &&
    optional(body.offset, (v) => isInt(v) && min(v, 0)) &&
    optional(body.timestamp, (v) => isISO8601(v, { strict: true }) && storableTimeMs(v as string) !== null) &&
    optional(body.correlation_id, shortString(200)) &&
    optional(body.environment, shortString(100)) &&
    optional(body.metadata, isObject) &&
    optional(
      error,
      (v) =>
        isObject<Record<string, unknown>>(v) &&
        optional(v.code, shortString(200)) &&
        optional(v.message, shortString(2000)),
    )
  );
}

/** Every field problem of the body, as class-validator reports them for `WebhookEventDto`. */
export async function fieldProblems(body: Record<string, unknown>): Promise<ErrorDetail[]> {
  const dto = plainToInstance(WebhookEventDto, body, { enableImplicitConversion: false });
  const errors = await validate(dto, {
    whitelist: false,
    forbidNonWhitelisted: false,
    forbidUnknownValues: false,
    stopAtFirstError: false,
  });
  return flatten(errors);
}

/** The body as the route's argument: validated and normalised, unknown fields kept. */
@Injectable()
export class WebhookEventPipe implements PipeTransform<unknown, Promise<ParsedWebhookEvent>> {
  transform(value: unknown): Promise<ParsedWebhookEvent> {
    return parseWebhookEvent(value);
  }
}

function correlationIdOf(dto: WebhookEventDto): string | null {
  if (typeof dto.correlation_id === 'string' && dto.correlation_id !== '') return dto.correlation_id;
  const nested = dto.metadata?.correlation_id;
  if (typeof nested === 'string' && nested !== '' && nested.length <= MAX_CORRELATION_ID_LENGTH)
    return nested;
  return null;
}

function flatten(errors: ValidationError[], parent = ''): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) out.push({ field, message });
    if (error.children && error.children.length > 0) out.push(...flatten(error.children, field));
  }
  return out;
}
