import { GroupCommitter, type ItemOutcome } from './group-commit';

/** A writer whose batches finish only when the test says so. */
class ControlledWriter {
  readonly batches: number[][] = [];
  private readonly finishers: ((outcomes: ItemOutcome<string>[] | Error) => void)[] = [];
  inFlight = 0;
  maxSeenInFlight = 0;

  write = (items: readonly number[]): Promise<ItemOutcome<string>[]> => {
    this.batches.push([...items]);
    this.inFlight += 1;
    this.maxSeenInFlight = Math.max(this.maxSeenInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      this.finishers.push((outcome) => {
        this.inFlight -= 1;
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      });
    });
  };

  finishNext(outcome?: ItemOutcome<string>[] | Error): void {
    const index = this.batches.length - this.finishers.length;
    const items = this.batches[index];
    const finish = this.finishers.shift();
    if (!finish) throw new Error('no batch in flight');
    finish(outcome ?? items.map((item) => ({ ok: true, value: `stored ${item}` })));
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Lets a finished batch's bookkeeping and the next scheduled flush run. */
const settle = async () => {
  for (let i = 0; i < 3; i += 1) await turn();
};

describe('GroupCommitter', () => {
  it('writes a lone item on its own, on the next turn', async () => {
    const writer = new ControlledWriter();
    const committer = new GroupCommitter<number, string>({ maxBatch: 10, maxInFlight: 1 }, writer.write);
    const answer = committer.submit(1);
    expect(writer.batches).toEqual([]);
    await turn();
    expect(writer.batches).toEqual([[1]]);
    writer.finishNext();
    await expect(answer).resolves.toBe('stored 1');
    expect(committer.pending).toBe(0);
  });

  it('writes items that arrive while a batch is in flight together, in arrival order', async () => {
    const writer = new ControlledWriter();
    const committer = new GroupCommitter<number, string>({ maxBatch: 10, maxInFlight: 1 }, writer.write);
    const first = committer.submit(1);
    await turn();
    const later = [2, 3, 4].map((n) => committer.submit(n));
    await turn();
    expect(writer.batches).toEqual([[1]]);
    expect(committer.pending).toBe(4);
    writer.finishNext();
    await first;
    await settle();
    expect(writer.batches).toEqual([[1], [2, 3, 4]]);
    expect(committer.pending).toBe(3);
    writer.finishNext();
    await expect(Promise.all(later)).resolves.toEqual(['stored 2', 'stored 3', 'stored 4']);
  });

  it('never has more than maxInFlight batches of at most maxBatch items', async () => {
    const writer = new ControlledWriter();
    const committer = new GroupCommitter<number, string>({ maxBatch: 3, maxInFlight: 2 }, writer.write);
    const answers = Array.from({ length: 10 }, (_, n) => committer.submit(n));
    await turn();
    expect(writer.batches).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    while (writer.batches.flat().length < 10 || writer.inFlight > 0) {
      writer.finishNext();
      await settle();
    }
    expect(writer.maxSeenInFlight).toBe(2);
    expect(writer.batches.every((batch) => batch.length <= 3)).toBe(true);
    expect(writer.batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await expect(Promise.all(answers)).resolves.toHaveLength(10);
  });

  it('cuts batches by size, but always takes at least one item', async () => {
    const writer = new ControlledWriter();
    const committer = new GroupCommitter<number, string>(
      { maxBatch: 10, maxInFlight: 1, maxBatchBytes: 100, sizeOf: (n) => n },
      writer.write,
    );
    const answers = [500, 40, 40, 40, 10].map((n) => committer.submit(n));
    await turn();
    expect(writer.batches).toEqual([[500]]);
    writer.finishNext();
    await settle();
    expect(writer.batches[1]).toEqual([40, 40]);
    writer.finishNext();
    await settle();
    expect(writer.batches[2]).toEqual([40, 10]);
    writer.finishNext();
    await expect(Promise.all(answers)).resolves.toHaveLength(5);
  });

  it('gives each item its own outcome, and a failed batch its error', async () => {
    const writer = new ControlledWriter();
    const committer = new GroupCommitter<number, string>({ maxBatch: 10, maxInFlight: 1 }, writer.write);
    const a = committer.submit(1);
    const b = committer.submit(2);
    await turn();
    writer.finishNext([
      { ok: true, value: 'one' },
      { ok: false, error: new Error('two refused') },
    ]);
    await expect(a).resolves.toBe('one');
    await expect(b).rejects.toThrow('two refused');

    const c = committer.submit(3);
    const d = committer.submit(4);
    await turn();
    writer.finishNext(new Error('database gone'));
    await expect(c).rejects.toThrow('database gone');
    await expect(d).rejects.toThrow('database gone');

    // A failure leaves the committer usable.
    await settle();
    const e = committer.submit(5);
    await turn();
    writer.finishNext();
    await expect(e).resolves.toBe('stored 5');
  });
});
