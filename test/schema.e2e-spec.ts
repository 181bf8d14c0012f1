import { SCHEMA_ENTITIES } from '../src/schema';
import { createTestApp, type TestApp } from './support/app';

describe('database schema (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('is exactly what the entities declare once the migrations have run (nothing left to generate)', async () => {
    const pending = await t.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('registers every table with its owner (entities are loaded from the feature modules)', () => {
    const tables = t.dataSource.entityMetadatas.map((m) => m.tableName).sort();
    expect(tables).toEqual([
      'agent_runs',
      'audit_log',
      'auth_failures',
      'idempotency_keys',
      'job_leases',
      'maintenance_mode',
      'rejected_deliveries',
      'replay_job_workflows',
      'replay_jobs',
      'replica_heartbeat',
      'trigger_attempts',
      'webhook_events',
      'workflows',
    ]);
  });

  it('lists for migration:generate exactly the entities the app registers', () => {
    const registered = new Set(t.dataSource.entityMetadatas.map((m) => m.target));
    expect(new Set(SCHEMA_ENTITIES)).toEqual(registered);
  });
});
