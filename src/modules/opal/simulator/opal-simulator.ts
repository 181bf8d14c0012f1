import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { KeepAliveAgents, postBytes } from '../../../common/http-post';
import type { HmacService } from '../../../common/hmac.service';
import { SIGNATURE_HEADER } from '../../../common/signature';
import { isAgentId, OPAL_AGENTS, STRATEGY_WORKFLOW } from '../../../domain/opal';

/**
 * A stand-in for OPAL's webhook trigger (contract section 4): checks the Bearer token, accepts
 * `strategy_workflow` once per Idempotency-Key, then posts the signed callbacks OPAL would send to the
 * service's receiver, retrying like a real webhook sender.
 */

export interface OpalSimulatorOptions {
  /** Expected Bearer token. */
  authKey: string;
  /** Signs the callbacks. */
  /** Signs the callbacks (X-OSA-Signature) with the shared secret. */
  hmac: HmacService;
  /** Where callbacks go; when unset, the trigger body's `metadata.callback_url`. */
  callbackUrl?: string;
  /** Delay between an agent's `agent_started` and `agent_completed`. */
  agentDelayMs: number;
  /** Agents whose `agent_completed` reports `execution_status: 'failure'`. */
  failAgents: readonly string[];
  /** This many first trigger calls answer 503. */
  triggerFailures: number;
  host?: string;
  port?: number;
  /** Never receives secrets, tokens or signatures. */
  log?: (level: 'info' | 'warn' | 'error', message: string, meta?: Record<string, unknown>) => void;
}

export interface SimulatorTrigger {
  receivedAt: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  status: number;
  workflowId: string | null;
  idempotencyKey: string | null;
}

const TRIGGER_PATH_PREFIX = '/webhooks/';
const MAX_BODY_BYTES = 1024 * 1024;
const ATTEMPT_TIMEOUT_MS = 10_000;
const RETRY_INITIAL_DELAY_MS = 100;
const RETRY_MAX_DELAY_MS = 2_000;
const DELIVERY_DEADLINE_MS = 10 * 60 * 1000;
const MAX_TRIGGER_FAILURES = 1_000_000;

interface AcceptedWorkflow {
  workflowId: string;
  sessionId: string;
  count: number;
}

interface ChainContext {
  workflowId: string;
  callbackUrl: string;
  correlationId: string | undefined;
  syncId: string | undefined;
}

type CallbackEvent = Record<string, unknown> & { event_id: string; event_type: string };

type BodyResult = { kind: 'ok'; text: string } | { kind: 'too_large' };

type DeliveryOutcome = 'delivered' | 'rejected' | 'expired';

export class OpalSimulator {
  /** Every trigger request received, in order. */
  readonly triggers: SimulatorTrigger[] = [];

  private readonly options: Required<Omit<OpalSimulatorOptions, 'callbackUrl'>> & { callbackUrl?: string };
  private readonly authKeyDigest: Buffer;
  private readonly failAgents: ReadonlySet<string>;
  private readonly accepted = new Map<string, AcceptedWorkflow>();
  private readonly chains = new Set<Promise<void>>();
  private triggerFailuresLeft: number;
  private server: Server | null = null;
  private triggerUrl: string | null = null;
  private lifetime = new AbortController();
  private readonly agents = new KeepAliveAgents();

  constructor(options: OpalSimulatorOptions) {
    if (options.authKey.length === 0 || !options.hmac.canSign) {
      throw new RangeError('OpalSimulator needs a non-empty authKey and a signing secret');
    }
    assertCount('agentDelayMs', options.agentDelayMs, Number.MAX_SAFE_INTEGER);
    assertCount('triggerFailures', options.triggerFailures, MAX_TRIGGER_FAILURES);
    const unknown = options.failAgents.filter((agent) => !isAgentId(agent));
    if (unknown.length > 0) {
      throw new RangeError(`OpalSimulator: unknown agents in failAgents: ${unknown.join(', ')}`);
    }
    if (options.callbackUrl !== undefined && parseHttpUrl(options.callbackUrl) === null) {
      throw new RangeError('OpalSimulator: callbackUrl must be an http(s) URL');
    }
    this.options = {
      ...options,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      log: options.log ?? (() => undefined),
    };
    this.authKeyDigest = digest(options.authKey);
    this.failAgents = new Set(options.failAgents);
    this.triggerFailuresLeft = options.triggerFailures;
  }

  /** Resolves the trigger URL, e.g. http://127.0.0.1:4010/webhooks/strategy_workflow. */
  async start(): Promise<string> {
    if (this.server !== null) {
      throw new Error('OpalSimulator is already started');
    }
    this.lifetime = new AbortController();
    // Every callback chain in flight listens on this one signal; many concurrent workflows are expected.
    setMaxListeners(0, this.lifetime.signal);
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.answerInternalError(res, err));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.options.log('error', 'simulator server error', { error: err.message }));
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    this.triggerUrl = `http://${host}:${port}${TRIGGER_PATH_PREFIX}${STRATEGY_WORKFLOW}`;
    this.options.log('info', 'OPAL simulator listening', { trigger_url: this.triggerUrl });
    return this.triggerUrl;
  }

  /** Closes the server and cancels every pending callback chain, retry and timer. */
  async stop(): Promise<void> {
    this.lifetime.abort();
    const server = this.server;
    this.server = null;
    this.triggerUrl = null;
    if (server !== null) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    await this.whenIdle();
    this.agents.destroy();
  }

  get url(): string {
    if (this.triggerUrl === null) {
      throw new Error('OpalSimulator is not started');
    }
    return this.triggerUrl;
  }

  /** How many times a new workflow was accepted for the key: repeats of the key must leave it at 1. */
  acceptedCount(idempotencyKey: string): number {
    return this.accepted.get(idempotencyKey)?.count ?? 0;
  }

  setTriggerFailures(n: number): void {
    assertCount('triggerFailures', n, MAX_TRIGGER_FAILURES);
    this.triggerFailuresLeft = n;
  }

  /** Resolves once no callback chain is in flight. */
  async whenIdle(): Promise<void> {
    while (this.chains.size > 0) {
      await Promise.allSettled([...this.chains]);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://simulator.invalid').pathname;
    if (path === '/__sim/state') {
      if (req.method !== 'GET') {
        return this.answer(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET' });
      }
      return this.answer(res, 200, this.state());
    }
    if (path === '/__sim/trigger-failures') {
      if (req.method !== 'POST') {
        return this.answer(res, 405, { error: 'method_not_allowed' }, { Allow: 'POST' });
      }
      return this.handleSetTriggerFailures(req, res);
    }
    if (path.startsWith(TRIGGER_PATH_PREFIX) && path.length > TRIGGER_PATH_PREFIX.length) {
      if (req.method !== 'POST') {
        return this.answer(res, 405, { error: 'method_not_allowed' }, { Allow: 'POST' });
      }
      return this.handleTrigger(req, res);
    }
    return this.answer(res, 404, { error: 'not_found' });
  }

  private async handleTrigger(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const idempotencyKey = singleHeader(req.headers['idempotency-key']) ?? null;
    const record: SimulatorTrigger = {
      receivedAt: new Date().toISOString(),
      headers: { ...req.headers },
      body: null,
      status: 0,
      workflowId: null,
      idempotencyKey,
    };
    this.triggers.push(record);
    const reply = (status: number, body: unknown): void => {
      record.status = status;
      this.answer(res, status, body);
    };

    if (!this.isAuthorized(req.headers.authorization)) {
      this.options.log('warn', 'trigger refused: missing or wrong bearer token');
      return reply(401, { error: 'unauthorized' });
    }

    const raw = await readBody(req);
    if (raw.kind === 'too_large') {
      return reply(413, { error: 'payload_too_large' });
    }
    let body: unknown = raw.text;
    try {
      body = JSON.parse(raw.text);
    } catch {
      // Kept as text so the trigger record still shows what was sent; refused below as not an object.
    }
    record.body = body;

    if (this.triggerFailuresLeft > 0) {
      this.triggerFailuresLeft -= 1;
      this.options.log('info', 'trigger answered 503 (configured failure)', {
        remaining_failures: this.triggerFailuresLeft,
      });
      return reply(503, { error: 'service_unavailable' });
    }
    if (this.lifetime.signal.aborted) {
      return reply(503, { error: 'service_unavailable' });
    }

    if (!isRecord(body)) {
      return reply(400, { error: 'invalid_request', message: 'body must be a JSON object' });
    }
    if (body.workflow_name !== STRATEGY_WORKFLOW) {
      return reply(400, { error: 'invalid_request', message: `workflow_name must be ${STRATEGY_WORKFLOW}` });
    }

    if (idempotencyKey !== null) {
      const previous = this.accepted.get(idempotencyKey);
      if (previous !== undefined) {
        record.workflowId = previous.workflowId;
        this.options.log('info', 'trigger repeated: answering the workflow already accepted', {
          workflow_id: previous.workflowId,
          idempotency_key: idempotencyKey,
        });
        return reply(200, accepted(previous.workflowId, previous.sessionId));
      }
    }

    const inputData = isRecord(body.input_data) ? body.input_data : {};
    const metadata = isRecord(body.metadata) ? body.metadata : {};
    const callbackUrl = this.options.callbackUrl ?? parseHttpUrl(metadata.callback_url);
    if (callbackUrl === null) {
      return reply(400, {
        error: 'invalid_request',
        message: 'metadata.callback_url must be an http(s) URL',
      });
    }

    const workflowId = `opal-wf-${randomBytes(12).toString('hex')}`;
    const sessionId =
      nonEmptyString(inputData.session_id) ?? `opal-session-${randomBytes(8).toString('hex')}`;
    if (idempotencyKey !== null) {
      this.accepted.set(idempotencyKey, { workflowId, sessionId, count: 1 });
    }
    record.workflowId = workflowId;
    const context: ChainContext = {
      workflowId,
      callbackUrl,
      correlationId: nonEmptyString(metadata.correlation_id),
      syncId: nonEmptyString(metadata.sync_id),
    };
    this.options.log('info', 'workflow accepted', {
      workflow_id: workflowId,
      idempotency_key: idempotencyKey,
      correlation_id: context.correlationId,
      callback_url: describeUrl(callbackUrl),
    });
    // Registered before the answer goes out, so whenIdle() cannot miss a chain whose trigger was just answered.
    this.track(this.runChainAfter(res, context));
    reply(200, accepted(workflowId, sessionId));
  }

  private async handleSetTriggerFailures(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let count: unknown;
    if (raw.kind === 'ok') {
      try {
        const parsed: unknown = JSON.parse(raw.text);
        count = isRecord(parsed) ? parsed.count : undefined;
      } catch {
        count = undefined;
      }
    }
    if (
      typeof count !== 'number' ||
      !Number.isSafeInteger(count) ||
      count < 0 ||
      count > MAX_TRIGGER_FAILURES
    ) {
      return this.answer(res, 400, {
        error: 'invalid_request',
        message: `count must be an integer from 0 to ${MAX_TRIGGER_FAILURES}`,
      });
    }
    this.setTriggerFailures(count);
    return this.answer(res, 200, { trigger_failures: count });
  }

  private state(): Record<string, unknown> {
    const accepted: Record<string, number> = {};
    for (const [key, value] of this.accepted) {
      accepted[key] = value.count;
    }
    return {
      triggers: this.triggers.map((trigger) => ({
        ...trigger,
        headers: Object.fromEntries(
          Object.entries(trigger.headers).filter(([name]) => name !== 'authorization'),
        ),
      })),
      accepted,
      pending_chains: this.chains.size,
      trigger_failures_remaining: this.triggerFailuresLeft,
    };
  }

  private track(chain: Promise<void>): void {
    const tracked: Promise<void> = chain
      .catch((err: unknown) => {
        if (!this.lifetime.signal.aborted) {
          this.options.log('error', 'callback chain failed', { error: errorMessage(err) });
        }
      })
      .finally(() => this.chains.delete(tracked));
    this.chains.add(tracked);
  }

  private async runChainAfter(res: ServerResponse, context: ChainContext): Promise<void> {
    // A client that hung up after OPAL accepted still gets its workflow run, as with the real platform.
    await finished(res).catch(() => undefined);
    await this.runChain(context);
  }

  private async runChain(context: ChainContext): Promise<void> {
    const signal = this.lifetime.signal;
    let sequence = 0;
    const send = async (fields: Record<string, unknown> & { event_type: string }): Promise<void> => {
      signal.throwIfAborted();
      sequence += 1;
      const event: CallbackEvent = {
        event_id: `${context.workflowId}:${sequence}`,
        workflow_id: context.workflowId,
        workflow_name: STRATEGY_WORKFLOW,
        ...fields,
        timestamp: new Date().toISOString(),
        correlation_id: context.correlationId,
        metadata: { correlation_id: context.correlationId, sync_id: context.syncId },
      };
      await this.deliver(context.callbackUrl, event, signal);
    };

    await send({ event_type: 'workflow_started' });
    for (const [index, agent] of OPAL_AGENTS.entries()) {
      await send({ event_type: 'agent_started', agent_id: agent, execution_status: 'pending' });
      if (this.options.agentDelayMs > 0) {
        await sleep(this.options.agentDelayMs, undefined, { signal });
      }
      if (this.failAgents.has(agent)) {
        await send({
          event_type: 'agent_completed',
          agent_id: agent,
          execution_status: 'failure',
          error: { code: 'AGENT_FAILED', message: `${agent} failed (simulated by the OPAL simulator)` },
        });
      } else {
        await send({
          event_type: 'agent_completed',
          agent_id: agent,
          execution_status: 'success',
          agent_data: { summary: `${agent} completed (simulated by the OPAL simulator)`, items: index + 1 },
        });
      }
    }
    await send({ event_type: 'workflow_completed' });
    this.options.log('info', 'callback chain finished', {
      workflow_id: context.workflowId,
      events: sequence,
    });
  }

  /**
   * Posts one callback until it is delivered (2xx, or 409 for a duplicate the receiver already holds), refused
   * (another 4xx: retrying cannot help), or its deadline passes. Throws only when the simulator stops.
   */
  private async deliver(url: string, event: CallbackEvent, signal: AbortSignal): Promise<DeliveryOutcome> {
    const bytes = Buffer.from(JSON.stringify(event), 'utf8');
    const meta = { event_id: event.event_id, event_type: event.event_type, callback_url: describeUrl(url) };
    const deadline = Date.now() + DELIVERY_DEADLINE_MS;
    let backoffMs = RETRY_INITIAL_DELAY_MS;
    for (let attempt = 1; ; attempt += 1) {
      signal.throwIfAborted();
      let problem: Record<string, unknown>;
      try {
        const { status } = await postBytes(url, bytes, {
          headers: {
            'Content-Type': 'application/json',
            // A fresh timestamp per attempt, or a long retry would outlive the receiver's tolerance window.
            [SIGNATURE_HEADER]: this.options.hmac.sign(bytes),
          },
          agents: this.agents,
          signal: AbortSignal.any([signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
          maxAnswerBytes: 0,
        });
        if ((status >= 200 && status < 300) || status === 409) {
          return 'delivered';
        }
        if (status !== 429 && status < 500) {
          this.options.log('warn', 'callback refused by the receiver; giving up on it', {
            ...meta,
            status,
            attempt,
          });
          return 'rejected';
        }
        problem = { status };
      } catch (err) {
        signal.throwIfAborted();
        problem = { error: errorMessage(err) };
      }
      if (Date.now() + backoffMs > deadline) {
        this.options.log('warn', 'callback not delivered before its deadline; giving up on it', {
          ...meta,
          ...problem,
          attempt,
        });
        return 'expired';
      }
      this.options.log('warn', 'callback delivery failed; retrying', {
        ...meta,
        ...problem,
        attempt,
        retry_in_ms: backoffMs,
      });
      await sleep(backoffMs, undefined, { signal });
      backoffMs = Math.min(backoffMs * 2, RETRY_MAX_DELAY_MS);
    }
  }

  private isAuthorized(header: string | undefined): boolean {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    // Comparing fixed-length digests keeps the comparison constant-time whatever the token's length.
    const given = digest(match?.[1] ?? '');
    return timingSafeEqual(given, this.authKeyDigest) && match !== null;
  }

  private answer(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
    });
    res.end(text);
  }

  private answerInternalError(res: ServerResponse, err: unknown): void {
    this.options.log('error', 'simulator request failed', { error: errorMessage(err) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.answer(res, 500, { error: 'internal_error' });
  }
}

function accepted(workflowId: string, sessionId: string): Record<string, string> {
  return { workflow_id: workflowId, session_id: sessionId, status: 'accepted' };
}

async function readBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      return { kind: 'too_large' };
    }
    chunks.push(chunk);
  }
  return { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function assertCount(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`OpalSimulator: ${name} must be an integer from 0 to ${max}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return nonEmptyString(first?.trim());
}

function parseHttpUrl(value: unknown): string | null {
  if (typeof value !== 'string') {
    return null;
  }
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : null;
  } catch {
    return null;
  }
}

/** Origin and path only: a URL's user info or query could carry credentials, and logs must not. */
function describeUrl(value: string): string {
  const url = new URL(value);
  return `${url.origin}${url.pathname}`;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}: ${err.message}${cause}`;
  }
  return String(err);
}
