import { Agent, createServer, request, type Server } from 'node:http';
import { freePorts } from '../src/common/free-port';
import { baseTestEnv, operatorHeaders, TEST_OPAL_KEY } from './support/app';
import { ServiceProcess } from './support/service-process';
import { waitFor } from './support/wait';

/** A slow "OPAL": answers each trigger 202 after `delayMs`; counts the triggers it received. */
function slowOpal(port: number, delayMs: number): Promise<{ server: Server; received: () => number }> {
  let received = 0;
  const server = createServer((req, res) => {
    received += 1;
    req.resume();
    setTimeout(() => {
      res.writeHead(202, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ workflow_id: `opal-wf-${received}` }));
    }, delayMs);
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => resolve({ server, received: () => received })),
  );
}

interface Answer {
  status: number;
  connection: string | undefined;
  body: Record<string, unknown>;
}

/** One request over the given keep-alive agent: status, Connection header and body. */
function send(url: string, agent: Agent, body?: unknown): Promise<Answer> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: text === undefined ? 'GET' : 'POST',
        agent,
        headers: text === undefined ? {} : { ...operatorHeaders(), 'Content-Type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const forceSync = (url: string, agent: Agent): Promise<Answer> =>
  send(`${url}/api/opal/sync`, agent, {
    allow_concurrent: true,
    client_context: { client_name: `Shutdown ${process.pid}` },
  });

async function withSlowOpal(
  delayMs: number,
  env: Record<string, string>,
  run: (service: ServiceProcess, opal: { received: () => number }) => Promise<void>,
): Promise<void> {
  const [servicePort, opalPort] = await freePorts(2);
  const opal = await slowOpal(opalPort, delayMs);
  const service = new ServiceProcess({
    ...(await baseTestEnv(servicePort)),
    OPAL_WEBHOOK_URL: `http://127.0.0.1:${opalPort}/webhooks/strategy_workflow`,
    OPAL_STRATEGY_WORKFLOW_AUTH_KEY: TEST_OPAL_KEY,
    ...env,
  });
  try {
    await service.start();
    await run(service, opal);
  } finally {
    await service.stop('SIGKILL');
    opal.server.closeAllConnections();
    await new Promise((resolve) => opal.server.close(resolve));
  }
}

describe('graceful shutdown of the built service (e2e)', () => {
  it('on SIGTERM: not ready at once, the slow request in flight answered, then exit 0', async () => {
    await withSlowOpal(
      2000,
      { FORCE_SYNC_RESPONSE_BUDGET_MS: '10000', SHUTDOWN_GRACE_MS: '8000' },
      async (service, opal) => {
        const agent = new Agent({ keepAlive: true });
        expect((await send(`${service.url}/api/health/ready`, agent)).connection).toBe('keep-alive');
        const slow = forceSync(service.url, agent);
        await waitFor(() => opal.received() === 1, 'the force sync is waiting for OPAL');

        const exit = service.stop('SIGTERM');
        // From the first moment: not ready, and every answer closes its connection (new connections are still
        // answered while requests are in flight).
        const ready = await waitFor(
          async () => {
            const res = await send(`${service.url}/api/health/ready`, agent);
            return res.status === 503 ? res : null;
          },
          'readiness 503 while shutting down',
          { timeoutMs: 2000 },
        );
        expect(ready.connection).toBe('close');
        expect(ready.body.error).toMatchObject({ shutdown: { status: 'down', message: 'shutting down' } });

        const answer = await slow;
        expect(answer.status).toBe(200);
        expect(answer.connection).toBe('close');
        expect(await exit).toBe(0);
        await expect(fetch(`${service.url}/api/health/live`)).rejects.toThrow();
        const log = service.output.join('\n');
        expect(log).toContain('Shutting down: answering the requests in flight');
        expect(log).toContain('"msg":"Shut down"');
      },
    );
  }, 60_000);

  it('closes a request still running when SHUTDOWN_GRACE_MS is over, and still exits 0', async () => {
    await withSlowOpal(
      20_000,
      { FORCE_SYNC_RESPONSE_BUDGET_MS: '30000', OPAL_TIMEOUT_MS: '30000', SHUTDOWN_GRACE_MS: '500' },
      async (service, opal) => {
        const slow = forceSync(service.url, new Agent({ keepAlive: true })).then(
          (res) => res.status,
          () => 'connection closed',
        );
        await waitFor(() => opal.received() === 1, 'the force sync is waiting for OPAL');
        expect(await service.stop('SIGTERM')).toBe(0);
        expect(await slow).toBe('connection closed');
        expect(service.output.join('\n')).toContain('Shutdown grace period over');
      },
    );
  }, 60_000);
});
