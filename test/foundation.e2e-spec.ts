import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createTestApp, resetDatabase, type TestApp } from './support/app';

describe('foundation (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves the health report with the database, backlog and OPAL configuration up', async () => {
    const res = await request(t.url).get('/api/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.info.database.status).toBe('up');
    expect(res.body.info.event_processing).toMatchObject({ status: 'up', backlog: expect.any(Number) });
    expect(res.body.info.opal_configuration).toMatchObject({ status: 'up', mode: 'simulator' });
  });

  it('answers liveness and readiness probes', async () => {
    await request(t.url).get('/api/health/live').expect(200);
    const ready = await request(t.url).get('/api/health/ready').expect(200);
    expect(ready.body.info).toMatchObject({ database: { status: 'up' }, migrations: { status: 'up' } });
  });

  it('answers an unknown route with 404 in the contract error body and a correlation id', async () => {
    const res = await request(t.url).get('/api/nope').expect(404);
    const correlationId = res.headers['x-correlation-id'];
    expect(correlationId).toMatch(/^req-\d+-[0-9a-z]+$/);
    expect(res.body).toEqual({
      success: false,
      error: 'Not Found',
      code: 'NOT_FOUND',
      message: expect.any(String),
      correlation_id: correlationId,
    });
  });

  it('keeps a valid caller correlation id and replaces an invalid one', async () => {
    const kept = await request(t.url).get('/api/nope').set('X-Correlation-ID', 'caller-1.2:3_x').expect(404);
    expect(kept.headers['x-correlation-id']).toBe('caller-1.2:3_x');
    expect(kept.body.correlation_id).toBe('caller-1.2:3_x');
    const replaced = await request(t.url)
      .get('/api/nope')
      .set('X-Correlation-ID', 'bad id with spaces')
      .expect(404);
    expect(replaced.headers['x-correlation-id']).not.toBe('bad id with spaces');
    const tooLong = await request(t.url)
      .get('/api/nope')
      .set('X-Correlation-ID', 'a'.repeat(129))
      .expect(404);
    expect(tooLong.headers['x-correlation-id']).toMatch(/^req-/);
  });

  it('serves an index, Swagger UI and the OpenAPI document, without X-Powered-By', async () => {
    const index = await request(t.url).get('/').expect(200);
    expect(index.body).toMatchObject({
      name: 'opal-force-sync',
      links: { docs: '/docs', health: '/api/health' },
    });
    expect(index.headers['x-powered-by']).toBeUndefined();
    const docs = await request(t.url).get('/docs').expect(200);
    expect(docs.text).toContain('swagger-ui');
    const json = await request(t.url).get('/docs-json').expect(200);
    expect(json.body.openapi).toMatch(/^3\./);
  });

  it('serves exactly the committed openapi.json (run `npm run openapi` after changing the API)', async () => {
    const served = (await request(t.url).get('/docs-json').expect(200)).body;
    const committed = JSON.parse(readFileSync(join(process.cwd(), 'openapi.json'), 'utf8'));
    expect(served).toEqual(committed);
  });

  it('rejects rows that break the schema constraints', async () => {
    await expect(
      t.dataSource.query(
        `INSERT INTO workflows (id, correlation_id, source, status, client_name, triggered_by, outbound_payload)
         VALUES (gen_random_uuid(), 'c-1', 'force_sync', 'bogus', 'x', 'y', '{}')`,
      ),
    ).rejects.toThrow(/chk_workflows_status/);
    await expect(
      t.dataSource.query(
        `INSERT INTO workflows (id, correlation_id, workflow_name, source, status, client_name, triggered_by, outbound_payload)
         VALUES (gen_random_uuid(), 'c-2', 'strategy_assistant_workflow', 'force_sync', 'pending', 'x', 'y', '{}')`,
      ),
    ).rejects.toThrow(/chk_workflows_name/);
    const columns: { data_type: string }[] = await t.dataSource.query(
      `SELECT data_type FROM information_schema.columns
        WHERE table_schema = 'public' AND data_type LIKE 'timestamp%' AND table_name <> 'schema_migrations'`,
    );
    expect(columns.length).toBeGreaterThan(10);
    expect(columns.every((c) => c.data_type === 'timestamp with time zone')).toBe(true);
  });
});
