import { get as httpGet, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import createExpressApp from 'express';
import { answerCompression } from '../src/common/compression';
import { createTestApp, operatorHeaders, resetDatabase, type TestApp } from './support/app';
import { seedEventStream, seedWorkflow } from './support/seed';

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A GET whose body is kept exactly as sent (supertest would inflate it). */
function rawGet(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('compressed answers (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
    await resetDatabase(t.dataSource);
    const workflow = await seedWorkflow(t.dataSource, { status: 'completed', createdMinutesAgo: 30 });
    await seedEventStream(t.dataSource, workflow, { receivedMinutesAgo: 20 });
  });
  afterAll(async () => {
    await t.close();
  });

  it('gzips the OpenAPI document for a client that accepts it, and the text is the same document', async () => {
    const plain = await rawGet(`${t.url}/docs-json`, {});
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    const zipped = await rawGet(`${t.url}/docs-json`, { 'Accept-Encoding': 'gzip' });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toMatch(/Accept-Encoding/i);
    expect(zipped.body.length).toBeLessThan(plain.body.length / 3);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
  });

  it('compresses a diagnostics page (brotli when preferred)', async () => {
    const headers = { ...operatorHeaders(), 'Accept-Encoding': 'br' };
    const page = await rawGet(
      `${t.url}/api/diagnostics/last-webhook?limit=100&include_payload=true`,
      headers,
    );
    expect(page.status).toBe(200);
    expect(page.headers['content-encoding']).toBe('br');
    const body = JSON.parse(brotliDecompressSync(page.body).toString('utf8')) as { events: unknown[] };
    expect(body.events.length).toBeGreaterThan(5);
  });

  it('sends answers under 1 KiB as they are', async () => {
    const live = await rawGet(`${t.url}/api/health/live`, { 'Accept-Encoding': 'gzip, br' });
    expect(live.status).toBe(200);
    expect(live.body.length).toBeLessThan(1024);
    expect(live.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(live.body.toString('utf8'))).toBeTruthy();
  });

  it("leaves the service's own event stream uncompressed", async () => {
    const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const req = httpGet(
        `${t.url}/api/opal/syncs/events`,
        { headers: { ...operatorHeaders(), 'Accept-Encoding': 'gzip, br' } },
        (res) => {
          resolve(res.headers);
          req.destroy();
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNRESET') reject(error);
      });
    });
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    expect(headers['content-encoding']).toBeUndefined();
  });

  it('still refuses a compressed request body with 415', async () => {
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${t.url}/api/opal/sync`,
        {
          method: 'POST',
          headers: {
            ...operatorHeaders(),
            'Content-Type': 'application/json',
            'Content-Encoding': 'gzip',
            'Accept-Encoding': 'gzip',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('error', reject);
      req.end(Buffer.from([0x1f, 0x8b, 0x08, 0x00]));
    });
    expect(status.status).toBe(415);
    expect(JSON.parse(status.body)).toMatchObject({ code: 'UNSUPPORTED_CONTENT_ENCODING' });
  });
});

describe('compression never holds a stream (e2e)', () => {
  it('passes text/event-stream through event by event, uncompressed', async () => {
    const app = createExpressApp();
    app.use(answerCompression());
    let release: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (release = resolve));
    app.get('/stream', (_req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.setHeader('Cache-Control', 'no-cache');
      res.flushHeaders();
      // Larger than the threshold: compression would otherwise kick in and buffer it.
      res.write(`data: ${'x'.repeat(4096)}\n\n`);
      void finished.then(() => res.end());
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const first = await new Promise<{ headers: IncomingHttpHeaders; chunk: string }>((resolve, reject) => {
        httpGet(`http://127.0.0.1:${port}/stream`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
          // The first event arrives while the answer is still open: nothing held it back.
          res.once('data', (chunk: Buffer) =>
            resolve({ headers: res.headers, chunk: chunk.toString('utf8') }),
          );
          res.on('error', reject);
        }).on('error', reject);
      });
      expect(first.headers['content-encoding']).toBeUndefined();
      expect(first.chunk.startsWith('data: xxx')).toBe(true);
    } finally {
      release();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
