import type { Express } from 'express';
import request from 'supertest';
import { routeOrder } from '../src/common/route-order';
import { WEBHOOK_PATH } from '../src/domain/routes';
import { createTestApp, operatorHeaders, type TestApp } from './support/app';

describe('routes (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /** `METHOD /path` of every route, in the order Express tries them. */
  const routes = () => routeOrder(t.app.getHttpAdapter().getInstance() as Express);

  it('serves every API route under /api, and the index, metrics, docs and console outside it', async () => {
    const outside = routes().filter((r) => !r.startsWith('GET /docs') && !/^\w+ \/api\//.test(r));
    expect(outside.sort()).toEqual([
      'GET /',
      'GET /admin',
      'GET /admin/console.css',
      'GET /admin/console.js',
      'GET /favicon.ico',
      'GET /metrics',
    ]);
    await request(t.url).get('/').expect(200);
    await request(t.url).get('/metrics').expect(200);
    await request(t.url).get('/admin').expect(200);
    await request(t.url).get('/docs-json').expect(200);
    await request(t.url).get('/api/health/live').expect(200);
    await request(t.url).get('/api/opal/syncs').set(operatorHeaders()).expect(200);
    for (const wrong of ['/api/metrics', '/api/admin', '/health/live', '/opal/syncs']) {
      await request(t.url).get(wrong).set(operatorHeaders()).expect(404);
    }
  });

  it('matches the receiver before any other route, whatever the order of the modules', () => {
    // The callbacks' route first, then its status route; the docs and every module's routes after them.
    expect(routes().slice(0, 2)).toEqual([`POST ${WEBHOOK_PATH}`, `GET ${WEBHOOK_PATH}`]);
  });
});
