/** The outcome of one item of a batch: its own result or its own error. */
export type ItemOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface GroupCommitOptions<T> {
  /** Most items in one batch. */
  maxBatch: number;
  /** Most batches being written at once (each holds one database connection). */
  maxInFlight: number;
  /** Optional: most summed `sizeOf` per batch (a batch always takes at least one item). */
  maxBatchBytes?: number;
  sizeOf?: (item: T) => number;
}

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: callers submit one item each and wait for it to be durably written; items submitted while
 * earlier batches are still being written are written together, in one statement and one commit. Nothing waits
 * on a timer: an item submitted to an idle committer is written on the next turn of the event loop, so batching
 * only happens under concurrency, where it removes most per-item round trips and commits.
 *
 * `writeBatch` answers one outcome per item, in order; if it throws, every item of that batch gets the error.
 * The queue only holds callers that have not been answered yet, so no state outlives a request (a crash loses
 * nothing that was acknowledged).
 */
export class GroupCommitter<T, R> {
  private readonly queue: Waiting<T, R>[] = [];
  /** Batches being written, and the items in them. */
  private inFlight = 0;
  private itemsInFlight = 0;
  private scheduled = false;

  constructor(
    private readonly options: GroupCommitOptions<T>,
    private readonly writeBatch: (items: readonly T[]) => Promise<ItemOutcome<R>[]>,
  ) {
    if (options.maxBatch < 1 || options.maxInFlight < 1)
      throw new Error('maxBatch and maxInFlight must be ≥ 1');
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items submitted and not yet answered (queued or being written). */
  get pending(): number {
    return this.queue.length + this.itemsInFlight;
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    // One turn later, so that requests read in the same I/O phase share a batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.take();
      this.inFlight += 1;
      this.itemsInFlight += batch.length;
      void this.write(batch).finally(() => {
        this.inFlight -= 1;
        this.itemsInFlight -= batch.length;
        this.schedule();
      });
    }
  }

  private take(): Waiting<T, R>[] {
    const { maxBatch, maxBatchBytes, sizeOf } = this.options;
    if (maxBatchBytes === undefined || sizeOf === undefined) return this.queue.splice(0, maxBatch);
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < maxBatch) {
      bytes += sizeOf(this.queue[count].item);
      if (count > 0 && bytes > maxBatchBytes) break;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  private async write(batch: Waiting<T, R>[]): Promise<void> {
    let outcomes: ItemOutcome<R>[];
    try {
      outcomes = await this.writeBatch(batch.map((w) => w.item));
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) waiting.reject(new Error('group commit: no outcome for an item'));
      else if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}
