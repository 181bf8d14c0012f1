import { Agent, request } from 'node:http';

export interface HttpAnswer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

const agents = new Map<number, Agent>();

/** One keep-alive agent per concurrency level, as a webhook sender with a connection pool would use. */
function agentFor(maxSockets: number): Agent {
  let agent = agents.get(maxSockets);
  if (!agent) {
    agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    agents.set(maxSockets, agent);
  }
  return agent;
}

export function destroyAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/**
 * A plain HTTP call on 127.0.0.1; rejects on connection errors and on `timeoutMs` without an answer. A GET sent on
 * a kept-alive socket that the server closed at that very moment is sent again once, as Node's documentation
 * advises (`request.reusedSocket`): that race is the client's, not the server's.
 */
export async function http(url: string, options: Parameters<typeof send>[1] = {}): Promise<HttpAnswer> {
  try {
    return await send(url, options);
  } catch (error) {
    const reused = (error as { reusedSocket?: boolean }).reusedSocket === true;
    if ((options.method ?? 'GET') === 'GET' && reused && (error as { code?: string }).code === 'ECONNRESET') {
      return send(url, options);
    }
    throw error;
  }
}

function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    timeoutMs?: number;
    maxSockets?: number;
  } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: {
          ...(options.body !== undefined
            ? { 'Content-Length': String(Buffer.byteLength(options.body)) }
            : {}),
          ...options.headers,
        },
        agent: agentFor(options.maxSockets ?? 64),
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('answer aborted')));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
    req.end(options.body);
  });
}

export async function json<T = Record<string, unknown>>(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {},
): Promise<{ status: number; body: T }> {
  const answer = await http(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: { 'Content-Type': 'application/json', ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    timeoutMs: options.timeoutMs ?? 30_000,
  });
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    body = { raw: answer.text.slice(0, 200) };
  }
  return { status: answer.status, body: body as T };
}
