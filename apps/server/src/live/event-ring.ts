import { randomBytes } from 'node:crypto';

export interface RingEntry<T> {
  /** `<epoch>-<seq>`: what a client sends back as `Last-Event-ID`. */
  id: string;
  seq: number;
  value: T;
}

/**
 * The last `capacity` events of this server process, numbered in the order they arrived. An id
 * carries the process's epoch (random per start), so an id from before a restart, or from another
 * replica behind the same load balancer, is recognized as unknown rather than mistaken for a
 * position here: the client is told to start over instead.
 */
export class EventRing<T> {
  private readonly entries: RingEntry<T>[] = [];
  private seq = 0;

  constructor(
    private readonly capacity: number,
    readonly epoch: string = randomBytes(4).toString('hex'),
  ) {
    if (capacity < 1) throw new Error(`an event ring holds at least one event (got ${capacity})`);
  }

  /** The id of the newest event (or of the start, before any): resuming there misses nothing. */
  get headId(): string {
    return `${this.epoch}-${this.seq}`;
  }

  append(value: T): RingEntry<T> {
    this.seq += 1;
    const entry = { id: `${this.epoch}-${this.seq}`, seq: this.seq, value };
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.shift();
    return entry;
  }

  /**
   * The events after `lastId`, oldest first; undefined when that cannot be known: the id is
   * malformed, of another epoch, from the future, or older than the oldest event kept.
   */
  since(lastId: string): RingEntry<T>[] | undefined {
    const match = /^([0-9a-f]+)-(\d{1,15})$/.exec(lastId);
    if (match?.[1] !== this.epoch) return undefined;
    const seq = Number(match[2]);
    if (seq > this.seq) return undefined;
    const oldest = this.entries[0]?.seq ?? this.seq + 1;
    // Events seq+1 … oldest-1 have been dropped: what the client missed is unknown.
    if (seq + 1 < oldest) return undefined;
    return this.entries.filter((entry) => entry.seq > seq);
  }
}
