import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { subscribeToSync, SyncStreamError, type SyncStreamFrame } from '../clients/typescript/src/index';
import {
  createTestApp,
  operatorHeaders,
  resetDatabase,
  TEST_OPERATOR_KEY,
  type TestApp,
} from './support/app';
import { waitFor } from './support/wait';
import { insertWorkflow } from './support/webhooks';

/** A `fetch` that records every request and can cut a stream's body after its first frame. */
function recordingFetch(cutFirstStreamAfterOneFrame: boolean): {
  fetch: typeof fetch;
  requests: { url: string; headers: Record<string, string> }[];
} {
  const requests: { url: string; headers: Record<string, string> }[] = [];
  let cut = !cutFirstStreamAfterOneFrame;
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    requests.push({
      url: input instanceof Request ? input.url : input.toString(),
      headers: { ...(init?.headers as Record<string, string>) },
    });
    const response = await fetch(input, init);
    if (cut || !response.body) return response;
    cut = true;
    // Pass on the bytes up to the end of the first frame, then end the body (a dropped connection).
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        seen += decoder.decode(value, { stream: true });
        const end = seen.indexOf('\n\n');
        if (end < 0) return controller.enqueue(value);
        controller.enqueue(new TextEncoder().encode(seen.slice(0, end + 2)));
        controller.close();
        await reader.cancel();
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: wrapped, requests };
}

describe('generated TypeScript client: subscribeToSync (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ OPAL_SIMULATOR_AGENT_DELAY_MS: '40' });
    await resetDatabase(t.dataSource);
  });

  afterAll(async () => {
    await t.close();
  });

  const forceSync = async (): Promise<string> =>
    (
      await request(t.url)
        .post('/api/opal/sync')
        .set(operatorHeaders())
        .send({ allow_concurrent: true, client_context: { client_name: `Client live ${randomUUID()}` } })
        .expect(200)
    ).body.sync_id as string;

  it('reads a workflow from its snapshot to `end` with the key in the Authorization header only', async () => {
    const syncId = await forceSync();
    const frames: SyncStreamFrame[] = [];
    const { fetch: recorded, requests } = recordingFetch(false);
    const end = await subscribeToSync(syncId, (frame) => frames.push(frame), {
      baseUrl: `${t.url}/`,
      operatorKey: TEST_OPERATOR_KEY,
      fetch: recorded,
    });
    expect(end?.event).toBe('end');
    expect(end?.data.status).toBe('completed');
    expect(end?.data.agents.every((a) => a.status === 'completed')).toBe(true);
    expect(frames[0].event).toBe('snapshot');
    expect(frames[frames.length - 1]).toBe(end);
    for (let i = 1; i < frames.length; i++) expect(frames[i].id).toBeGreaterThan(frames[i - 1].id);
    expect(frames.every((f) => f.id === f.data.version)).toBe(true);
    expect(requests).toHaveLength(1);
    expect(requests[0].url).toBe(`${t.url}/api/opal/sync/${syncId}/events`);
    expect(requests[0].url).not.toContain(TEST_OPERATOR_KEY);
    expect(requests[0].headers.Authorization).toBe(`Bearer ${TEST_OPERATOR_KEY}`);
  });

  it('reconnects with Last-Event-ID after the connection drops, and still reaches `end`', async () => {
    const syncId = await forceSync();
    const frames: SyncStreamFrame[] = [];
    const { fetch: cutting, requests } = recordingFetch(true);
    const end = await subscribeToSync(syncId, (frame) => frames.push(frame), {
      baseUrl: t.url,
      operatorKey: TEST_OPERATOR_KEY,
      fetch: cutting,
      reconnectDelayMs: 50,
    });
    expect(end?.data.status).toBe('completed');
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(requests[0].headers['Last-Event-ID']).toBeUndefined();
    expect(requests[1].headers['Last-Event-ID']).toBe(String(frames[0].id));
    for (let i = 1; i < frames.length; i++) expect(frames[i].id).toBeGreaterThanOrEqual(frames[i - 1].id);
  });

  it('rejects with the error body for an unknown workflow or a bad key', async () => {
    const missing = subscribeToSync(randomUUID(), () => undefined, {
      baseUrl: t.url,
      operatorKey: TEST_OPERATOR_KEY,
    });
    await expect(missing).rejects.toBeInstanceOf(SyncStreamError);
    await expect(missing).rejects.toMatchObject({ status: 404, body: { code: 'WORKFLOW_NOT_FOUND' } });
    const syncId = await forceSync();
    await expect(
      subscribeToSync(syncId, () => undefined, { baseUrl: t.url, operatorKey: 'k'.repeat(40) }),
    ).rejects.toMatchObject({ status: 401, body: { code: 'AUTHENTICATION_FAILED' } });
  });

  it('ends when its signal aborts, resolving with null', async () => {
    // A workflow that will not move (no OPAL behind it): the stream stays open until aborted.
    const w = await insertWorkflow(t.dataSource);
    const controller = new AbortController();
    const frames: SyncStreamFrame[] = [];
    const subscription = subscribeToSync(w.id, (frame) => frames.push(frame), {
      baseUrl: t.url,
      operatorKey: TEST_OPERATOR_KEY,
      signal: controller.signal,
    });
    await waitFor(() => frames.length > 0, 'the snapshot');
    controller.abort();
    await expect(subscription).resolves.toBeNull();
    expect(frames.map((f) => f.event)).toEqual(['snapshot']);
  });
});
