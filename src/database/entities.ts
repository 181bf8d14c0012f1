import { AuditLogEntity } from '../audit/audit-log.entity';
import { AuthFailureEntity } from '../audit/auth-failure.entity';
import { IdempotencyRecordEntity } from '../modules/sync/idempotency-record.entity';
import { RejectedDeliveryEntity } from '../modules/webhooks/rejected-delivery.entity';
import { WebhookEventEntity } from '../modules/webhooks/webhook-event.entity';
import { AgentRunEntity } from '../modules/workflows/agent-run.entity';
import { TriggerAttemptEntity } from '../modules/workflows/trigger-attempt.entity';
import { WorkflowEntity } from '../modules/workflows/workflow.entity';
import { JobLeaseEntity } from './job-lease.entity';

/** Every entity of the schema, for the one options builder (app and migration CLI alike). */
export const ENTITIES = [
  WorkflowEntity,
  AgentRunEntity,
  TriggerAttemptEntity,
  WebhookEventEntity,
  RejectedDeliveryEntity,
  IdempotencyRecordEntity,
  AuditLogEntity,
  AuthFailureEntity,
  JobLeaseEntity,
];
