import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source-options';

/** Where analytics reads go now, and why. */
export interface ReplicaStatus {
  /** DATABASE_READ_URL is set. */
  configured: boolean;
  /** `replica`: analytics reads are served by it; `primary`: they fell back (or no replica is configured). */
  serving: 'replica' | 'primary';
  /** `up`, `lagging` (more than `max_lag_seconds` behind), `down` (unreachable), `not_configured`. */
  state: 'up' | 'lagging' | 'down' | 'not_configured';
  /** Age of the newest heartbeat the replica has applied, in seconds (null when unknown). */
  lag_seconds: number | null;
  max_lag_seconds: number | null;
  /** When the replica was last checked (ISO-8601). */
  checked_at: string | null;
}

/** How often the primary writes the heartbeat and the replica's lag is read (the scheduler calls `tick`). */
export const REPLICA_CHECK_INTERVAL_MS = 1000;

const HEARTBEAT_ID = 1;

/**
 * Reads for analytics — diagnostics pages, lists and exports, system-health figures, metric gauges — go through
 * here: to the read replica (DATABASE_READ_URL) while it is reachable and at most READ_REPLICA_MAX_LAG_SECONDS
 * behind, else to the primary, with a warning log line when that changes; never an error because of the replica.
 * Everything that decides or writes (ingest, processing, force sync, replay, a workflow's own page) stays on the
 * primary, where it reads its own writes.
 *
 * Lag: every second each instance writes `replica_heartbeat.beat_at = now()` on the primary and reads the
 * replica's `now() - beat_at`. That measures what a reader sees (replicated and applied), for logical and
 * physical replication alike, to within one heartbeat (it reads up to about a second more than the true lag).
 */
@Injectable()
export class AnalyticsReader implements OnApplicationShutdown {
  private readonly logger = new Logger('ReadReplica');
  private replica: DataSource | null = null;
  private connecting: Promise<DataSource> | null = null;
  private current: ReplicaStatus;
  private stopped = false;

  constructor(
    private readonly primary: DataSource,
    private readonly config: AppConfig,
  ) {
    const replica = config.readReplica;
    this.current = {
      configured: replica !== null,
      serving: 'primary',
      // Not trusted before its first check.
      state: replica === null ? 'not_configured' : 'down',
      lag_seconds: null,
      max_lag_seconds: replica?.maxLagSeconds ?? null,
      checked_at: null,
    };
  }

  status(): ReplicaStatus {
    return { ...this.current };
  }

  /** Runs an analytics statement on the replica when it serves reads, else (or when it fails) on the primary. */
  async query<T>(sql: string, parameters?: unknown[]): Promise<T> {
    if (this.current.serving === 'replica' && this.replica !== null) {
      try {
        return await this.replica.query<T>(sql, parameters);
      } catch (error) {
        this.fallBack('down', null, error);
      }
    }
    return this.primary.query<T>(sql, parameters);
  }

  /** The scheduler's tick: the heartbeat on the primary, then the replica's lag and whether it serves reads. */
  async tick(): Promise<void> {
    const settings = this.config.readReplica;
    if (settings === null || this.stopped) return;
    await this.primary.query(
      `INSERT INTO replica_heartbeat (id, beat_at) VALUES ($1, now())
       ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at`,
      [HEARTBEAT_ID],
    );
    let lag: number | null;
    try {
      const replica = await this.connect();
      const rows: { lag: number }[] = await replica.query(
        `SELECT extract(epoch FROM now() - beat_at)::float8 AS lag FROM replica_heartbeat WHERE id = $1`,
        [HEARTBEAT_ID],
      );
      lag = rows.length === 0 ? null : Math.max(0, Math.round(rows[0].lag * 1000) / 1000);
    } catch (error) {
      this.fallBack('down', null, error);
      return;
    }
    if (lag === null || lag > settings.maxLagSeconds) {
      this.fallBack('lagging', lag, null);
      return;
    }
    if (this.current.serving !== 'replica') {
      this.logger.log({ msg: 'Analytics reads served by the read replica again', lag_seconds: lag });
    }
    this.current = { ...this.current, serving: 'replica', state: 'up', lag_seconds: lag, checked_at: now() };
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    const replica = this.replica ?? (await this.connecting?.catch(() => null)) ?? null;
    this.replica = null;
    if (replica?.isInitialized) await replica.destroy();
  }

  private fallBack(state: 'down' | 'lagging', lag: number | null, error: unknown): void {
    const was = this.current;
    this.current = { ...was, serving: 'primary', state, lag_seconds: lag, checked_at: now() };
    if (was.serving === 'primary' && was.state === state) return;
    this.logger.warn({
      msg:
        state === 'down'
          ? 'Read replica unreachable: analytics reads go to the primary'
          : `Read replica more than ${this.config.readReplica?.maxLagSeconds} s behind (or without a heartbeat yet): analytics reads go to the primary`,
      lag_seconds: lag,
      // The class and code only: a driver message can carry the host.
      error: error === null ? undefined : describe(error),
    });
  }

  private async connect(): Promise<DataSource> {
    if (this.replica !== null) return this.replica;
    this.connecting ??= (async () => {
      const settings = this.config.readReplica!;
      const options = buildDataSourceOptions({
        url: settings.url,
        poolSize: Math.max(2, Math.ceil(this.config.dbPoolSize / 2)),
        applicationName: 'opal-force-sync-reader',
      });
      const source = new DataSource({
        ...options,
        migrations: [],
        extra: { ...(options.extra as Record<string, unknown>), connectionTimeoutMillis: 2000 },
      });
      try {
        return await source.initialize();
      } finally {
        this.connecting = null;
      }
    })();
    this.replica = await this.connecting;
    return this.replica;
  }
}

function now(): string {
  return new Date().toISOString();
}

function describe(error: unknown): string {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; name?: unknown };
  const code = typeof e.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(e.code) ? ` (${e.code})` : '';
  return `${typeof e.name === 'string' ? e.name : 'Error'}${code}`;
}
