import { errorMessage } from '@kiln/common';
import { randomBytes } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/*
 * Containers made ahead of their tasks: most of a native container's start (runc, its namespaces
 * and mounts, the network and its helper) is the same for every task of one shape, and takes
 * tens of program starts. A warm container is made, its first process waiting for the agent's
 * word, with nothing of any task in it; a task of its shape then takes it, its sandbox renamed
 * to the task's, its command delivered, the word given. Each is used once.
 */

/** What a container is made with, before its task is known: tasks of one shape share it. */
export interface ContainerShape {
  network: 'private' | 'none' | 'host';
  /** The task's CPU share, 0 for none: the cgroup's quota. */
  cpus: number;
  /** The task's memory in MiB, 0 for none: the cgroup's limit and the size of its `/tmp`. */
  memMiB: number;
}

export function sameShape(a: ContainerShape, b: ContainerShape): boolean {
  return a.network === b.network && a.cpus === b.cpus && a.memMiB === b.memMiB;
}

/** A container made ahead of its task, its first process waiting for the agent's word. */
export interface WarmContainer {
  /** Its name to runc and its cgroups, which it keeps for life. */
  runcId: string;
  /** Where its sandbox is: its own under the warm directory, the task's once taken. */
  sandbox: string;
  shape: ContainerShape;
}

export interface WarmContainersOptions<W extends WarmContainer> {
  /**
   * How many warm containers to keep, of the shape of the last task that could have taken one;
   * 0 keeps none.
   */
  count: number;
  /**
   * Where their sandboxes are made: on the file system of the agent's sandboxes, which they are
   * renamed into.
   */
  dir: string;
  /** Makes a container of the shape, waiting for a task, its sandbox (made empty) at `sandbox`. */
  make: (runcId: string, sandbox: string, shape: ContainerShape) => Promise<W>;
  /** Undoes one no task took (or whose task never launched), its sandbox included. */
  discard: (container: W) => Promise<void>;
  /** Told what failed, where nothing else would be: a failed making is only a cold start later. */
  warn: (message: string) => void;
  /**
   * How long after a task's start the pool is filled again at the latest, should the task still
   * run: a making beside a task's start slows it, so it waits for the task's end till then.
   */
  refillAfterMs?: number;
}

const DEFAULT_REFILL_AFTER_MS = 1_000;

/**
 * The warm containers of one containerizer: made for the shape tasks last had, taken by a task of
 * that shape ({@link take}), then claimed by its launch ({@link claim}).
 */
export class WarmContainers<W extends WarmContainer> {
  private readonly ready: W[] = [];
  private readonly taken = new Map<string, W>();
  /** The makings under way, each settled once its container is ready or discarded. */
  private readonly making = new Set<Promise<unknown>>();
  /** The runc ids of the containers made or being made, until taken or discarded. */
  private readonly names = new Set<string>();
  private shape: ContainerShape | undefined;
  private refill: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: WarmContainersOptions<W>) {}

  /**
   * Gives the task (its container id) a warm container of its shape, if one waits: renames the
   * container's sandbox to `sandbox`, which must not exist yet (or be an empty directory).
   * Undefined, and nothing changed, when none can be given.
   */
  async take(containerId: string, sandbox: string, shape: ContainerShape): Promise<W | undefined> {
    const index = this.ready.findIndex((container) => sameShape(container.shape, shape));
    const container = this.ready[index];
    if (container === undefined || this.taken.has(containerId)) return undefined;
    this.ready.splice(index, 1);
    try {
      await mkdir(dirname(sandbox), { recursive: true });
      await rename(container.sandbox, sandbox);
    } catch (error) {
      // A sandbox already there (a task launched again), or on another file system.
      this.options.warn(
        `a warm container could not become ${containerId}'s: ${errorMessage(error)}`,
      );
      // Kept for the next task, unless the pool was closed meanwhile.
      if (this.closed) await this.discard(container);
      else this.ready.push(container);
      return undefined;
    }
    container.sandbox = sandbox;
    this.names.delete(container.runcId);
    this.taken.set(containerId, container);
    return container;
  }

  /** The warm container the task took, handed to its launch; each is claimed once. */
  claim(containerId: string): W | undefined {
    const container = this.taken.get(containerId);
    this.taken.delete(containerId);
    return container;
  }

  /**
   * A task of this shape has started, or could have started in a warm container: the pool is
   * filled with this shape once `ended` settles, or {@link refillAfterMs} from now if sooner.
   * Containers of another shape are discarded.
   */
  wanted(shape: ContainerShape, ended?: Promise<unknown>): void {
    if (this.options.count <= 0 || this.closed) return;
    if (this.shape === undefined || !sameShape(this.shape, shape)) {
      this.shape = shape;
      for (const stale of this.ready.splice(0)) void this.discard(stale);
    }
    const fill = () => {
      clearTimeout(this.refill);
      this.refill = undefined;
      this.fill();
    };
    if (this.refill === undefined) {
      this.refill = setTimeout(fill, this.options.refillAfterMs ?? DEFAULT_REFILL_AFTER_MS);
      // Never what keeps the agent alive.
      this.refill.unref();
    }
    void ended?.then(fill, fill);
  }

  /** How many containers wait for a task now, made. */
  get waiting(): number {
    return this.ready.length;
  }

  /** Whether a container of this name (its runc id) is one of this pool's, made or being made. */
  holds(runcId: string): boolean {
    return this.names.has(runcId);
  }

  /**
   * Discards every warm container, those being made once they are, and makes none again; those
   * taken are their launches'.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refill);
    await Promise.all([
      ...this.ready.splice(0).map((container) => this.discard(container)),
      ...this.making,
    ]);
  }

  private fill(): void {
    const shape = this.shape;
    if (shape === undefined || this.closed) return;
    while (this.ready.length + this.making.size < this.options.count) {
      const runcId = `warm-${randomBytes(8).toString('hex')}`;
      this.names.add(runcId);
      const making: Promise<unknown> = this.options
        .make(runcId, join(this.options.dir, runcId), shape)
        .then(
          (container) => {
            if (this.closed || this.shape === undefined || !sameShape(this.shape, shape)) {
              return this.discard(container);
            }
            this.ready.push(container);
            return undefined;
          },
          (error: unknown) => {
            this.names.delete(runcId);
            this.options.warn(`a warm container failed: ${errorMessage(error)}`);
          },
        )
        .finally(() => this.making.delete(making));
      this.making.add(making);
    }
  }

  private async discard(container: W): Promise<void> {
    this.names.delete(container.runcId);
    await this.options.discard(container).catch((error: unknown) => {
      this.options.warn(
        `discarding warm container ${container.runcId} failed: ${errorMessage(error)}`,
      );
    });
  }
}
