import { performance } from 'node:perf_hooks';
import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppError } from '../../common/app-error';
import { AppConfig } from '../../config/app-config';
import { isTerminalWorkflowStatus, type WorkflowStatus } from '../../domain/workflow';
import { MetricsService } from '../../metrics/metrics.service';
import type { WorkflowResponseDto } from '../workflows/dto/workflow-response.dto';
import { WorkflowEvents } from '../workflows/workflow-events.service';
import { WorkflowsService } from '../workflows/workflows.service';
import { parseLastEventId, sseFrame, SSE_KEEP_ALIVE, type StreamEvent } from './sse';
import { WorkflowFeed } from './workflow-feed.service';

type StreamKind = 'sync' | 'list';

interface OpenStream {
  kind: StreamKind;
  res: Response;
  /** Sync streams: the workflow. */
  syncId: string | null;
  /** List streams: only workflows in this status (null: all). */
  status: WorkflowStatus | null;
  /** Sync streams: the version last written (0: none yet). */
  lastVersion: number;
  /** Sync streams: false until the first frame is decided; changes heard meanwhile wait in `pending`. */
  ready: boolean;
  pending: WorkflowResponseDto | null;
  closed: boolean;
}

/** Workflows read in one go when many changed at once. */
const READ_BATCH = 200;
/** After a gap, list streams get the workflows changed since shortly before it (clocks differ a little). */
const GAP_MARGIN_MS = 5_000;
const GAP_LIST_LIMIT = 200;
/** A client that reads slower than this much pending output is cut off; it resumes with `Last-Event-ID`. */
const MAX_BUFFERED_BYTES = 1 << 20;
/** Remembered versions (what was pushed, what this instance committed); the oldest are forgotten beyond this. */
const MEMORY = 10_000;
const RETRY_READ_MS = 500;

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MEMORY) map.delete(map.keys().next().value!);
}

/**
 * Live progress (contract section 11): the server-sent event streams of one workflow and of all workflows.
 *
 * Changes come from this instance's write path (`WorkflowEvents`, at once) and from every instance through the
 * PostgreSQL feed (`WorkflowFeed`); the same version heard twice is read and sent once. A change is read from the
 * database once for all the streams that show it (several changed workflows in one read), and only while a
 * stream shows it: no stream, no query. There is no polling; after a gap in the feed every open stream is sent
 * a fresh snapshot. Heartbeats are one timer for all streams. The number of streams is capped per instance
 * (SSE_MAX_STREAMS), and shutdown ends them all so that clients reconnect to another instance.
 */
@Injectable()
export class LiveStreamsService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger('LiveStreams');
  private readonly streams = new Set<OpenStream>();
  private readonly bySync = new Map<string, Set<OpenStream>>();
  private readonly lists = new Set<OpenStream>();
  /** The highest version of each workflow read and pushed to the streams. */
  private readonly pushed = new Map<string, number>();
  /** Workflows to read, with the version heard. */
  private readonly dirty = new Map<string, number>();
  private flushing = false;
  /** When this instance committed `<sync_id>:<version>` (for the feed's lag). */
  private readonly committed = new Map<string, number>();
  private heartbeat: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly config: AppConfig,
    private readonly workflows: WorkflowsService,
    private readonly events: WorkflowEvents,
    private readonly feed: WorkflowFeed,
    private readonly metrics: MetricsService,
  ) {}

  get openStreams(): number {
    return this.streams.size;
  }

  onModuleInit(): void {
    this.unsubscribe.push(
      this.events.onChange((change) => {
        remember(this.committed, `${change.syncId}:${change.version}`, performance.now());
        this.changed(change.syncId, change.version);
      }),
      this.feed.onChange((change) => {
        const key = `${change.syncId}:${change.version}`;
        const committedAt = this.committed.get(key);
        if (committedAt !== undefined) {
          this.committed.delete(key);
          this.metrics.liveNotifyLag.observe((performance.now() - committedAt) / 1000);
        }
        this.changed(change.syncId, change.version);
      }),
      this.feed.onGap((lostAt) => void this.resync(lostAt)),
    );
    for (const kind of ['sync', 'list'] as const) this.metrics.liveStreams.set({ kind }, 0);
    this.heartbeat = setInterval(() => this.beat(), this.config.live.heartbeatSeconds * 1000);
    this.heartbeat.unref();
  }

  onModuleDestroy(): void {
    this.endAll();
  }

  beforeApplicationShutdown(): void {
    this.endAll();
  }

  /**
   * `GET /api/opal/sync/{sync_id}/events`. Answers an error (404, 503) before any frame; then a snapshot (none
   * when `Last-Event-ID` is the current version), progress frames, and `end` once the workflow is finished.
   */
  async openSyncStream(ref: string, req: Request, res: Response): Promise<void> {
    this.admit();
    const found = await this.workflows.resolve(ref);
    if (!found) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');
    const stream = this.register('sync', res, found.id, null);
    let current: WorkflowResponseDto | undefined;
    try {
      current = (await this.workflows.responsesOf([found.id])).get(found.id);
      if (!current) throw new AppError('WORKFLOW_NOT_FOUND', 'No workflow with this id');
    } catch (error) {
      this.remove(stream);
      throw error;
    }
    if (stream.pending && stream.pending.version > current.version) current = stream.pending;
    stream.pending = null;
    stream.ready = true;
    if (!this.begin(stream, req)) return;
    if (parseLastEventId(req.headers['last-event-id']) !== current.version) {
      this.write(stream, sseFrame('snapshot', current, current.version), 'snapshot');
    }
    stream.lastVersion = current.version;
    if (isTerminalWorkflowStatus(current.status as WorkflowStatus)) this.finish(stream, current);
  }

  /** `GET /api/opal/syncs/events`: a `workflow` frame for every change (of workflows in `status`, if given). */
  openListStream(status: WorkflowStatus | null, req: Request, res: Response): void {
    this.admit();
    const stream = this.register('list', res, null, status);
    stream.ready = true;
    this.begin(stream, req);
  }

  /** Ends every stream and refuses new ones (shutdown: clients reconnect to another instance). */
  endAll(): void {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const stop of this.unsubscribe.splice(0)) stop();
    for (const stream of [...this.streams]) this.close(stream);
  }

  private admit(): void {
    if (this.closing) {
      throw new AppError('SERVICE_UNAVAILABLE', 'The service is shutting down', undefined, {
        'Retry-After': '1',
      });
    }
    if (this.streams.size >= this.config.live.maxStreams) {
      throw new AppError(
        'TOO_MANY_STREAMS',
        `This instance holds its most live progress streams (${this.config.live.maxStreams}); retry after 5 seconds`,
        undefined,
        { 'Retry-After': '5' },
      );
    }
  }

  private register(
    kind: StreamKind,
    res: Response,
    syncId: string | null,
    status: WorkflowStatus | null,
  ): OpenStream {
    // Checked again now: other streams may have opened while this one looked its workflow up.
    this.admit();
    const stream: OpenStream = {
      kind,
      res,
      syncId,
      status,
      lastVersion: 0,
      ready: false,
      pending: null,
      closed: false,
    };
    this.streams.add(stream);
    if (kind === 'list') this.lists.add(stream);
    if (syncId !== null) {
      let set = this.bySync.get(syncId);
      if (!set) this.bySync.set(syncId, (set = new Set()));
      set.add(stream);
    }
    this.metrics.liveStreams.inc({ kind });
    res.once('close', () => this.remove(stream));
    // The client may have gone while the workflow was looked up: its 'close' has fired already.
    if (res.destroyed || res.writableEnded) this.remove(stream);
    return stream;
  }

  /**
   * The stream's headers: nothing may buffer or transform it (proxies, compression). A HEAD request gets the
   * headers only (false: there is no stream).
   */
  private begin(stream: OpenStream, req: Request): boolean {
    const { res } = stream;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    if (req.method === 'HEAD') {
      this.close(stream);
      return false;
    }
    res.flushHeaders();
    req.socket.setNoDelay(true);
    return true;
  }

  private remove(stream: OpenStream): void {
    if (!this.streams.delete(stream)) return;
    stream.closed = true;
    this.lists.delete(stream);
    if (stream.syncId !== null) {
      const set = this.bySync.get(stream.syncId);
      set?.delete(stream);
      if (set?.size === 0) this.bySync.delete(stream.syncId);
    }
    this.metrics.liveStreams.dec({ kind: stream.kind });
  }

  private close(stream: OpenStream): void {
    this.remove(stream);
    if (!stream.res.writableEnded) stream.res.end();
  }

  private write(stream: OpenStream, chunk: string, event: StreamEvent | null): void {
    if (stream.closed) return;
    stream.res.write(chunk);
    if (event !== null) this.metrics.liveFrames.inc({ event });
    if (stream.res.writableLength > MAX_BUFFERED_BYTES) {
      this.logger.warn({ msg: 'A live progress client reads too slowly: ending its stream' });
      this.close(stream);
    }
  }

  private finish(stream: OpenStream, workflow: WorkflowResponseDto): void {
    this.write(stream, sseFrame('end', workflow, workflow.version), 'end');
    this.close(stream);
  }

  private beat(): void {
    for (const stream of this.streams) if (stream.ready) this.write(stream, SSE_KEEP_ALIVE, null);
  }

  /** A stored change of one workflow (heard locally or through the feed). */
  private changed(syncId: string, version: number): void {
    if (this.streams.size === 0) return;
    if ((this.pushed.get(syncId) ?? 0) >= version) return;
    if (this.lists.size === 0 && !this.bySync.has(syncId)) return;
    this.dirty.set(syncId, Math.max(this.dirty.get(syncId) ?? 0, version));
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Reads the changed workflows (a batch at a time) and pushes them to their streams. */
  private async flush(): Promise<void> {
    try {
      while (this.dirty.size > 0 && !this.closing) {
        const batch = [...this.dirty].slice(0, READ_BATCH);
        for (const [id] of batch) this.dirty.delete(id);
        let read: Map<string, WorkflowResponseDto>;
        try {
          read = await this.workflows.responsesOf(batch.map(([id]) => id));
        } catch (error) {
          this.logger.warn({ msg: 'Could not read changed workflows for the live streams: retrying', error });
          for (const [id, version] of batch) {
            this.dirty.set(id, Math.max(this.dirty.get(id) ?? 0, version));
          }
          await new Promise((resolve) => setTimeout(resolve, RETRY_READ_MS).unref());
          continue;
        }
        for (const workflow of read.values()) {
          const isNew = workflow.version > (this.pushed.get(workflow.sync_id) ?? 0);
          if (isNew) remember(this.pushed, workflow.sync_id, workflow.version);
          this.push(workflow, isNew);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Pushes a workflow's state to its own streams when newer than what they have (as `end` once finished), and to
   * the list streams when it is a version they have not been sent.
   */
  private push(workflow: WorkflowResponseDto, toLists: boolean): void {
    const terminal = isTerminalWorkflowStatus(workflow.status as WorkflowStatus);
    for (const stream of this.bySync.get(workflow.sync_id) ?? []) {
      if (!stream.ready) {
        if (!stream.pending || stream.pending.version < workflow.version) stream.pending = workflow;
        continue;
      }
      if (workflow.version <= stream.lastVersion) continue;
      stream.lastVersion = workflow.version;
      if (terminal) this.finish(stream, workflow);
      else this.write(stream, sseFrame('progress', workflow, workflow.version), 'progress');
    }
    if (toLists) this.pushToLists(workflow);
  }

  private pushToLists(workflow: WorkflowResponseDto): void {
    for (const stream of this.lists) {
      if (stream.status !== null && stream.status !== workflow.status) continue;
      this.write(stream, sseFrame('workflow', workflow), 'workflow');
    }
  }

  /**
   * After a gap in the feed: a snapshot for every workflow stream, and, for the list streams, the workflows
   * changed since shortly before the gap began.
   */
  private async resync(lostAt: Date): Promise<void> {
    if (this.streams.size === 0 || this.closing) return;
    try {
      const listIds =
        this.lists.size > 0
          ? await this.workflows.changedSince(new Date(lostAt.getTime() - GAP_MARGIN_MS), GAP_LIST_LIMIT)
          : [];
      const syncIds = [...this.bySync.keys()];
      for (let i = 0; i < syncIds.length || i < listIds.length; i += READ_BATCH) {
        const ownIds = new Set(syncIds.slice(i, i + READ_BATCH));
        const forLists = new Set(listIds.slice(i, i + READ_BATCH));
        const read = await this.workflows.responsesOf([...ownIds, ...forLists]);
        for (const workflow of read.values()) {
          if ((this.pushed.get(workflow.sync_id) ?? 0) < workflow.version) {
            remember(this.pushed, workflow.sync_id, workflow.version);
          }
          if (ownIds.has(workflow.sync_id)) this.pushSnapshot(workflow);
          if (forLists.has(workflow.sync_id)) this.pushToLists(workflow);
        }
      }
    } catch (error) {
      // The streams stay open; the next change of each workflow still reaches them.
      this.logger.error({ msg: 'Could not send fresh snapshots after a gap in the change feed', error });
    }
  }

  private pushSnapshot(workflow: WorkflowResponseDto): void {
    const terminal = isTerminalWorkflowStatus(workflow.status as WorkflowStatus);
    for (const stream of this.bySync.get(workflow.sync_id) ?? []) {
      if (!stream.ready) continue;
      this.write(stream, sseFrame('snapshot', workflow, workflow.version), 'snapshot');
      stream.lastVersion = Math.max(stream.lastVersion, workflow.version);
      if (terminal) this.finish(stream, workflow);
    }
  }
}
