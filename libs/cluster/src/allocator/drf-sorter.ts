/** What a {@link DrfSorter} orders: a role among roles, or a framework within one role. */
export interface SorterClient {
  /** Unique within one sorter; breaks ties so that the order never depends on insertion. */
  readonly name: string;
  /** The (weighted) dominant share; lowest goes first. Changed through `rekey` while in a sorter. */
  key: number;
  /** Where the client sits in the sorter's heap, -1 outside it. Only the sorter writes it. */
  sorterIndex: number;
}

/**
 * Clients in allocation order: lowest key first, ties by name (code-unit order, so it does not
 * depend on the locale). A binary heap, because an allocation changes one client's key at a time:
 * moving it costs O(log n) where a sorted array would shift most of the role's frameworks, twice
 * per offer (once when it is made, once when it comes back). {@link find} walks the heap in order
 * without popping, so the allocator can pass over the frameworks that declined one agent and
 * leave the order as it was.
 */
export class DrfSorter<T extends SorterClient> {
  private readonly heap: T[] = [];
  /** While set, keys are about to change wholesale and the heap property does not hold. */
  private unordered = false;

  get size(): number {
    return this.heap.length;
  }

  has(client: T): boolean {
    return this.heap[client.sorterIndex] === client;
  }

  insert(client: T): void {
    if (this.has(client)) throw new Error(`sorter already holds "${client.name}"`);
    client.sorterIndex = this.heap.length;
    this.heap.push(client);
    if (!this.unordered) this.siftUp(client.sorterIndex);
  }

  remove(client: T): void {
    if (!this.has(client)) throw new Error(`sorter does not hold "${client.name}"`);
    const index = client.sorterIndex;
    const last = this.heap.pop();
    client.sorterIndex = -1;
    if (last === undefined || last === client) return;
    this.place(last, index);
    if (!this.unordered) this.siftDown(this.siftUp(index));
  }

  /** Gives `client` a new key and moves it to where that key belongs. */
  rekey(client: T, key: number): void {
    if (!this.has(client)) throw new Error(`sorter does not hold "${client.name}"`);
    client.key = key;
    if (!this.unordered) this.siftDown(this.siftUp(client.sorterIndex));
  }

  /**
   * The first client in allocation order that `accept`s, or undefined. Walks best-first: a small
   * frontier of heap positions, so k rejected clients cost O(k log k) and the heap is untouched.
   * `accept` must not change this sorter.
   */
  find(accept: (client: T) => boolean): T | undefined {
    this.reorder();
    const heap = this.heap;
    const root = heap[0];
    if (root === undefined || accept(root)) return root;
    const frontier = new PositionHeap(heap);
    frontier.push(1);
    frontier.push(2);
    for (let index = frontier.pop(); index >= 0; index = frontier.pop()) {
      const client = heap[index] as T;
      if (accept(client)) return client;
      frontier.push(2 * index + 1);
      frontier.push(2 * index + 2);
    }
    return undefined;
  }

  /** A sorted copy, for inspection; the allocator itself only ever needs {@link find}. */
  ordered(): T[] {
    this.reorder();
    return [...this.heap].sort(compare);
  }

  /**
   * For when every key is about to change (the cluster's totals moved): stop keeping the order
   * until {@link reorder}, rather than paying a move per client.
   */
  invalidate(): void {
    this.unordered = true;
  }

  /** Restores the order after {@link invalidate}, in O(n). */
  reorder(): void {
    if (!this.unordered) return;
    this.unordered = false;
    for (let index = (this.heap.length >>> 1) - 1; index >= 0; index--) this.siftDown(index);
  }

  private siftUp(start: number): number {
    const heap = this.heap;
    const client = heap[start] as T;
    let index = start;
    while (index > 0) {
      const parentIndex = (index - 1) >>> 1;
      const parent = heap[parentIndex] as T;
      if (compare(parent, client) <= 0) break;
      this.place(parent, index);
      index = parentIndex;
    }
    if (index !== start) this.place(client, index);
    return index;
  }

  private siftDown(start: number): number {
    const heap = this.heap;
    const length = heap.length;
    const client = heap[start] as T;
    let index = start;
    for (;;) {
      let childIndex = 2 * index + 1;
      if (childIndex >= length) break;
      let child = heap[childIndex] as T;
      const right = heap[childIndex + 1];
      if (right !== undefined && compare(right, child) < 0) {
        childIndex += 1;
        child = right;
      }
      if (compare(child, client) >= 0) break;
      this.place(child, index);
      index = childIndex;
    }
    if (index !== start) this.place(client, index);
    return index;
  }

  private place(client: T, index: number): void {
    this.heap[index] = client;
    client.sorterIndex = index;
  }
}

/** Positions of a heap's clients, ordered like the clients: the frontier of a best-first walk. */
class PositionHeap<T extends SorterClient> {
  private readonly positions: number[] = [];

  constructor(private readonly clients: readonly T[]) {}

  /** Ignores positions past the end, so callers can push both children unchecked. */
  push(position: number): void {
    if (position >= this.clients.length) return;
    const positions = this.positions;
    let index = positions.length;
    positions.push(position);
    while (index > 0) {
      const parentIndex = (index - 1) >>> 1;
      const parent = positions[parentIndex] as number;
      if (this.compare(parent, position) <= 0) break;
      positions[index] = parent;
      index = parentIndex;
    }
    positions[index] = position;
  }

  /** The position of the lowest client, or -1 when empty. */
  pop(): number {
    const positions = this.positions;
    const top = positions[0];
    const last = positions.pop();
    if (top === undefined || last === undefined) return -1;
    if (positions.length === 0) return top;
    let index = 0;
    for (;;) {
      let childIndex = 2 * index + 1;
      if (childIndex >= positions.length) break;
      const right = childIndex + 1;
      if (
        right < positions.length &&
        this.compare(positions[right] as number, positions[childIndex] as number) < 0
      ) {
        childIndex = right;
      }
      const child = positions[childIndex] as number;
      if (this.compare(child, last) >= 0) break;
      positions[index] = child;
      index = childIndex;
    }
    positions[index] = last;
    return top;
  }

  private compare(a: number, b: number): number {
    return compare(this.clients[a] as T, this.clients[b] as T);
  }
}

function compare(a: SorterClient, b: SorterClient): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.name === b.name) return 0;
  return a.name < b.name ? -1 : 1;
}
