import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import request from 'supertest';
import { ROUTE_POLICY, type RoutePolicy } from '../src/policy/policy';
import { servedPath } from './support/routes';
import { createTestApp, resetDatabase, TEST_OPERATOR_KEY, type TestApp } from './support/app';

interface RouteInfo {
  route: string;
  method: string;
  policy: RoutePolicy | undefined;
}

/** Every route handler of the app, with the policy it declares (method-level or controller-level). */
function listRoutes(t: TestApp): RouteInfo[] {
  const scanner = new MetadataScanner();
  const reflector = new Reflector();
  const routes: RouteInfo[] = [];
  const controllers = [...t.app.get(ModulesContainer).values()].flatMap((m) => [...m.controllers.values()]);
  for (const wrapper of controllers) {
    const instance = wrapper.instance as object | undefined;
    if (!instance || !wrapper.metatype) continue;
    const prototype = Object.getPrototypeOf(instance) as object;
    const controllerPath = Reflect.getMetadata(PATH_METADATA, wrapper.metatype) as string;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[name] as () => unknown;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      if (path === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
      const policy = reflector.getAllAndOverride<RoutePolicy>(ROUTE_POLICY, [handler, wrapper.metatype]);
      const route = servedPath(t, `/${controllerPath}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1'));
      routes.push({ route, method, policy });
    }
  }
  return routes;
}

async function streamStatus(url: string, authorization: string): Promise<{ status: number }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Authorization: authorization }, signal: controller.signal });
  controller.abort();
  return { status: res.status };
}

describe('route policies (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  it('finds the routes', () => {
    expect(listRoutes(t).length).toBeGreaterThan(3);
  });

  it('every route declares exactly one policy: operator, signed-webhook or public', () => {
    const undeclared = listRoutes(t).filter(
      (r) => !['operator', 'signed-webhook', 'public'].includes(r.policy ?? ''),
    );
    expect(undeclared).toEqual([]);
  });

  it('health and the index are public', () => {
    const byRoute = new Map(listRoutes(t).map((r) => [`${r.method} ${r.route}`, r.policy]));
    for (const route of [
      'GET /api/health',
      'GET /api/health/live',
      'GET /api/health/ready',
      'GET /',
      'GET /metrics',
    ]) {
      expect([route, byRoute.get(route)]).toEqual([route, 'public']);
    }
  });

  it('answers 401 on every operator route without a key or with a wrong key, and not 401 with a right one', async () => {
    const operatorRoutes = listRoutes(t).filter((r) => r.policy === 'operator');
    expect(operatorRoutes.length).toBeGreaterThan(0);
    for (const r of operatorRoutes) {
      const path = r.route.replace(/:[a-z_]+/gi, '00000000-0000-4000-8000-000000000000');
      const send = (auth?: string) => {
        const req = request(t.url)[r.method.toLowerCase() as 'get' | 'post'](path);
        if (auth) req.set('Authorization', auth);
        return r.method === 'GET' ? req : req.send({});
      };
      const missing = await send();
      expect([r.route, missing.status, missing.body]).toEqual([
        r.route,
        401,
        {
          success: false,
          error: 'Authentication failed',
          code: 'AUTHENTICATION_FAILED',
          message: 'Invalid or missing authentication key',
          correlation_id: expect.any(String),
        },
      ]);
      const wrong = await send(`Bearer ${'x'.repeat(40)}`);
      expect([r.route, wrong.status]).toEqual([r.route, 401]);
      // A stream (server-sent events) never ends by itself: only its status is read.
      const right = r.route.endsWith('/events')
        ? await streamStatus(`${t.url}${path}`, `Bearer ${TEST_OPERATOR_KEY}`)
        : await send(`Bearer ${TEST_OPERATOR_KEY}`);
      expect([r.route, right.status]).not.toEqual([r.route, 401]);
    }
  });

  it('counts failed authentications per route and address, but never keeps the presented key', async () => {
    const rows: Record<string, unknown>[] = await t.dataSource.query(`SELECT * FROM auth_failures`);
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain('x'.repeat(40));
    expect(JSON.stringify(rows)).not.toContain(TEST_OPERATOR_KEY);
  });
});
