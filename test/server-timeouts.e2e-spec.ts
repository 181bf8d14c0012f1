import type { Server } from 'node:http';
import { createTestApp, type TestApp } from './support/app';

describe('HTTP server timeouts (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('bounds slow clients: headers 10 s, whole request 30 s, idle keep-alive 5 s', () => {
    const server = t.app.getHttpServer() as Server;
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.keepAliveTimeout).toBe(5_000);
  });
});
