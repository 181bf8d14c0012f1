import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { AppError } from '../../common/app-error';
import type { AuditActor } from '../../common/audit-actor';
import type { MaintenanceMode } from '../../domain/workflow';
import type { MaintenanceStateDto } from './dto/maintenance.dto';

/**
 * How long an instance trusts the mode it read. Every instance therefore obeys a switch made on any other within
 * this (plus one query), well inside the contract's second, at the cost of one tiny query per instance and
 * half-second however busy it is.
 */
export const MODE_CACHE_MS = 500;

/** What a refused write tells the caller to wait before trying again, in seconds. */
export const MAINTENANCE_RETRY_AFTER_SECONDS = 60;

export interface MaintenanceState {
  mode: MaintenanceMode;
  since: Date | null;
  reason: string | null;
  by: string | null;
}

const NORMAL: MaintenanceState = { mode: 'normal', since: null, reason: null, by: null };

interface ModeRow {
  mode: MaintenanceMode;
  since: Date;
  reason: string | null;
  changed_by: string | null;
}

/**
 * Owns `maintenance_mode`: the mode every instance obeys (contract section 14). While `paused`, the write routes
 * (force sync, trigger, rerun, cancel, replay, the retention cleanup) refuse with 503 MAINTENANCE_MODE and
 * `Retry-After`; event processing and the scheduler's write jobs hold; the receiver still stores callbacks.
 * The mode lives in the database, so it survives restarts and holds for every instance; each instance reads it
 * at most every MODE_CACHE_MS (concurrent readers share one query).
 */
@Injectable()
export class MaintenanceModeService {
  private readonly logger = new Logger('Maintenance');
  private cached: MaintenanceState = NORMAL;
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<MaintenanceState> | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
  ) {}

  /** The mode, read from the database at most MODE_CACHE_MS ago. */
  current(): Promise<MaintenanceState> {
    if (performance.now() - this.readAt < MODE_CACHE_MS) return Promise.resolve(this.cached);
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  async isPaused(): Promise<boolean> {
    return (await this.current()).mode === 'paused';
  }

  /** Throws 503 MAINTENANCE_MODE (with Retry-After) while paused: the first thing every write route does. */
  async assertWritable(): Promise<void> {
    const state = await this.current();
    if (state.mode === 'normal') return;
    throw new AppError(
      'MAINTENANCE_MODE',
      `The service is in maintenance mode: write operations are paused${state.reason ? ` (reason: ${state.reason})` : ''}`,
      [{ mode: state.mode, since: state.since?.toISOString() ?? null }],
      { 'Retry-After': String(MAINTENANCE_RETRY_AFTER_SECONDS) },
    );
  }

  /** Sets the mode (stored, audited); this instance obeys at once, the others within MODE_CACHE_MS. */
  async set(mode: MaintenanceMode, reason: string | null, actor: AuditActor): Promise<MaintenanceState> {
    const rows: ModeRow[] = await this.dataSource.query(
      `INSERT INTO maintenance_mode (id, mode, since, reason, changed_by) VALUES (1, $1, now(), $2, $3)
       ON CONFLICT (id) DO UPDATE SET mode = EXCLUDED.mode, since = EXCLUDED.since, reason = EXCLUDED.reason,
                                      changed_by = EXCLUDED.changed_by
       RETURNING mode, since, reason, changed_by`,
      [mode, reason, actor.actor],
    );
    const state = toState(rows[0]);
    this.remember(state);
    await this.audit.record({
      action: 'maintenance',
      actor: actor.actor,
      clientIp: actor.clientIp,
      method: actor.method,
      route: actor.route,
      details: { mode, reason },
    });
    this.logger.warn({ msg: mode === 'paused' ? 'Maintenance mode on' : 'Maintenance mode off', reason });
    return state;
  }

  private async read(): Promise<MaintenanceState> {
    const rows: ModeRow[] = await this.dataSource.query(
      `SELECT mode, since, reason, changed_by FROM maintenance_mode WHERE id = 1`,
    );
    const state = rows.length === 0 ? NORMAL : toState(rows[0]);
    this.remember(state);
    return state;
  }

  private remember(state: MaintenanceState): void {
    this.cached = state;
    this.readAt = performance.now();
  }
}

function toState(row: ModeRow): MaintenanceState {
  return { mode: row.mode, since: row.since, reason: row.reason, by: row.changed_by };
}

export function toMaintenanceResponse(state: MaintenanceState): MaintenanceStateDto {
  return {
    mode: state.mode,
    since: state.since ? state.since.toISOString() : null,
    reason: state.reason,
    by: state.by,
  };
}
