import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Client, type Notification } from 'pg';
import { DataSource } from 'typeorm';
import { WORKFLOW_CHANGED_CHANNEL } from '../../domain/workflow';
import { MetricsService } from '../../metrics/metrics.service';
import { parseChangeNotification } from './sse';

/** A change stored by any instance: the workflow and the version it now has. */
export interface FeedChange {
  syncId: string;
  version: number;
}

/** How the listening connection shows in `pg_stat_activity` (operators and tests find it by this name). */
export const FEED_APPLICATION_NAME = 'opal-force-sync-live';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * The cross-instance feed of workflow changes: one dedicated PostgreSQL connection per instance that LISTENs on
 * the write path's channel (`WorkflowsRepository` notifies `<sync_id>:<version>` in the writing transaction, so a
 * notification arrives only for a committed change). When the connection is lost it reconnects with a growing,
 * jittered delay (0.1 s to 5 s), and once listening again it announces the gap with the time it began, so that
 * the streams can send fresh snapshots: notifications sent meanwhile are gone for good.
 */
@Injectable()
export class WorkflowFeed implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WorkflowFeed');
  private client: Client | null = null;
  private stopped = false;
  private failures = 0;
  private retry: NodeJS.Timeout | null = null;
  /** When the connection was lost (null while listening). */
  private lostAt: Date | null = null;
  private readonly changeListeners = new Set<(change: FeedChange) => void>();
  private readonly gapListeners = new Set<(lostAt: Date) => void>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {}

  get listening(): boolean {
    return this.client !== null;
  }

  onChange(listener: (change: FeedChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called after the feed was restored, with the time it was lost. */
  onGap(listener: (lostAt: Date) => void): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  /** The first connection is made before the service answers; when it fails, the retries go on in the background. */
  async onApplicationBootstrap(): Promise<void> {
    await this.connect();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const url = (this.dataSource.options as { url?: string }).url;
    const client = new Client({
      connectionString: url,
      application_name: FEED_APPLICATION_NAME,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    let dead = false;
    const lost = (error?: Error): void => {
      if (dead) return;
      dead = true;
      if (this.client === client) this.client = null;
      this.lostAt ??= new Date();
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.logger.warn({ msg: 'Lost the workflow change feed: reconnecting', error: error?.message });
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message: Notification) => this.receive(message));
    try {
      await client.connect();
      await client.query(`LISTEN ${WORKFLOW_CHANGED_CHANNEL}`);
    } catch (error) {
      lost(error as Error);
      return;
    }
    if (dead || this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    const since = this.lostAt;
    this.lostAt = null;
    if (since !== null) {
      this.metrics.liveFeedGaps.inc();
      this.logger.log({ msg: 'Workflow change feed restored', lost_ms: Date.now() - since.getTime() });
      for (const listener of this.gapListeners) this.safely(() => listener(since));
    }
  }

  private scheduleReconnect(): void {
    if (this.retry || this.stopped) return;
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.failures);
    this.failures += 1;
    this.retry = setTimeout(
      () => {
        this.retry = null;
        void this.connect();
      },
      Math.round(ceiling / 2 + (Math.random() * ceiling) / 2),
    );
    this.retry.unref();
  }

  private receive(message: Notification): void {
    if (message.channel !== WORKFLOW_CHANGED_CHANNEL) return;
    const change = parseChangeNotification(message.payload);
    if (!change) return;
    for (const listener of this.changeListeners) this.safely(() => listener(change));
  }

  private safely(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.logger.error({ msg: 'A workflow change feed listener failed', error });
    }
  }
}
