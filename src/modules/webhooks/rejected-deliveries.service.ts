import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RequestContext } from '../../common/request-context';
import type { RejectionReason } from '../../domain/events';

const MAX_DETAIL_LENGTH = 300;
const MAX_CLIENT_IP_LENGTH = 64;

/**
 * Rejected deliveries are kept as one counter row per minute, reason and client address, so a flood of
 * unauthenticated requests grows a count rather than the table, and no body or signature is ever stored.
 */
@Injectable()
export class RejectedDeliveriesService {
  constructor(private readonly dataSource: DataSource) {}

  async record(reason: RejectionReason, clientIp: string | undefined, detail: string | null): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO rejected_deliveries (bucket, reason, client_ip, count, first_at, last_at, last_detail, last_correlation_id)
       VALUES (date_trunc('minute', now()), $1, $2, 1, now(), now(), $3, $4)
       ON CONFLICT (bucket, reason, client_ip) DO UPDATE
         SET count = rejected_deliveries.count + 1, last_at = now(),
             last_detail = EXCLUDED.last_detail, last_correlation_id = EXCLUDED.last_correlation_id`,
      [
        reason,
        (clientIp ?? 'unknown').slice(0, MAX_CLIENT_IP_LENGTH),
        detail === null ? null : detail.slice(0, MAX_DETAIL_LENGTH),
        RequestContext.correlationId() ?? null,
      ],
    );
  }
}
