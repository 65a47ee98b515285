export interface RecordingBatchesOptions {
  /** At most this many recordings share a transaction. */
  maxSize: number;
  /** At most this many transactions at once; recordings arriving meanwhile wait and join up. */
  maxInFlight: number;
}

interface Pending<Item, Result> {
  recording: Item;
  resolve: (recorded: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers the recordings started in one turn of the event loop (the task updates that came in
 * one read of the master's stream, the webhooks that came at once, and those that came while the
 * transactions before them were busy) into one call of `write`, so they commit once instead of
 * once each. `write` answers each recording (`Item`) with its `Result`, in order.
 *
 * A batch that fails is written again one recording at a time, one after the other: a single
 * recording that cannot be made must not keep the others of its batch from committing. `write`
 * must commit all of a batch or none of it, so writing one again is safe.
 */
export class RecordingBatches<Item, Result> {
  private waiting: Pending<Item, Result>[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    private readonly write: (recordings: ReadonlyArray<Item>) => Promise<Result[]>,
    private readonly options: RecordingBatchesOptions,
  ) {}

  /** Resolves once the recording has committed (with its batch); rejects if it cannot. */
  submit(recording: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.waiting.push({ recording, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.waiting.length === 0) return;
    if (this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    // After the current turn: every update of the burst being dispatched joins this batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.waiting.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.waiting.splice(0, this.options.maxSize);
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }

  private async run(batch: Pending<Item, Result>[]): Promise<void> {
    try {
      const written = await this.write(batch.map((pending) => pending.recording));
      batch.forEach((pending, i) => {
        const recorded = written[i];
        if (recorded === undefined) pending.reject(new Error('a recording got no answer'));
        else pending.resolve(recorded);
      });
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      for (const pending of batch) {
        try {
          const [recorded] = await this.write([pending.recording]);
          if (recorded === undefined) throw new Error('a recording got no answer');
          pending.resolve(recorded);
        } catch (alone: unknown) {
          pending.reject(alone);
        }
      }
    }
  }
}
