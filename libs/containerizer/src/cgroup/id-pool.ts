import type { IdRange } from './bundle';

/** The highest id a user namespace may map: `(uid_t)-1` is "no id", and 65534 stays nobody. */
const MAX_HOST_ID = 2 ** 32 - 2;

/** Each task's range (as many ids as `/etc/subuid` hands a user), and how many tasks at most. */
export const TASK_ID_RANGES = { size: 65_536, count: 1_024 } as const;

export interface IdPoolOptions {
  /** The first host id of the first range. */
  firstHostId: number;
  /** How many ids each container maps (its ids 0 … size - 1). */
  size: number;
  /** How many ranges there are: as many containers can run at once. */
  count: number;
}

/**
 * Host id ranges for containers, each live container its own: two tasks running at once are
 * different host users, so what the kernel counts or shares per user (inotify instances, keys,
 * process counts, files on a filesystem both could reach after an escape) is never shared between
 * builds. A range is held from the launch until the container is removed, and taken back from the
 * checkpoint after an agent restart.
 */
export class IdPool {
  private readonly slots = new Map<string, number>();
  private readonly taken = new Set<number>();

  constructor(private readonly options: IdPoolOptions) {
    const { firstHostId, size, count } = options;
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new Error(`id pool: ${name} must be a positive integer (got ${value})`);
      }
    }
    const last = firstHostId + size * count - 1;
    if (last > MAX_HOST_ID) {
      throw new Error(
        `id pool: ${count} ranges of ${size} ids from ${firstHostId} end at ${last}, ` +
          `past the highest host id ${MAX_HOST_ID}`,
      );
    }
  }

  /** The container's range: the one it holds, or the lowest free one. */
  take(containerId: string): IdRange {
    let slot = this.slots.get(containerId);
    if (slot === undefined) {
      slot = 0;
      while (this.taken.has(slot)) slot += 1;
      if (slot >= this.options.count) {
        throw new Error(
          `all ${this.options.count} host id ranges are held by running containers ` +
            '(more tasks at once than the agent has id ranges for)',
        );
      }
      this.hold(containerId, slot);
    }
    return this.rangeOf(slot);
  }

  /**
   * A recovered container's range, from the first host id it was launched with: false when that is
   * no range of this pool, or another container holds it (then the container keeps running with
   * it, but no new one is given it while this one holds nothing).
   */
  reclaim(containerId: string, hostId: number): boolean {
    const offset = hostId - this.options.firstHostId;
    const slot = offset / this.options.size;
    if (!Number.isSafeInteger(slot) || slot < 0 || slot >= this.options.count) return false;
    const holder = [...this.slots].find(([, held]) => held === slot)?.[0];
    if (holder !== undefined && holder !== containerId) return false;
    this.hold(containerId, slot);
    return true;
  }

  /**
   * The range `from` holds is held by `to` from now on (a container made ahead of its task, which
   * it now runs under the task's id); a no-op if `from` holds none. `to` must hold none.
   */
  rename(from: string, to: string): void {
    const slot = this.slots.get(from);
    if (slot === undefined) return;
    if (this.slots.has(to)) throw new Error(`id pool: ${to} already holds a range`);
    this.slots.delete(from);
    this.slots.set(to, slot);
  }

  /** The container is gone: its range may be given to the next. */
  free(containerId: string): void {
    const slot = this.slots.get(containerId);
    if (slot === undefined) return;
    this.slots.delete(containerId);
    this.taken.delete(slot);
  }

  private hold(containerId: string, slot: number): void {
    this.slots.set(containerId, slot);
    this.taken.add(slot);
  }

  private rangeOf(slot: number): IdRange {
    return { hostId: this.options.firstHostId + slot * this.options.size, size: this.options.size };
  }
}
