import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError } from '../../common/app-error';
import type { ErrorCode } from '../../common/app-error';
import { canonicalJson, sha256Hex } from '../../common/canonical-json';
import { mapError } from '../../common/error-mapping';
import { RequestContext } from '../../common/request-context';

/** A complete answer of a route: status and body. */
export interface RouteAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface IdempotentAnswer<T> extends RouteAnswer<T> {
  /** True when this is the stored answer of an earlier request with the same key. */
  replayed: boolean;
}

const KEY_PATTERN = /^[\x20-\x7e]{1,200}$/;
const RETENTION_HOURS = 24;
const DELETE_BATCH_SIZE = 5000;
/** A reservation left in flight this long belongs to a request that died (crash); the key may be taken again. */
const STALE_IN_FLIGHT_SECONDS = 120;
/**
 * Errors stored like answers: they are given after a workflow was created, so repeating the request must
 * not create another. Errors given before anything was created (409 already active, 500 configuration) free
 * the key instead, so the same request may be sent again once the condition has passed.
 */
const STORED_ERROR_CODES: ReadonlySet<ErrorCode> = new Set(['OPAL_TRIGGER_REJECTED']);

/** Validates the optional `Idempotency-Key` header: 1–200 printable ASCII characters. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const value = Array.isArray(header) ? header.join(', ') : header;
  if (!KEY_PATTERN.test(value)) {
    throw new AppError('VALIDATION_FAILED', 'Invalid request: Idempotency-Key', [
      { field: 'Idempotency-Key', message: 'Idempotency-Key must be 1 to 200 printable ASCII characters' },
    ]);
  }
  return value;
}

export function requestHash(body: unknown): string {
  return sha256Hex(canonicalJson(body ?? {}));
}

/** One record: the caller's scope, the route and the key. */
interface RecordId {
  caller: string;
  scope: string;
  key: string;
}

interface StoredRow {
  request_hash: string;
  status_code: number | null;
  response_body: Record<string, unknown> | null;
}

/**
 * `Idempotency-Key` for POST routes (table `idempotency_keys`, primary key caller + route scope + key: two
 * callers' keys never collide, nor is one caller told that another's key exists). The first request reserves
 * the key in the database before doing anything, so concurrent repeats cannot both run; a repeat within 24 h
 * replays the stored answer; a repeat with another body is refused.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger('Idempotency');

  constructor(private readonly dataSource: DataSource) {}

  async run<T extends object>(
    caller: string,
    scope: string,
    key: string | null,
    hash: string,
    work: () => Promise<RouteAnswer<T>>,
  ): Promise<IdempotentAnswer<T>> {
    if (key === null) return { ...(await work()), replayed: false };

    const record: RecordId = { caller, scope, key };
    const stored = await this.reserve(record, hash);
    if (stored) return { status: stored.status, body: stored.body as T, replayed: true };

    let answer: RouteAnswer<T>;
    try {
      answer = await work();
    } catch (error) {
      if (error instanceof AppError && STORED_ERROR_CODES.has(error.code)) {
        const mapped = mapError(error, RequestContext.correlationId() ?? 'unknown');
        await this.complete(record, { status: mapped.status, body: mapped.body });
      } else {
        // The original error is what the caller must see; a key left in flight frees itself once stale.
        await this.release(record).catch((releaseError: unknown) =>
          this.logger.warn({ msg: 'Could not free an Idempotency-Key', scope, error: releaseError }),
        );
      }
      throw error;
    }
    await this.complete(record, answer);
    return { ...answer, replayed: false };
  }

  /** null when this request now owns the key; the stored answer when it is a repeat. */
  private async reserve({ caller, scope, key }: RecordId, hash: string): Promise<RouteAnswer | null> {
    for (let round = 0; round < 3; round++) {
      const inserted: unknown[] = await this.dataSource.query(
        `INSERT INTO idempotency_keys (caller, scope, key, request_hash, expires_at)
         VALUES ($1, $2, $3, $4, now() + ($5::int * interval '1 hour'))
         ON CONFLICT (caller, scope, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, status_code = NULL, response_body = NULL,
               created_at = now(), expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at <= now()
              OR (idempotency_keys.status_code IS NULL
                  AND idempotency_keys.created_at < now() - ($6::int * interval '1 second'))
         RETURNING key`,
        [caller, scope, key, hash, RETENTION_HOURS, STALE_IN_FLIGHT_SECONDS],
      );
      if (inserted.length > 0) return null;

      const rows: StoredRow[] = await this.dataSource.query(
        `SELECT request_hash, status_code, response_body FROM idempotency_keys
          WHERE caller = $1 AND scope = $2 AND key = $3`,
        [caller, scope, key],
      );
      const row = rows[0];
      // Released by its owner in the meantime: try to take it.
      if (!row) continue;
      if (row.request_hash !== hash) {
        throw new AppError(
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was already used with a different request body',
        );
      }
      if (row.status_code === null || row.response_body === null) {
        throw new AppError(
          'IDEMPOTENCY_KEY_IN_USE',
          'A request with this Idempotency-Key is still being processed; retry shortly',
          undefined,
          { 'Retry-After': '1' },
        );
      }
      return { status: row.status_code, body: row.response_body };
    }
    throw new AppError(
      'IDEMPOTENCY_KEY_IN_USE',
      'A request with this Idempotency-Key is being processed; retry shortly',
      undefined,
      { 'Retry-After': '1' },
    );
  }

  private async complete({ caller, scope, key }: RecordId, answer: RouteAnswer<object>): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_keys SET status_code = $4, response_body = $5
        WHERE caller = $1 AND scope = $2 AND key = $3`,
      [caller, scope, key, answer.status, answer.body],
    );
  }

  private async release({ caller, scope, key }: RecordId): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM idempotency_keys WHERE caller = $1 AND scope = $2 AND key = $3 AND status_code IS NULL`,
      [caller, scope, key],
    );
  }

  /**
   * Drops keys past their 24 h (or, with `dryRun`, counts them), in batches so that a large backlog never holds
   * one long lock. Run hourly by the scheduler and by the retention cleanup.
   */
  async deleteExpired(dryRun = false): Promise<number> {
    if (dryRun) {
      const rows: { n: number }[] = await this.dataSource.query(
        `SELECT count(*)::int AS n FROM idempotency_keys WHERE expires_at <= now()`,
      );
      return rows[0]?.n ?? 0;
    }
    let total = 0;
    for (;;) {
      const [, affected]: [unknown[], number] = await this.dataSource.query(
        `DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM idempotency_keys WHERE expires_at <= now() LIMIT $1))`,
        [DELETE_BATCH_SIZE],
      );
      total += affected;
      if (affected < DELETE_BATCH_SIZE) return total;
    }
  }
}
