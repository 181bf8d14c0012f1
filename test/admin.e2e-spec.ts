import request from 'supertest';
import { createTestApp, type TestApp } from './support/app';

describe('operator console files (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('serves the page without a key, under the default CSP, with no inline script or handler', async () => {
    const res = await request(t.url).get('/admin').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = res.headers['content-security-policy'];
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).toMatch(/script-src-attr 'none'/);
    expect(res.text).toContain('<script src="/admin/console.js" defer></script>');
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/\son[a-z]+=/i);
    expect(res.text).not.toMatch(/<style/);
    expect(res.text).toContain('Force Sync');
  });

  it('tells the console that operator routes need a key, and nothing more', async () => {
    const res = await request(t.url).get('/api/admin/session').expect(200);
    expect(res.body).toEqual({ operator_routes: 'key_required', environment: 'test' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('writes every API value as text: no innerHTML, outerHTML, insertAdjacentHTML or document.write', async () => {
    const js = await request(t.url).get('/admin/console.js').expect(200);
    expect(js.text).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(js.text).toContain('textContent');
  });

  it('serves its script and style with their types', async () => {
    const js = await request(t.url).get('/admin/console.js').expect(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.text).toContain('sessionStorage');
    expect(js.text).not.toContain('localStorage');
    const css = await request(t.url).get('/admin/console.css').expect(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it('serves nothing else under /admin', async () => {
    const res = await request(t.url).get('/admin/..%2Fpackage.json').expect(404);
    expect(res.body).toMatchObject({ success: false, code: 'NOT_FOUND' });
  });

  it('stays out of the OpenAPI document', async () => {
    const doc = await request(t.url).get('/docs-json').expect(200);
    expect(Object.keys(doc.body.paths).filter((path) => path.startsWith('/admin'))).toEqual([]);
    expect(Object.keys(doc.body.paths)).toContain('/api/admin/session');
  });
});
