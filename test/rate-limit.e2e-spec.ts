import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import request from 'supertest';
import { THROTTLE_GROUP } from '../src/policy/throttling';
import { servedPath } from './support/routes';
import { createTestApp, freePort, operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { waitFor } from './support/wait';
import { postSigned } from './support/webhooks';

const DIAGNOSTICS = '/api/diagnostics/last-webhook';

function expectRateLimited(res: request.Response): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({
    success: false,
    error: 'Too Many Requests',
    code: 'RATE_LIMITED',
    message: expect.stringContaining('retry after'),
    correlation_id: res.headers['x-correlation-id'],
  });
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
}

async function statuses(t: TestApp, count: number, build: () => request.Test): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((await build()).status);
  return out;
}

async function metricValue(t: TestApp, series: string): Promise<number> {
  const text = (await request(t.url).get('/metrics').expect(200)).text;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A throwaway Redis server on a free port: the tests stop and restart it. */
class RedisServer {
  private child: ChildProcess | null = null;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'opal-redis-'));
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    this.child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.includes('Ready to accept connections'), 'redis-server to start', {
      timeoutMs: 10000,
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }
}

/** `METHOD /path` → the route's throttle group (undefined = not limited). */
function routeGroups(t: TestApp): Map<string, string | undefined> {
  const scanner = new MetadataScanner();
  const reflector = new Reflector();
  const out = new Map<string, string | undefined>();
  const controllers = [...t.app.get(ModulesContainer).values()].flatMap((m) => [...m.controllers.values()]);
  for (const wrapper of controllers) {
    if (!wrapper.instance || !wrapper.metatype) continue;
    const prototype = Object.getPrototypeOf(wrapper.instance) as Record<string, () => unknown>;
    const base = Reflect.getMetadata(PATH_METADATA, wrapper.metatype) as string;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const path = Reflect.getMetadata(PATH_METADATA, prototype[name]) as string | undefined;
      if (path === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, prototype[name]) as number];
      const route = servedPath(t, `/${base}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1'));
      out.set(
        `${method} ${route}`,
        reflector.getAllAndOverride<string>(THROTTLE_GROUP, [prototype[name], wrapper.metatype]),
      );
    }
  }
  return out;
}

describe('rate limits (e2e)', () => {
  describe('one instance, socket address', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ RATE_LIMIT_READ_PER_MIN: '5', RATE_LIMIT_ADMIN_PER_MIN: '0' });
      await resetDatabase(t.dataSource);
    });
    afterAll(async () => {
      await t.close();
    });

    it('puts each route in its contract group; health, metrics and the index are not limited', () => {
      expect(Object.fromEntries(routeGroups(t))).toEqual({
        'GET /': undefined,
        'GET /metrics': undefined,
        'GET /favicon.ico': undefined,
        'GET /api/health': undefined,
        'GET /api/health/live': undefined,
        'GET /api/health/ready': undefined,
        'POST /api/opal/sync': 'sync',
        'POST /api/orchestrations/trigger': 'sync',
        'POST /api/webhooks/opal-workflow': 'webhook',
        'POST /api/diagnostics/last-webhook': 'admin',
        'POST /api/orchestrations/replay': 'admin',
        'GET /api/diagnostics/last-webhook': 'read',
        'GET /api/opal/sync': 'read',
        'GET /api/opal/sync/:sync_id': 'read',
        'GET /api/opal/sync/:sync_id/events': 'read',
        'GET /api/opal/syncs': 'read',
        'GET /api/opal/syncs/events': 'read',
        'GET /api/orchestrations/trigger': 'read',
        'GET /api/webhooks/opal-workflow': 'read',
      });
    });

    it('limits a burst against diagnostics with 429, Retry-After and the error body; a spoofed X-Forwarded-For does not reset it', async () => {
      let n = 0;
      const ok = await statuses(t, 5, () =>
        request(t.url).get(DIAGNOSTICS).set(operatorHeaders()).set('X-Forwarded-For', `203.0.113.${++n}`),
      );
      expect(ok).toEqual([200, 200, 200, 200, 200]);
      const limited = await request(t.url).get(DIAGNOSTICS).set(operatorHeaders());
      expectRateLimited(limited);
      for (const spoofed of ['198.51.100.7', '10.0.0.1, 10.0.0.2', '::1']) {
        const res = await request(t.url)
          .get(DIAGNOSTICS)
          .set(operatorHeaders())
          .set('X-Forwarded-For', spoofed)
          .set('X-Real-IP', spoofed);
        expectRateLimited(res);
      }
      // The other read routes share the group's budget.
      expectRateLimited(await request(t.url).get('/api/opal/syncs').set(operatorHeaders()));
      expect(await metricValue(t, 'rate_limited_total{group="read"}')).toBeGreaterThanOrEqual(5);
    });

    it('runs before authentication: an unauthenticated burst is limited too', async () => {
      const res = await request(t.url)
        .get(DIAGNOSTICS)
        .set('Authorization', `Bearer ${'x'.repeat(40)}`);
      expectRateLimited(res);
    });

    it('other groups keep their own budget; 0 turns a group off; health, metrics and docs are never limited', async () => {
      const admin = await statuses(t, 12, () =>
        request(t.url).post(DIAGNOSTICS).set(operatorHeaders()).send({ action: 'test_configuration' }),
      );
      expect(admin.every((s) => s !== 429)).toBe(true);
      for (const path of ['/api/health/live', '/metrics', '/docs-json', '/']) {
        const got = await statuses(t, 8, () => request(t.url).get(path));
        expect([path, got.filter((s) => s === 429).length]).toEqual([path, 0]);
      }
    });
  });

  describe('behind a trusted proxy (TRUST_PROXY=loopback)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ TRUST_PROXY: 'loopback', RATE_LIMIT_READ_PER_MIN: '3' });
    });
    afterAll(async () => {
      await t.close();
    });

    it('counts each forwarded client separately', async () => {
      const get = (client: string) =>
        request(t.url).get(DIAGNOSTICS).set(operatorHeaders()).set('X-Forwarded-For', client);
      expect(await statuses(t, 3, () => get('198.51.100.1'))).toEqual([200, 200, 200]);
      expectRateLimited(await get('198.51.100.1'));
      expect((await get('198.51.100.2')).status).toBe(200);
    });
  });

  describe('webhook group', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ RATE_LIMIT_WEBHOOK_PER_MIN: '2' });
    });
    afterAll(async () => {
      await t.close();
    });

    it('limits the receiver with its own group, before the signature check', async () => {
      const send = () => postSigned(t.url, '{}', { signature: 't=1,v1=00' });
      expect(await statuses(t, 2, send)).toEqual([401, 401]);
      expectRateLimited(await send());
      expect(await metricValue(t, 'rate_limited_total{group="webhook"}')).toBe(1);
    });
  });

  // Redis is optional for the service and may be missing on a fresh machine: then this part is skipped, saying so.
  const describeWithRedis = redisServerAvailable() ? describe : describe.skip;
  if (!redisServerAvailable())
    process.stdout.write('rate limits: redis-server not installed, shared-limit tests skipped\n');

  describeWithRedis('two instances sharing Redis', () => {
    let redis: RedisServer;
    let a: TestApp;
    let b: TestApp;

    beforeAll(async () => {
      redis = new RedisServer(await freePort());
      await redis.start();
      const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}`, RATE_LIMIT_READ_PER_MIN: '4' };
      a = await createTestApp(env);
      b = await createTestApp(env);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await redis?.stop();
    });

    it('shares one budget per client across instances', async () => {
      const get = (t: TestApp) => request(t.url).get(DIAGNOSTICS).set(operatorHeaders());
      // The client may reach either instance before the first connection is up: wait until both use Redis.
      await waitFor(async () => (await metricValue(a, 'rate_limiter_storage_errors_total')) === 0, 'a');
      const got = [
        (await get(a)).status,
        (await get(b)).status,
        (await get(a)).status,
        (await get(b)).status,
      ];
      expect(got).toEqual([200, 200, 200, 200]);
      expectRateLimited(await get(a));
      expectRateLimited(await get(b));
    });

    it('fails open to per-instance limits while Redis is down, logs it once, counts it, and shares again afterwards', async () => {
      await redis.stop();
      const post = (t: TestApp) =>
        request(t.url).post(DIAGNOSTICS).set(operatorHeaders()).send({ action: 'test_configuration' });
      // Answered while Redis is still down: nothing waits for it to come back.
      const got = await statuses(a, 5, () => post(a));
      expect(got.every((s) => s === 200)).toBe(true);
      // Admin limits are off here, so only the reads below consult the limiter. The per-instance fallback still limits a single client's burst (read budget: 4).
      const reads = await statuses(a, 5, () => request(a.url).get(DIAGNOSTICS).set(operatorHeaders()));
      expect(reads).toEqual([200, 200, 200, 200, 429]);
      expect(await metricValue(a, 'rate_limiter_storage_errors_total')).toBe(5);
      // Nest's Logger writes through the most recently created app's logger: read both apps' lines.
      const logs = () => [...a.logs, ...b.logs];
      const outage = logs().filter((l) => l.includes('Redis unreachable'));
      expect(outage).toHaveLength(1);
      expect(JSON.parse(outage[0])).toMatchObject({ level: 'error', context: 'RateLimit' });

      await redis.start();
      await waitFor(
        async () => {
          await request(a.url).get(DIAGNOSTICS).set(operatorHeaders());
          return logs().some((l) => l.includes('Redis reachable again'));
        },
        'the shared limiter to recover',
        { intervalMs: 200 },
      );
    }, 30000);
  });
});
