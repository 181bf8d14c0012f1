/**
 * The baselines of the ingest benchmark: a bare `node:http` server that does only what a durable signed ingest
 * must do — verify the X-OSA-Signature over the raw bytes with the service's own function, derive the same
 * idempotency key, store the same row (same table and indexes, ON CONFLICT on the same unique key) with `pg`,
 * answer 202 once it is committed, and answer a duplicate 409 naming the stored event (the contract's answer,
 * one more query, as in the service). No framework, validation, logging, metrics or event processing.
 *
 * Two ways to write, chosen by BASELINE_MODE:
 * - `per-event` (default): one autocommitted INSERT per request. The reference of the service's ratio goal.
 * - `group-commit`: the service's own group committer (`src/common/group-commit.ts`) with the service's batch
 *   limits and the same batch statement (one INSERT … SELECT FROM unnest(…) and one commit for every delivery that
 *   arrived while the previous batch was being written). This is the true ceiling of the stack: the service's
 *   storage strategy without anything else.
 *
 * Env: PORT, DATABASE_URL, OSA_WEBHOOK_SHARED_SECRET, BASELINE_MODE, DB_POOL_SIZE (default 10, the service's
 * default).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { canonicalJson, sha256Hex } from '../src/common/canonical-json';
import { GroupCommitter, type ItemOutcome } from '../src/common/group-commit';
import { SIGNATURE_HEADER, verifySignature } from '../src/common/signature';
import { WEBHOOK_PATH } from '../src/domain/routes';

const MAX_BODY_BYTES = 1024 * 1024;
const TOLERANCE_SECONDS = 300;
/** The service's batch limits (src/modules/webhooks/webhooks.service.ts). */
const INSERT_BATCH_MAX_EVENTS = 64;
const INSERT_BATCH_MAX_BYTES = 4 * 1024 * 1024;

export type BaselineMode = 'per-event' | 'group-commit';
const MODE: BaselineMode = process.env.BASELINE_MODE === 'group-commit' ? 'group-commit' : 'per-event';
const POOL_SIZE = Number(process.env.DB_POOL_SIZE ?? '10');

/** The receiver's key scheme (webhook-event.parser idempotencyKeyOf), without loading the Nest/validator stack. */
function idempotencyKeyOf(body: Record<string, unknown>): string {
  const eventId = body.event_id;
  if (typeof eventId === 'string' && eventId.length > 0) return `id:${eventId}`;
  return `sha256:${sha256Hex(canonicalJson(body))}`;
}

interface Row {
  id: string;
  idempotencyKey: string;
  sourceEventId: string | null;
  eventType: string | null;
  workflowRef: string | null;
  workflowName: string | null;
  agentId: string | null;
  executionStatus: string | null;
  status: string;
  correlationId: string | null;
  occurredAt: string | null;
  payloadJson: string;
}

const INSERT_ONE_SQL = `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                             workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                             error_message, occurred_at, received_at, processing_status, payload)
 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, NULL, COALESCE($12::timestamptz, now()), now(),
         'pending', $13::jsonb)
 ON CONFLICT (idempotency_key) DO NOTHING
 RETURNING id, sequence`;

/** The service's batch statement (WebhooksService.insertRows): the payloads travel as one JSON array. */
const INSERT_BATCH_SQL = `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                             workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                             error_message, occurred_at, received_at, processing_status, payload)
 SELECT v.id, v.idempotency_key, v.source_event_id, v.event_type, v.raw_event_type, v.workflow_ref,
        v.workflow_name, NULL, v.agent_id, v.execution_status, v.status, v.correlation_id, v.error_message,
        COALESCE(v.occurred_at, now()), now(), 'pending', p.payload
   FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
               $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[])
        WITH ORDINALITY AS v(id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                             workflow_name, agent_id, execution_status, status, correlation_id,
                             error_message, occurred_at, ord)
   JOIN jsonb_array_elements($14::jsonb) WITH ORDINALITY AS p(payload, ord) ON p.ord = v.ord
  ORDER BY v.ord
 ON CONFLICT (idempotency_key) DO NOTHING
 RETURNING id, sequence`;

const secrets = (process.env.OSA_WEBHOOK_SHARED_SECRET ?? '').split(',').filter((s) => s.length > 0);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: POOL_SIZE });

/** true: stored by this request; false: a duplicate of a stored event. */
async function insertOne(row: Row): Promise<boolean> {
  const { rows } = await pool.query(INSERT_ONE_SQL, [
    row.id,
    row.idempotencyKey,
    row.sourceEventId,
    row.eventType,
    row.eventType,
    row.workflowRef,
    row.workflowName,
    row.agentId,
    row.executionStatus,
    row.status,
    row.correlationId,
    row.occurredAt,
    row.payloadJson,
  ]);
  return rows.length > 0;
}

/** The service's batch write: the first item of a key in a batch is inserted, later ones are duplicates. */
async function insertBatch(items: readonly Row[]): Promise<ItemOutcome<boolean>[]> {
  const firstWithKey = new Map<string, number>();
  const unique: Row[] = [];
  items.forEach((item, index) => {
    if (!firstWithKey.has(item.idempotencyKey)) {
      firstWithKey.set(item.idempotencyKey, index);
      unique.push(item);
    }
  });
  const column = <V>(pick: (row: Row) => V): V[] => unique.map(pick);
  const { rows } = await pool.query<{ id: string }>(INSERT_BATCH_SQL, [
    column((r) => r.id),
    column((r) => r.idempotencyKey),
    column((r) => r.sourceEventId),
    column((r) => r.eventType),
    column((r) => r.eventType),
    column((r) => r.workflowRef),
    column((r) => r.workflowName),
    column((r) => r.agentId),
    column((r) => r.executionStatus),
    column((r) => r.status),
    column((r) => r.correlationId),
    column(() => null),
    column((r) => r.occurredAt),
    `[${unique.map((r) => r.payloadJson).join(',')}]`,
  ]);
  const stored = new Set(rows.map((r) => r.id));
  return items.map((item, index) => ({
    ok: true,
    value: firstWithKey.get(item.idempotencyKey) === index && stored.has(item.id),
  }));
}

const committer = new GroupCommitter<Row, boolean>(
  {
    maxBatch: INSERT_BATCH_MAX_EVENTS,
    maxBatchBytes: INSERT_BATCH_MAX_BYTES,
    sizeOf: (row) => row.payloadJson.length,
    maxInFlight: Math.max(1, Math.floor(POOL_SIZE / 5)),
  },
  insertBatch,
);

const store: (row: Row) => Promise<boolean> =
  MODE === 'group-commit' ? (row) => committer.submit(row) : insertOne;

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

async function ingest(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  if (raw === null) return answer(res, 413, { success: false });
  const verified = verifySignature({
    header: req.headers[SIGNATURE_HEADER] as string | undefined,
    rawBody: raw,
    secrets,
    nowMs: Date.now(),
    toleranceSeconds: TOLERANCE_SECONDS,
  });
  if (!verified.ok) return answer(res, 401, { success: false });
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    return answer(res, 400, { success: false });
  }
  const row: Row = {
    id: randomUUID(),
    idempotencyKey: idempotencyKeyOf(body),
    sourceEventId: text(body.event_id),
    eventType: text(body.event_type),
    workflowRef: text(body.workflow_id),
    workflowName: text(body.workflow_name),
    agentId: text(body.agent_id),
    executionStatus: text(body.execution_status),
    status: body.execution_status === 'failure' ? 'failed' : 'success',
    correlationId: text(body.correlation_id),
    occurredAt: text(body.timestamp),
    payloadJson: JSON.stringify(body),
  };
  if (await store(row)) {
    return answer(res, 202, { success: true, event_id: row.id, processing: { status: 'queued' } });
  }
  const existing = await pool.query<{ id: string }>(
    'SELECT id FROM webhook_events WHERE idempotency_key = $1',
    [row.idempotencyKey],
  );
  answer(res, 409, { success: false, details: [{ event_id: existing.rows[0]?.id ?? null }] });
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return answer(res, 200, { status: 'ok', mode: MODE });
  if (req.method !== 'POST' || req.url !== WEBHOOK_PATH) return answer(res, 404, {});
  ingest(req, res).catch(() => {
    if (!res.headersSent) answer(res, 500, { success: false });
  });
});
server.keepAliveTimeout = 65_000;

server.listen(Number(process.env.PORT ?? '0'), '127.0.0.1');

const stop = (): void => {
  server.close();
  server.closeAllConnections();
  pool.end().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
