import { AUDIT_ENTITIES } from './audit/audit.module';
import { DATABASE_ENTITIES } from './database/replica-heartbeat.entity';
import { JOBS_ENTITIES } from './jobs/jobs.module';
import { MAINTENANCE_ENTITIES } from './modules/maintenance/maintenance.module';
import { REPLAY_ENTITIES } from './modules/replay/replay.module';
import { SYNC_ENTITIES } from './modules/sync/sync.module';
import { WEBHOOKS_ENTITIES } from './modules/webhooks/webhooks.module';
import { WORKFLOWS_ENTITIES } from './modules/workflows/workflows.module';

/**
 * Every entity of the schema, as each owner declares it, for `migration:generate` (the app registers the same
 * ones module by module). A test keeps the two equal.
 */
export const SCHEMA_ENTITIES = [
  ...WORKFLOWS_ENTITIES,
  ...WEBHOOKS_ENTITIES,
  ...SYNC_ENTITIES,
  ...AUDIT_ENTITIES,
  ...JOBS_ENTITIES,
  ...DATABASE_ENTITIES,
  ...MAINTENANCE_ENTITIES,
  ...REPLAY_ENTITIES,
];
