import request from 'supertest';
import { createTestApp, operatorHeaders, resetDatabase, type TestApp } from './support/app';

const ALLOWED_ORIGIN = 'https://admin.test.invalid';

describe('security headers, CORS and Swagger UI (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ CORS_ORIGINS: `${ALLOWED_ORIGIN},https://other.test.invalid` });
    await resetDatabase(t.dataSource);
  });
  afterAll(async () => {
    await t.close();
  });

  function expectHardened(res: request.Response): void {
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['x-correlation-id']).toBeDefined();
  }

  it('sets helmet headers and no X-Powered-By on API answers, errors and public routes', async () => {
    expectHardened(await request(t.url).get('/api/opal/syncs').set(operatorHeaders()).expect(200));
    expectHardened(await request(t.url).get('/api/opal/syncs').expect(401));
    expectHardened(await request(t.url).get('/api/no-such-route').expect(404));
    expectHardened(await request(t.url).get('/api/health/live').expect(200));
    expectHardened(await request(t.url).get('/metrics').expect(200));
    expectHardened(
      await request(t.url)
        .post('/api/opal/sync')
        .set(operatorHeaders())
        .set('Content-Type', 'application/json')
        .send('{broken')
        .expect(400),
    );
  });

  it('serves Swagger UI under the CSP: the page loads and every script and stylesheet it references answers 200', async () => {
    const page = await request(t.url).get('/docs').redirects(2).expect(200);
    expectHardened(page);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const html = page.text;
    // An inline script would be blocked by script-src 'self'; Swagger UI must load only files.
    const inlineScripts = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].filter(
      (m) => m[1].trim() !== '',
    );
    expect(inlineScripts).toEqual([]);
    const assets = [
      ...[...html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)].map((m) => m[1]),
      ...[...html.matchAll(/<link[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g)].map((m) => m[1]),
    ];
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^https?:\/\//);
      // Resolved the way a browser resolves it against the page's address.
      const url = new URL(asset, `${t.url}/docs`).pathname;
      const res = await request(t.url).get(url);
      expect([url, res.status]).toEqual([url, 200]);
      expect(res.text.length).toBeGreaterThan(0);
    }
    const init = assets.find((a) => a.includes('swagger-ui-init.js'));
    expect(init).toBeDefined();
    const openapi = await request(t.url).get('/docs-json').expect(200);
    expect(openapi.body.openapi).toMatch(/^3\./);
  });

  it('allows cross-origin calls only from CORS_ORIGINS', async () => {
    const allowed = await request(t.url)
      .options('/api/opal/sync')
      .set('Origin', ALLOWED_ORIGIN)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);

    const simple = await request(t.url).get('/api/health/live').set('Origin', ALLOWED_ORIGIN).expect(200);
    expect(simple.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);
    expect(simple.headers['access-control-expose-headers']).toContain('Retry-After');

    for (const origin of ['https://evil.test.invalid', 'https://admin.test.invalid.evil.test', 'null']) {
      const denied = await request(t.url)
        .options('/api/opal/sync')
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST');
      expect([origin, denied.headers['access-control-allow-origin']]).toEqual([origin, undefined]);
      const get = await request(t.url).get('/api/health/live').set('Origin', origin);
      expect([origin, get.headers['access-control-allow-origin']]).toEqual([origin, undefined]);
    }
  });

  it('allows no cross-origin access at all when CORS_ORIGINS is unset', async () => {
    const closed = await createTestApp();
    try {
      const res = await request(closed.url)
        .options('/api/opal/sync')
        .set('Origin', ALLOWED_ORIGIN)
        .set('Access-Control-Request-Method', 'POST');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await closed.close();
    }
  });
});
