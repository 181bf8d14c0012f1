import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { RequestContext } from '../common/request-context';
import { AuditLogEntity, type AuditAction } from './audit-log.entity';

/** Operator actions. Failed authentications are counted in `auth_failures` (AuthFailuresService) instead. */
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
}
