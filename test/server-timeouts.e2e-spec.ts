import type { Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createTestApp, type TestApp } from './support/app';
import { waitFor } from './support/wait';

/** Node enforces the headers and request timeouts on this interval (its default), so a cut can come that late. */
const CHECK_INTERVAL_MS = 30_000;

interface RawClient {
  socket: Socket;
  received: string;
  /** Set when the server closed the connection (we never close it ourselves before the end of the test). */
  closedByServer: boolean;
}

function rawClient(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const client: RawClient = { socket: connect(port, '127.0.0.1'), received: '', closedByServer: false };
    client.socket.on('data', (chunk: Buffer) => (client.received += chunk.toString()));
    client.socket.on('end', () => (client.closedByServer = true));
    client.socket.on('close', () => (client.closedByServer = true));
    client.socket.on('error', () => undefined);
    client.socket.once('connect', () => resolve(client));
    client.socket.once('error', reject);
  });
}

describe('HTTP server timeouts (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('sets headers 10 s, whole request 30 s, idle keep-alive 5 s', () => {
    const server = t.app.getHttpServer() as Server;
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.keepAliveTimeout).toBe(5_000);
  });

  it('cuts off a client that dribbles its headers, and closes an idle keep-alive connection', async () => {
    // A slowloris client: a request line, then one more header line every second, never the blank line.
    const slow = await rawClient(t.port);
    slow.socket.write('POST /api/webhooks/opal-workflow HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const dribble = setInterval(() => {
      if (!slow.closedByServer) slow.socket.write(`X-Slow-${Date.now()}: 1\r\n`);
    }, 1000);
    // A client that sends one complete request on a keep-alive connection, then nothing.
    const idle = await rawClient(t.port);
    idle.socket.write('GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    try {
      await waitFor(() => idle.received.startsWith('HTTP/1.1 200'), 'the keep-alive request answered');
      await waitFor(() => idle.closedByServer, 'the idle keep-alive connection closed by the server', {
        timeoutMs: 5_000 + 10_000,
        intervalMs: 100,
      });
      await waitFor(() => slow.closedByServer, 'the slow client cut off by the server', {
        timeoutMs: 10_000 + CHECK_INTERVAL_MS + 10_000,
        intervalMs: 200,
      });
    } finally {
      clearInterval(dribble);
      slow.socket.destroy();
      idle.socket.destroy();
    }
    // It was never served: nothing, or an error answer, before the close.
    expect(slow.received === '' || /^HTTP\/1\.1 4\d\d /.test(slow.received)).toBe(true);
    // The idle connection got exactly its one answer.
    expect(idle.received.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });
});
