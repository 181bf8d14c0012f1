import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { SIGNATURE_HEADER, verifySignature } from '../../../common/signature';
import type { VerifyResult } from '../../../common/signature';
import { OPAL_AGENTS, STRATEGY_WORKFLOW } from '../../../domain/opal';
import { HmacService } from '../../../common/hmac.service';
import { OpalSimulator } from './opal-simulator';
import type { OpalSimulatorOptions } from './opal-simulator';

const AUTH_KEY = 'sim-auth-key-0123456789abcdef0123456789';
const SECRET = 'whsec_sim_secret_0123456789abcdef';
const signerOf = (secret: string) => new HmacService({ secrets: [secret], toleranceSeconds: 300 });
const EVENTS_PER_WORKFLOW = 1 + OPAL_AGENTS.length * 2 + 1;

type Json = Record<string, unknown>;

/** What the receiver does with one attempt: answer a status, or cut the connection. */
type Reaction = number | 'drop';

interface Delivery {
  body: Json;
  signatureHeader: string | undefined;
  contentType: string | undefined;
  verification: VerifyResult;
  attempt: number;
  reaction: Reaction;
}

/** Stands in for the service's webhook receiver: verifies every signature and records every attempt. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  react: (body: Json, attempt: number) => Reaction = () => 202;
  private readonly attempts = new Map<string, number>();
  private readonly server: Server = createServer((req, res) => {
    this.onRequest(req, res).catch(() => res.destroy());
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/api/webhooks/opal-workflow`;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Events in the order they were accepted (2xx or 409), one per event. */
  get accepted(): Json[] {
    return this.deliveries
      .filter((d) => d.reaction !== 'drop' && ((d.reaction >= 200 && d.reaction < 300) || d.reaction === 409))
      .map((d) => d.body);
  }

  attemptsOf(eventId: string): Delivery[] {
    return this.deliveries.filter((d) => d.body.event_id === eventId);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) {
      chunks.push(chunk);
    }
    const rawBody = Buffer.concat(chunks);
    const signatureHeader = req.headers[SIGNATURE_HEADER] as string | undefined;
    const verification = verifySignature({
      header: signatureHeader,
      rawBody,
      secrets: [SECRET],
      nowMs: Date.now(),
      toleranceSeconds: 300,
    });
    const body = JSON.parse(rawBody.toString('utf8')) as Json;
    const eventId = String(body.event_id);
    const attempt = (this.attempts.get(eventId) ?? 0) + 1;
    this.attempts.set(eventId, attempt);
    const reaction = verification.ok ? this.react(body, attempt) : 401;
    this.deliveries.push({
      body,
      signatureHeader,
      contentType: req.headers['content-type'],
      verification,
      attempt,
      reaction,
    });
    if (reaction === 'drop') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(reaction, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ success: reaction < 300 }));
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('OpalSimulator', () => {
  let receiver: Receiver;
  const simulators: OpalSimulator[] = [];

  beforeEach(async () => {
    receiver = new Receiver();
    await receiver.start();
  });

  afterEach(async () => {
    await Promise.all(simulators.splice(0).map((sim) => sim.stop()));
    await receiver.stop();
  });

  async function startSimulator(overrides: Partial<OpalSimulatorOptions> = {}): Promise<OpalSimulator> {
    const sim = new OpalSimulator({
      authKey: AUTH_KEY,
      hmac: signerOf(SECRET),
      agentDelayMs: 0,
      failAgents: [],
      triggerFailures: 0,
      ...overrides,
    });
    simulators.push(sim);
    await sim.start();
    return sim;
  }

  function triggerBody(overrides: Json = {}): Json {
    return {
      workflow_name: STRATEGY_WORKFLOW,
      input_data: { client_name: 'Acme', industry: 'Retail', force_sync: true, session_id: 'session-123' },
      metadata: {
        correlation_id: 'force-sync-1700000000000-abc123',
        sync_id: '4b1f4c55-6d0e-4c0a-9f62-1f0e4f1a2b3c',
        callback_url: receiver.url,
        source_system: 'OSA-ForceSync',
      },
      ...overrides,
    };
  }

  async function trigger(
    sim: OpalSimulator,
    options: {
      body?: unknown;
      rawBody?: string;
      authorization?: string | null;
      idempotencyKey?: string;
    } = {},
  ): Promise<{ status: number; json: Json }> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    const authorization = options.authorization === undefined ? `Bearer ${AUTH_KEY}` : options.authorization;
    if (authorization !== null) {
      headers.Authorization = authorization;
    }
    if (options.idempotencyKey !== undefined) {
      headers['Idempotency-Key'] = options.idempotencyKey;
    }
    const response = await fetch(sim.url, {
      method: 'POST',
      headers,
      body: options.rawBody ?? JSON.stringify(options.body ?? triggerBody()),
    });
    return { status: response.status, json: (await response.json()) as Json };
  }

  describe('trigger endpoint', () => {
    it('serves the strategy_workflow trigger URL on an ephemeral port', async () => {
      const sim = new OpalSimulator({
        authKey: AUTH_KEY,
        hmac: signerOf(SECRET),
        agentDelayMs: 0,
        failAgents: [],
        triggerFailures: 0,
      });
      expect(() => sim.url).toThrow('not started');
      simulators.push(sim);
      const url = await sim.start();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhooks\/strategy_workflow$/);
      expect(sim.url).toBe(url);
    });

    it.each([
      { name: 'a wrong key', authorization: 'Bearer not-the-key' },
      { name: 'the key with a prefix of it', authorization: `Bearer ${AUTH_KEY.slice(0, -1)}` },
      { name: 'another scheme', authorization: `Basic ${AUTH_KEY}` },
      { name: 'no Authorization header', authorization: null },
    ])('answers 401 to $name and starts nothing', async ({ authorization }) => {
      const sim = await startSimulator();
      const result = await trigger(sim, { authorization, idempotencyKey: 'key-401' });
      expect(result).toEqual({ status: 401, json: { error: 'unauthorized' } });
      expect(sim.triggers).toHaveLength(1);
      expect(sim.triggers[0]).toMatchObject({ status: 401, workflowId: null, idempotencyKey: 'key-401' });
      expect(sim.acceptedCount('key-401')).toBe(0);
      await sim.whenIdle();
      expect(receiver.deliveries).toHaveLength(0);
    });

    it('accepts the Bearer scheme case-insensitively', async () => {
      const sim = await startSimulator();
      const result = await trigger(sim, { authorization: `bearer ${AUTH_KEY}` });
      expect(result.status).toBe(200);
    });

    it('answers 503 to the first N calls, then accepts', async () => {
      const sim = await startSimulator({ triggerFailures: 2 });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const result = await trigger(sim, { idempotencyKey: 'sync-retry' });
        statuses.push(result.status);
        if (result.status === 503) {
          expect(result.json).toEqual({ error: 'service_unavailable' });
        }
      }
      expect(statuses).toEqual([503, 503, 200]);
      expect(sim.triggers.map((t) => t.status)).toEqual([503, 503, 200]);
      expect(sim.acceptedCount('sync-retry')).toBe(1);
      await sim.whenIdle();
      expect(receiver.accepted).toHaveLength(EVENTS_PER_WORKFLOW);
    });

    it('still checks the key before answering a configured 503', async () => {
      const sim = await startSimulator({ triggerFailures: 1 });
      expect((await trigger(sim, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await trigger(sim)).status).toBe(503);
      expect((await trigger(sim)).status).toBe(200);
    });

    it('takes a new failure count through setTriggerFailures', async () => {
      const sim = await startSimulator();
      sim.setTriggerFailures(1);
      expect((await trigger(sim)).status).toBe(503);
      expect((await trigger(sim)).status).toBe(200);
      expect(() => sim.setTriggerFailures(-1)).toThrow(RangeError);
    });

    it.each([
      { name: 'another workflow name', body: { workflow_name: 'strategy_assistant_workflow' } },
      { name: 'no workflow name', body: { input_data: {} } },
      { name: 'a JSON array', body: [{ workflow_name: STRATEGY_WORKFLOW }] },
      { name: 'a body that is not JSON', rawBody: 'workflow_name=strategy_workflow' },
    ])('answers 400 to $name', async ({ body, rawBody }) => {
      const sim = await startSimulator();
      const result = await trigger(sim, { body, rawBody, idempotencyKey: 'key-400' });
      expect(result.status).toBe(400);
      expect(result.json.error).toBe('invalid_request');
      expect(sim.acceptedCount('key-400')).toBe(0);
    });

    it('answers 413 to a body over 1 MiB', async () => {
      const sim = await startSimulator();
      const rawBody = JSON.stringify(triggerBody({ padding: 'x'.repeat(1024 * 1024) }));
      const result = await trigger(sim, { rawBody });
      expect(result.status).toBe(413);
    });

    it('answers 400 when no callback URL is configured or given', async () => {
      const sim = await startSimulator();
      const result = await trigger(sim, { body: triggerBody({ metadata: { correlation_id: 'c-1' } }) });
      expect(result.status).toBe(400);
    });

    it('answers 404 elsewhere and 405 to other methods on the trigger', async () => {
      const sim = await startSimulator();
      const origin = new URL(sim.url).origin;
      expect((await fetch(`${origin}/other`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${origin}/webhooks/`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(sim.url)).status).toBe(405);
    });

    it('answers a repeated Idempotency-Key with the same workflow and runs it once', async () => {
      const sim = await startSimulator();
      const first = await trigger(sim, { idempotencyKey: 'sync-1' });
      const second = await trigger(sim, { idempotencyKey: 'sync-1' });
      const other = await trigger(sim, { idempotencyKey: 'sync-2' });

      expect(first.status).toBe(200);
      expect(first.json).toEqual({
        workflow_id: expect.stringMatching(/^opal-wf-[0-9a-f]+$/),
        session_id: 'session-123',
        status: 'accepted',
      });
      expect(second).toEqual(first);
      expect(other.json.workflow_id).not.toBe(first.json.workflow_id);
      expect(sim.acceptedCount('sync-1')).toBe(1);
      expect(sim.acceptedCount('sync-2')).toBe(1);
      expect(sim.acceptedCount('never-sent')).toBe(0);
      expect(sim.triggers.map((t) => t.workflowId)).toEqual([
        first.json.workflow_id,
        first.json.workflow_id,
        other.json.workflow_id,
      ]);

      await sim.whenIdle();
      const workflowIds = receiver.accepted.map((event) => event.workflow_id);
      expect(workflowIds.filter((id) => id === first.json.workflow_id)).toHaveLength(EVENTS_PER_WORKFLOW);
      expect(workflowIds.filter((id) => id === other.json.workflow_id)).toHaveLength(EVENTS_PER_WORKFLOW);
    });

    it('generates a session id when the input carries none', async () => {
      const sim = await startSimulator();
      const result = await trigger(sim, { body: triggerBody({ input_data: { client_name: 'Acme' } }) });
      expect(result.json.session_id).toMatch(/^opal-session-[0-9a-f]+$/);
    });

    it('records every trigger request with its headers and body', async () => {
      const sim = await startSimulator();
      const body = triggerBody();
      await trigger(sim, { body, idempotencyKey: 'sync-rec' });
      expect(sim.triggers).toEqual([
        {
          receivedAt: expect.any(String),
          headers: expect.objectContaining({
            'idempotency-key': 'sync-rec',
            'content-type': 'application/json',
          }),
          body,
          status: 200,
          workflowId: expect.stringMatching(/^opal-wf-/),
          idempotencyKey: 'sync-rec',
        },
      ]);
      expect(Number.isNaN(Date.parse(sim.triggers[0].receivedAt))).toBe(false);
    });
  });

  describe('callback chain', () => {
    it('sends 20 signed callbacks in order, marking the failing agents', async () => {
      const failAgents = ['geo_audit', 'cmp_organizer'];
      const sim = await startSimulator({ failAgents, agentDelayMs: 5 });
      const { json } = await trigger(sim, { idempotencyKey: 'sync-full' });
      const workflowId = json.workflow_id as string;
      await sim.whenIdle();

      const events = receiver.accepted;
      expect(receiver.deliveries).toHaveLength(EVENTS_PER_WORKFLOW);
      expect(events).toHaveLength(20);
      for (const delivery of receiver.deliveries) {
        expect(delivery.verification.ok).toBe(true);
        expect(delivery.signatureHeader).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
        expect(delivery.contentType).toMatch(/^application\/json/);
      }

      const expectedSequence = [
        ['workflow_started', undefined],
        ...OPAL_AGENTS.flatMap((agent) => [
          ['agent_started', agent],
          ['agent_completed', agent],
        ]),
        ['workflow_completed', undefined],
      ];
      expect(events.map((e) => [e.event_type, e.agent_id])).toEqual(expectedSequence);
      expect(events.map((e) => e.event_id)).toEqual(events.map((_, i) => `${workflowId}:${i + 1}`));

      for (const event of events) {
        expect(event).toMatchObject({
          workflow_id: workflowId,
          workflow_name: STRATEGY_WORKFLOW,
          correlation_id: 'force-sync-1700000000000-abc123',
          metadata: {
            correlation_id: 'force-sync-1700000000000-abc123',
            sync_id: '4b1f4c55-6d0e-4c0a-9f62-1f0e4f1a2b3c',
          },
        });
        expect(new Date(event.timestamp as string).toISOString()).toBe(event.timestamp);
      }

      const completed = events.filter((e) => e.event_type === 'agent_completed');
      for (const event of completed) {
        if (failAgents.includes(event.agent_id as string)) {
          expect(event.execution_status).toBe('failure');
          expect(event.error).toEqual({ code: 'AGENT_FAILED', message: expect.any(String) });
          expect(event).not.toHaveProperty('agent_data');
        } else {
          expect(event.execution_status).toBe('success');
          expect(event.agent_data).toEqual({ summary: expect.any(String), items: expect.any(Number) });
          expect(event).not.toHaveProperty('error');
        }
      }
      expect(completed.filter((e) => e.execution_status === 'failure').map((e) => e.agent_id)).toEqual(
        failAgents,
      );
    });

    it('waits agentDelayMs between agent_started and agent_completed', async () => {
      const sim = await startSimulator({ agentDelayMs: 40 });
      await trigger(sim);
      await sim.whenIdle();
      const at = (type: string, agent: string): number =>
        Date.parse(
          receiver.accepted.find((e) => e.event_type === type && e.agent_id === agent)!.timestamp as string,
        );
      for (const agent of OPAL_AGENTS) {
        // Timer granularity can fire a millisecond early.
        expect(at('agent_completed', agent) - at('agent_started', agent)).toBeGreaterThanOrEqual(39);
      }
    });

    it('sends callbacks to the configured callbackUrl rather than the one in the trigger', async () => {
      const sim = await startSimulator({ callbackUrl: receiver.url });
      const body = triggerBody({
        metadata: { correlation_id: 'c-2', callback_url: 'http://127.0.0.1:9/nowhere' },
      });
      await trigger(sim, { body });
      await sim.whenIdle();
      expect(receiver.accepted).toHaveLength(EVENTS_PER_WORKFLOW);
      expect(receiver.accepted[0]).toMatchObject({
        correlation_id: 'c-2',
        metadata: { correlation_id: 'c-2' },
      });
    });

    it('retries 5xx, 429 and dropped connections with a freshly signed attempt', async () => {
      const sim = await startSimulator();
      const transient: Record<number, Reaction[]> = { 1: [503, 500], 4: [429], 7: ['drop'] };
      receiver.react = (body, attempt) => {
        const sequence = Number(String(body.event_id).split(':')[1]);
        return transient[sequence]?.[attempt - 1] ?? 202;
      };
      const { json } = await trigger(sim);
      await sim.whenIdle();

      const workflowId = json.workflow_id as string;
      expect(receiver.accepted.map((e) => e.event_id)).toEqual(
        Array.from({ length: EVENTS_PER_WORKFLOW }, (_, i) => `${workflowId}:${i + 1}`),
      );
      expect(receiver.deliveries).toHaveLength(EVENTS_PER_WORKFLOW + 4);
      const first = receiver.attemptsOf(`${workflowId}:1`);
      expect(first.map((d) => d.reaction)).toEqual([503, 500, 202]);
      expect(receiver.attemptsOf(`${workflowId}:4`).map((d) => d.reaction)).toEqual([429, 202]);
      expect(receiver.attemptsOf(`${workflowId}:7`).map((d) => d.reaction)).toEqual(['drop', 202]);
      // Backoff is at least 100 ms, so a re-signed attempt carries a later timestamp.
      const timestamps = first.map((d) => (d.verification.ok ? d.verification.timestampMs : 0));
      expect(timestamps[1] - timestamps[0]).toBeGreaterThanOrEqual(100);
      expect(timestamps[2] - timestamps[1]).toBeGreaterThanOrEqual(200);
    });

    it('counts 409 as delivered and gives up on other 4xx, continuing with the next callback', async () => {
      const sim = await startSimulator();
      receiver.react = (body) => {
        const sequence = Number(String(body.event_id).split(':')[1]);
        if (sequence === 2) {
          return 409;
        }
        return sequence === 3 ? 400 : 202;
      };
      const { json } = await trigger(sim);
      await sim.whenIdle();
      const workflowId = json.workflow_id as string;
      expect(receiver.attemptsOf(`${workflowId}:2`)).toHaveLength(1);
      expect(receiver.attemptsOf(`${workflowId}:3`)).toHaveLength(1);
      expect(receiver.deliveries).toHaveLength(EVENTS_PER_WORKFLOW);
      expect(receiver.deliveries.at(-1)?.body.event_type).toBe('workflow_completed');
    });

    it('gives up a callback the receiver cannot verify (401) without retrying it', async () => {
      const sim = await startSimulator({ hmac: signerOf('a-different-secret') });
      await trigger(sim);
      await sim.whenIdle();
      expect(receiver.deliveries).toHaveLength(EVENTS_PER_WORKFLOW);
      expect(receiver.deliveries.every((d) => d.reaction === 401)).toBe(true);
    });

    it('stop() cancels a chain that is retrying', async () => {
      const sim = await startSimulator();
      receiver.react = () => 503;
      await trigger(sim);
      await waitFor(() => receiver.deliveries.length >= 2);
      // Uncancelled, this chain would keep retrying until its 10-minute delivery deadline, and stop() (which
      // waits for every chain) would not resolve within the test.
      await sim.stop();
      const attempts = receiver.deliveries.length;
      await sim.whenIdle();
      expect(receiver.deliveries.length).toBe(attempts);
      expect(receiver.accepted).toHaveLength(0);
    });

    it('stop() cancels a chain waiting on a long agent delay', async () => {
      // Ten minutes: stop() resolving within the test means the wait was cancelled, not served.
      const sim = await startSimulator({ agentDelayMs: 10 * 60_000 });
      await trigger(sim);
      await waitFor(() => receiver.accepted.length === 2);
      await sim.stop();
      expect(receiver.accepted.map((e) => e.event_type)).toEqual(['workflow_started', 'agent_started']);
    });

    it('can be started again after stop()', async () => {
      const sim = await startSimulator();
      await sim.stop();
      await sim.start();
      expect((await trigger(sim)).status).toBe(200);
      await sim.whenIdle();
      expect(receiver.accepted).toHaveLength(EVENTS_PER_WORKFLOW);
    });
  });

  describe('test-control routes', () => {
    it('reports state without the Authorization header', async () => {
      const sim = await startSimulator({ agentDelayMs: 60_000 });
      const { json } = await trigger(sim, { idempotencyKey: 'sync-state' });
      await trigger(sim, { idempotencyKey: 'sync-state' });
      const origin = new URL(sim.url).origin;

      const state = (await (await fetch(`${origin}/__sim/state`)).json()) as {
        triggers: Array<{ headers: Json; workflowId: string; status: number }>;
        accepted: Record<string, number>;
        pending_chains: number;
      };
      expect(state.accepted).toEqual({ 'sync-state': 1 });
      expect(state.pending_chains).toBe(1);
      expect(state.triggers.map((t) => [t.status, t.workflowId])).toEqual([
        [200, json.workflow_id],
        [200, json.workflow_id],
      ]);
      for (const recorded of state.triggers) {
        expect(recorded.headers).not.toHaveProperty('authorization');
        expect(recorded.headers['idempotency-key']).toBe('sync-state');
      }
      expect(JSON.stringify(state)).not.toContain(AUTH_KEY);
      // The in-process record is untouched by the redaction.
      expect(sim.triggers[0].headers.authorization).toBe(`Bearer ${AUTH_KEY}`);
    });

    it('sets the number of failing trigger calls', async () => {
      const sim = await startSimulator();
      const endpoint = `${new URL(sim.url).origin}/__sim/trigger-failures`;
      const post = (body: string): Promise<Response> =>
        fetch(endpoint, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

      const set = await post(JSON.stringify({ count: 2 }));
      expect(set.status).toBe(200);
      expect(await set.json()).toEqual({ trigger_failures: 2 });
      expect((await trigger(sim)).status).toBe(503);
      expect((await trigger(sim)).status).toBe(503);
      expect((await trigger(sim)).status).toBe(200);

      for (const invalid of ['{"count":-1}', '{"count":1.5}', '{"count":"2"}', '{}', 'nope']) {
        expect((await post(invalid)).status).toBe(400);
      }
    });
  });

  describe('options', () => {
    it.each([
      { name: 'an unknown fail agent', overrides: { failAgents: ['not_an_agent'] } },
      { name: 'a negative delay', overrides: { agentDelayMs: -1 } },
      { name: 'a fractional failure count', overrides: { triggerFailures: 1.5 } },
      { name: 'an empty auth key', overrides: { authKey: '' } },
      { name: 'an empty secret', overrides: { hmac: signerOf('') } },
      { name: 'a non-http callback URL', overrides: { callbackUrl: 'ftp://example.com/x' } },
    ])('refuses $name', ({ overrides }) => {
      const options: OpalSimulatorOptions = {
        authKey: AUTH_KEY,
        hmac: signerOf(SECRET),
        agentDelayMs: 0,
        failAgents: [],
        triggerFailures: 0,
        ...overrides,
      };
      expect(() => new OpalSimulator(options)).toThrow(RangeError);
    });

    it('never passes the key, secret or a signature to the logger', async () => {
      const lines: string[] = [];
      const sim = await startSimulator({
        log: (level, message, meta) => lines.push(JSON.stringify({ level, message, meta })),
      });
      receiver.react = (body, attempt) => (String(body.event_id).endsWith(':1') && attempt === 1 ? 503 : 202);
      await trigger(sim, { authorization: 'Bearer wrong-key' });
      await trigger(sim, { idempotencyKey: 'sync-log' });
      await sim.whenIdle();
      expect(lines.length).toBeGreaterThan(0);
      const output = lines.join('\n');
      expect(output).not.toContain(AUTH_KEY);
      expect(output).not.toContain('wrong-key');
      expect(output).not.toContain(SECRET);
      for (const delivery of receiver.deliveries) {
        const v1 = /v1=([0-9a-f]+)/.exec(delivery.signatureHeader ?? '')?.[1];
        expect(output).not.toContain(v1);
      }
    });
  });
});
