import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `v1`: one hierarchy per controller, mounted at `<root>/<controller>`. `v2`: one unified
 * hierarchy at `<root>`, whose controllers a parent hands down through `cgroup.subtree_control`.
 */
export type CgroupVersion = 'v1' | 'v2';

/** The v1 hierarchies a task's cgroup is made in: the limits' and the freezer, to kill with. */
export type V1Hierarchy = 'cpu' | 'cpuacct' | 'memory' | 'pids' | 'freezer';

/** How long a cgroup still busy with exiting processes is retried before `rmdir` gives up. */
const RMDIR_PATIENCE_MS = 5_000;
/** How long a v1 freezer may take to report FROZEN before the processes are killed anyway. */
const FREEZE_PATIENCE_MS = 1_000;
const POLL_MS = 20;

/**
 * One task's cgroup, `<parent>/<containerId>`, in every hierarchy it lives in: the files of the
 * controllers go through it so that they need not know which version the host has, and so that a
 * test can point `root` at a fake directory tree.
 */
export class TaskCgroup {
  constructor(
    readonly version: CgroupVersion,
    /** Where the hierarchies are mounted: `/sys/fs/cgroup` on a real host. */
    readonly root: string,
    /** The cgroup's path inside each hierarchy, e.g. `kiln/<containerId>`. */
    readonly path: string,
    /** The v1 hierarchies it is made in; ignored for v2. */
    readonly hierarchies: readonly V1Hierarchy[],
  ) {}

  /** The cgroup's directory in `hierarchy` (v1) or in the unified hierarchy (v2). */
  dir(hierarchy: V1Hierarchy): string {
    return this.version === 'v2'
      ? join(this.root, this.path)
      : join(this.root, hierarchy, this.path);
  }

  /** Every directory of the cgroup, one per hierarchy. */
  dirs(): string[] {
    if (this.version === 'v2') return [join(this.root, this.path)];
    return this.hierarchies.map((hierarchy) => this.dir(hierarchy));
  }

  /** The `cgroup.procs` files a process writes its pid into to join the cgroup everywhere. */
  procsFiles(): string[] {
    return this.dirs().map((dir) => join(dir, 'cgroup.procs'));
  }

  async read(hierarchy: V1Hierarchy, file: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.dir(hierarchy), file), 'utf8');
    } catch {
      return undefined;
    }
  }

  async write(hierarchy: V1Hierarchy, file: string, value: string): Promise<void> {
    await writeFile(join(this.dir(hierarchy), file), value);
  }

  async exists(): Promise<boolean> {
    const found = await Promise.all(
      this.dirs().map((dir) =>
        stat(dir).then(
          () => true,
          () => false,
        ),
      ),
    );
    return found.some(Boolean);
  }

  /** The pids in the cgroup (of every hierarchy: a root task could move between them). */
  async processes(): Promise<number[]> {
    const pids = new Set<number>();
    for (const dir of this.dirs()) {
      let text: string;
      try {
        text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (/^\d+$/.test(line)) pids.add(Number(line));
    }
    return [...pids];
  }

  /** Sends `signal` to every process now in the cgroup; one that forks meanwhile may miss it. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    for (const pid of await this.processes()) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone already.
      }
    }
  }

  /**
   * SIGKILLs everything in the cgroup without a race against forks: v2 has `cgroup.kill` for that
   * (Linux 5.14); elsewhere the cgroup is frozen first, so nothing can fork while its processes are
   * killed, then thawed so that the kills take effect.
   */
  async killAll(): Promise<void> {
    if (this.version === 'v2') {
      const dir = join(this.root, this.path);
      try {
        await writeFile(join(dir, 'cgroup.kill'), '1');
        return;
      } catch {
        // An older kernel: freeze with cgroup.freeze below.
      }
      await this.freezeAndKill(
        () => writeFile(join(dir, 'cgroup.freeze'), '1'),
        async () => (await readFile(join(dir, 'cgroup.events'), 'utf8')).includes('frozen 1'),
        () => writeFile(join(dir, 'cgroup.freeze'), '0'),
      );
      return;
    }
    await this.freezeAndKill(
      () => this.write('freezer', 'freezer.state', 'FROZEN'),
      async () => (await this.read('freezer', 'freezer.state'))?.trim() === 'FROZEN',
      () => this.write('freezer', 'freezer.state', 'THAWED'),
    );
  }

  private async freezeAndKill(
    freeze: () => Promise<void>,
    frozen: () => Promise<boolean>,
    thaw: () => Promise<void>,
  ): Promise<void> {
    let froze = false;
    try {
      await freeze();
      froze = true;
      const deadline = Date.now() + FREEZE_PATIENCE_MS;
      while (!(await frozen().catch(() => true)) && Date.now() < deadline) await sleep(POLL_MS);
    } catch {
      // No freezer (the cgroup is gone, or the kernel has none): kill what can be killed.
    }
    await this.signal('SIGKILL');
    if (froze) await thaw().catch(() => undefined);
  }

  /**
   * Removes the cgroup from every hierarchy; a cgroup that is gone already is fine. Processes that
   * have been killed may hold it busy for a moment while they exit, hence the retries.
   */
  async remove(): Promise<void> {
    const deadline = Date.now() + RMDIR_PATIENCE_MS;
    for (const dir of this.dirs()) {
      for (;;) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || Date.now() > deadline) throw error;
          await sleep(POLL_MS);
        }
      }
    }
  }
}

/**
 * What a wait for a file or directory to change sleeps on: an inotify watch where one can be had,
 * so that the wait ends when the change comes, else a poll. A change between two waits is kept
 * for the next one, so none is lost while the caller reads. A wake-up says "look", not what
 * changed: the caller reads again after each wait.
 */
export class Changes {
  private readonly watcher: FSWatcher | undefined;
  /** A change the next wait has not seen yet. */
  private changed = false;
  private wake: (() => void) | undefined;

  constructor(
    /** What to watch; none: every wait is a poll. */
    path: string | undefined,
    /** How long a wait lasts without a watch. */
    private readonly pollMs: number,
    /** How long a wait lasts at most with one, for what no event tells. */
    private readonly watchedMs: number,
  ) {
    if (path === undefined) return;
    try {
      this.watcher = watch(path, () => {
        this.changed = true;
        this.wake?.();
      });
      // Once it fails (what it watched removed under it), waits time out as polls do.
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // It is gone already, or inotify is exhausted: polls it is.
    }
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  /**
   * Resolves on the next change (at once if there was one since the last wait), or after a
   * poll's time, but never later than `until` (epoch milliseconds).
   */
  async next(until = Infinity): Promise<void> {
    const wait = this.watching ? this.watchedMs : this.pollMs;
    const ms = Math.max(0, Math.min(wait, until - Date.now()));
    if (!this.changed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.changed = false;
  }

  close(): void {
    this.watcher?.close();
  }
}

/**
 * What a wait for a cgroup to empty sleeps on. cgroup v2 says when it empties: the kernel
 * notifies a change of `cgroup.events` when its `populated` flips, so the wait ends then, not at
 * a poll. v1 has nothing of the kind for one cgroup (`notify_on_release` runs one program for the
 * whole host), so there, and wherever the file cannot be watched, the wait is a poll.
 */
export class CgroupChanges extends Changes {
  constructor(cgroup: TaskCgroup, pollMs: number, watchedMs: number) {
    const events = join(cgroup.dir('pids'), 'cgroup.events');
    super(cgroup.version === 'v2' ? events : undefined, pollMs, watchedMs);
  }
}

/** The names of the cgroups under `parent` in any of `hierarchyDirs`: one per container. */
export async function listChildCgroups(parentDirs: readonly string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const dir of parentDirs) {
    try {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) names.add(entry.name);
      }
    } catch {
      // No parent cgroup in this hierarchy yet: no children either.
    }
  }
  return [...names];
}

/**
 * Enables `controllers` for the children of every level of `parent` under a v2 `root`, making
 * the levels as needed: only the ones not yet enabled are written, since a write may fail for a
 * controller already in use below while being a no-op for the others.
 */
export async function enableControllers(
  root: string,
  parent: string,
  controllers: readonly string[],
): Promise<void> {
  let dir = root;
  for (const level of parent.split('/')) {
    dir = join(dir, level);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'cgroup.subtree_control');
    const enabled = (await readFile(file, 'utf8').catch(() => '')).split(/\s+/);
    const missing = controllers.filter((name) => !enabled.includes(name));
    if (missing.length > 0) await writeFile(file, missing.map((name) => `+${name}`).join(' '));
  }
}
