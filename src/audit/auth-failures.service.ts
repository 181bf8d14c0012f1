import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AnalyticsReader } from '../database/analytics-reader';

export type AuthFailureReason = 'missing_key' | 'invalid_key';

export interface AuthFailure {
  route: string;
  clientIp: string | undefined;
  method: string;
  reason: AuthFailureReason;
  /** A fingerprint of the presented key (never the key), or null when none was presented. */
  keyFingerprint: string | null;
  correlationId: string | null;
}

const MAX_ROUTE_LENGTH = 200;
const MAX_CLIENT_IP_LENGTH = 64;

/**
 * Failed operator authentications as bounded per-minute counters (table `auth_failures`): the figure behind the
 * "more than N authentication failures in M minutes" alert, pruned with the event retention.
 */
@Injectable()
export class AuthFailuresService {
  constructor(
    private readonly dataSource: DataSource,
    /** The alert's count is an analytics read: the read replica when it serves, else the primary. */
    private readonly reader: AnalyticsReader,
  ) {}

  async record(failure: AuthFailure): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO auth_failures (bucket, route, client_ip, count, first_at, last_at, last_reason, last_method,
                                  last_key_fingerprint, last_correlation_id)
       VALUES (date_trunc('minute', now()), $1, $2, 1, now(), now(), $3, $4, $5, $6)
       ON CONFLICT (bucket, route, client_ip) DO UPDATE
         SET count = auth_failures.count + 1, last_at = now(), last_reason = EXCLUDED.last_reason,
             last_method = EXCLUDED.last_method, last_key_fingerprint = EXCLUDED.last_key_fingerprint,
             last_correlation_id = EXCLUDED.last_correlation_id`,
      [
        failure.route.slice(0, MAX_ROUTE_LENGTH),
        (failure.clientIp ?? 'unknown').slice(0, MAX_CLIENT_IP_LENGTH),
        failure.reason,
        failure.method.slice(0, 16),
        failure.keyFingerprint,
        failure.correlationId,
      ],
    );
  }

  /**
   * Failures in the last `minutes`, counted by whole minutes: the minute in which the window starts counts
   * entirely, so the window is at most a minute longer than stated, never shorter.
   */
  async countSince(minutes: number): Promise<number> {
    const rows: { n: number }[] = await this.reader.query(
      `SELECT coalesce(sum(count), 0)::int AS n FROM auth_failures
        WHERE bucket >= date_trunc('minute', now() - $1::int * interval '1 minute')`,
      [minutes],
    );
    return rows[0]?.n ?? 0;
  }

  /** Counter rows older than the cutoff (what a cleanup would delete). */
  async countOlderThan(cutoff: Date): Promise<number> {
    const rows: { n: number }[] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM auth_failures WHERE bucket < $1`,
      [cutoff],
    );
    return rows[0]?.n ?? 0;
  }

  /** Deletes counter rows older than the cutoff, `batchSize` per statement; answers how many. */
  async deleteOlderThan(cutoff: Date, batchSize: number): Promise<number> {
    let total = 0;
    for (;;) {
      // For DELETE, TypeORM's postgres driver answers [rows, affectedCount].
      const [, affected]: [unknown[], number] = await this.dataSource.query(
        `DELETE FROM auth_failures WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM auth_failures WHERE bucket < $1 LIMIT $2))`,
        [cutoff, batchSize],
      );
      total += affected;
      if (affected < batchSize) return total;
    }
  }
}
