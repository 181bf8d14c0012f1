/**
 * The ceiling of this stack: a bare `node:http` server that does only what a durable signed ingest must do —
 * verify the X-OSA-Signature over the raw bytes with the service's own function, derive the same idempotency key,
 * and INSERT the same row (same statement, same table and indexes, ON CONFLICT on the same unique key) with `pg`,
 * answering 202 once it is committed. No framework, validation, logging, metrics or event processing.
 *
 * Env: PORT, DATABASE_URL, OSA_WEBHOOK_SHARED_SECRET, DB_POOL_SIZE (default 10, the service's default).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Pool } from 'pg';
import { SIGNATURE_HEADER, verifySignature } from '../src/common/signature';
import { canonicalJson, sha256Hex } from '../src/common/canonical-json';
import { WEBHOOK_PATH } from '../src/domain/routes';

const MAX_BODY_BYTES = 1024 * 1024;
const TOLERANCE_SECONDS = 300;

/** The receiver's key scheme (webhook-event.parser idempotencyKeyOf), without loading the Nest/validator stack. */
function idempotencyKeyOf(body: Record<string, unknown>): string {
  const eventId = body.event_id;
  if (typeof eventId === 'string' && eventId.length > 0) return `id:${eventId}`;
  return `sha256:${sha256Hex(canonicalJson(body))}`;
}

const INSERT_SQL = `INSERT INTO webhook_events (id, idempotency_key, source_event_id, event_type, raw_event_type, workflow_ref,
                             workflow_name, sync_id, agent_id, execution_status, status, correlation_id,
                             error_message, occurred_at, received_at, processing_status, payload)
 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, COALESCE($13::timestamptz, now()), now(),
         'pending', $14::jsonb)
 ON CONFLICT (idempotency_key) DO NOTHING
 RETURNING id, sequence`;

const secrets = (process.env.OSA_WEBHOOK_SHARED_SECRET ?? '').split(',').filter((s) => s.length > 0);
const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_SIZE ?? '10'),
});

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
  const id = randomUUID();
  const eventType = text(body.event_type);
  const { rows } = await pool.query(INSERT_SQL, [
    id,
    idempotencyKeyOf(body),
    text(body.event_id),
    eventType,
    eventType,
    text(body.workflow_id),
    text(body.workflow_name),
    text(body.agent_id),
    text(body.execution_status),
    body.execution_status === 'failure' ? 'failed' : 'success',
    text(body.correlation_id),
    null,
    text(body.timestamp),
    JSON.stringify(body),
  ]);
  if (rows.length === 0) return answer(res, 409, { success: false });
  answer(res, 202, { success: true, event_id: id, processing: { status: 'queued' } });
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return answer(res, 200, { status: 'ok' });
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
