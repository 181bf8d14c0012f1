import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { RequestContext } from '../common/request-context';
import { AuditLogEntity, type AuditAction } from './audit-log.entity';

export type { AuditAction };

export interface AuditEntry {
  action: AuditAction;
  actor?: string | null;
  clientIp?: string | null;
  method?: string | null;
  route?: string | null;
  details?: Record<string, unknown>;
}

@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditLogEntity) private readonly repo: Repository<AuditLogEntity>) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.repo.insert({
      action: entry.action,
      actor: entry.actor ?? null,
      clientIp: entry.clientIp ?? null,
      method: entry.method ?? null,
      route: entry.route ?? null,
      correlationId: RequestContext.correlationId() ?? null,
      details: (entry.details ?? {}) as object,
    });
  }

  async countSince(action: AuditAction, minutes: number): Promise<number> {
    const rows: { n: number }[] = await this.repo.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = $1 AND occurred_at > now() - ($2::int * interval '1 minute')`,
      [action, minutes],
    );
    return rows[0]?.n ?? 0;
  }
}
