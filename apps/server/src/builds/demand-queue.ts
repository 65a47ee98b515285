/** What the queue needs of a demand: its task's id and size, and whether it runs an image. */
export interface ShapedDemand {
  readonly task: {
    readonly taskId: string;
    readonly resources: { readonly cpus: number; readonly mem: number; readonly disk?: number };
  };
  /** Set: the task runs in a container image (Docker); unset: a plain command. */
  readonly image: string | undefined;
}

/** What an offer brings that matching looks at. */
export interface OfferedRoom {
  readonly resources: { readonly cpus: number; readonly mem: number };
  readonly containerizers: readonly string[];
}

interface Entry<D> {
  demand: D;
  /** Arrival order: demands are matched oldest first, whatever their shape. */
  seq: number;
  group: Shape<D>;
  /** An offer is being accepted for it: not offered to another meanwhile. */
  placing: boolean;
}

/** The demands of one shape (size and kind of containerizer) that wait, oldest first. */
interface Shape<D> {
  key: string;
  cpus: number;
  mem: number;
  image: boolean;
  waiting: Entry<D>[];
}

/** Floating-point dust: 0.1 + 0.2 cpus fit into 0.3 (as the cluster's own arithmetic has it). */
const EPSILON = 1e-9;

/**
 * The demands waiting for offers, indexed by shape so an offer is matched without looking at
 * every demand: first fit, oldest demand first, on what the offer has. Within a shape demands
 * wait in arrival order; across shapes the oldest head goes first. A shape that does not fit is
 * dropped for the rest of the offer (what is left of it only shrinks), so one offer costs a look
 * at each shape plus each demand it takes, however many of one shape wait.
 *
 * Chooses exactly what taking every waiting demand in arrival order, when it fits, would choose
 * (the spec checks it against that naive model). Pure, with no I/O.
 */
export class DemandQueue<D extends ShapedDemand> {
  private readonly entries = new Map<string, Entry<D>>();
  private readonly shapes = new Map<string, Shape<D>>();
  private nextSeq = 0;

  /** Every demand, those being placed included. */
  get size(): number {
    return this.entries.size;
  }

  get(taskId: string): D | undefined {
    return this.entries.get(taskId)?.demand;
  }

  values(): D[] {
    return [...this.entries.values()].map((entry) => entry.demand);
  }

  /** Queues a demand; one for a task already queued takes its place (and its turn). */
  add(demand: D): void {
    const taskId = demand.task.taskId;
    const previous = this.entries.get(taskId);
    if (previous !== undefined) this.delete(taskId);
    const entry: Entry<D> = {
      demand,
      seq: previous?.seq ?? this.nextSeq++,
      group: this.shapeOf(demand),
      placing: false,
    };
    this.entries.set(taskId, entry);
    insertInOrder(entry.group.waiting, entry);
  }

  delete(taskId: string): boolean {
    const entry = this.entries.get(taskId);
    if (entry === undefined) return false;
    this.entries.delete(taskId);
    if (!entry.placing) {
      removeFrom(entry.group.waiting, entry);
      this.forgetIfEmpty(entry.group);
    }
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.shapes.clear();
  }

  /**
   * The demands `offer` takes, marked as being placed: offered to no other offer until they are
   * deleted (launched, dropped) or released (the master refused the ACCEPT).
   */
  match(offer: OfferedRoom): D[] {
    let cpus = offer.resources.cpus;
    let mem = offer.resources.mem;
    const runsImages = offer.containerizers.includes('docker');
    const runsPlain = offer.containerizers.some((c) => c === 'cgroup' || c === 'process');
    // Each shape that may still fit, with how many of its demands this offer has taken.
    const open = new Map<Shape<D>, number>();
    for (const shape of this.shapes.values()) {
      if (shape.waiting.length > 0 && (shape.image ? runsImages : runsPlain)) open.set(shape, 0);
    }
    const chosen: Entry<D>[] = [];
    for (;;) {
      // The oldest head among the open shapes: shapes are few, so a scan beats a heap.
      let next: Shape<D> | undefined;
      let nextSeq = Infinity;
      for (const [shape, taken] of open) {
        const head = shape.waiting[taken];
        if (head !== undefined && head.seq < nextSeq) {
          next = shape;
          nextSeq = head.seq;
        }
      }
      if (next === undefined) break;
      const taken = open.get(next) ?? 0;
      if (next.cpus > cpus + EPSILON || next.mem > mem) {
        open.delete(next);
        continue;
      }
      cpus -= next.cpus;
      mem -= next.mem;
      const entry = next.waiting[taken];
      if (entry !== undefined) chosen.push(entry);
      if (taken + 1 < next.waiting.length) open.set(next, taken + 1);
      else open.delete(next);
    }
    for (const entry of chosen) {
      entry.placing = true;
      // Taken from the head of their shape, in order.
      entry.group.waiting.shift();
      this.forgetIfEmpty(entry.group);
    }
    return chosen.map((entry) => entry.demand);
  }

  /** A demand whose placing failed waits again, in its old turn. */
  release(taskId: string): void {
    const entry = this.entries.get(taskId);
    if (entry === undefined || !entry.placing) return;
    entry.placing = false;
    // Its shape may have been forgotten meanwhile.
    entry.group = this.shapeOf(entry.demand);
    insertInOrder(entry.group.waiting, entry);
  }

  /** Shapes come and go with jobs' sizes: one nobody waits in is not kept. */
  private forgetIfEmpty(shape: Shape<D>): void {
    if (shape.waiting.length === 0) this.shapes.delete(shape.key);
  }

  private shapeOf(demand: D): Shape<D> {
    const { cpus, mem, disk } = demand.task.resources;
    const image = demand.image !== undefined;
    const key = `${cpus}:${mem}:${disk ?? 0}:${image ? 'image' : 'plain'}`;
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      shape = { key, cpus, mem, image, waiting: [] };
      this.shapes.set(key, shape);
    }
    return shape;
  }
}

/** Where `seq` goes in a list sorted by it (binary search). */
function indexOf<D>(list: readonly Entry<D>[], seq: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((list[middle]?.seq ?? Infinity) < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}

function insertInOrder<D>(list: Entry<D>[], entry: Entry<D>): void {
  list.splice(indexOf(list, entry.seq), 0, entry);
}

function removeFrom<D>(list: Entry<D>[], entry: Entry<D>): void {
  const at = indexOf(list, entry.seq);
  if (list[at] === entry) list.splice(at, 1);
}
