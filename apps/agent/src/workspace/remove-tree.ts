import { runProgram } from '@kiln/common';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Trees removed by one `rm`, at most: its command line stays short. */
const TREES_PER_RM = 64;

interface Removal {
  path: string;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** How long a tree to remove waits for others to go with it. */
const GATHER_MS = 1_000;

/** Trees waiting for the next `rm`; they go together. */
let waiting: Removal[] = [];
let removing = false;

/**
 * Removes the directory tree at `path`, whatever the build left in it, with coreutils' `rm`.
 * Node's recursive `rm` would do it in the agent: it lists each directory whole, and starts the
 * removal of all its entries at once, in the agent's memory (a directory of 40,000 long names
 * takes more than 24 MiB of heap; of millions, more than the agent has, so it dies, and again at
 * its restart, when it removes the sandboxes left behind), and it gives up (ENAMETOOLONG) on a
 * tree deeper than a path can be long. `rm` walks by directory handles, reads a directory a
 * batch at a time, and its memory is not the agent's. `--one-file-system` leaves anything
 * mounted inside alone. It starts from the agent's launcher: a fork of the agent would stall its
 * event loop (see launcher.ts).
 *
 * The trees asked for within {@link GATHER_MS} of each other go to one `rm`, and one runs at a
 * time: on an agent ending dozens of short tasks a second, a process for each sandbox would be
 * half as many programs again as the tasks themselves start. Measured (bench:cluster, 2,000
 * tasks of `true`): 52 tasks/s with an `rm` each against 77 without, and a p99 launch latency at
 * half load of 608 ms against 39; gathered for a second, 72/s and 51 ms.
 */
export function removeTree(path: string): Promise<void> {
  return queueRemoval(path, GATHER_MS);
}

function queueRemoval(path: string, gatherMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    waiting.push({ path, resolve, reject });
    if (!removing) {
      removing = true;
      setTimeout(() => void removeWaiting(), gatherMs);
    }
  });
}

async function removeWaiting(): Promise<void> {
  try {
    while (waiting.length > 0) {
      const batch = waiting.slice(0, TREES_PER_RM);
      waiting = waiting.slice(batch.length);
      await removeAll(batch);
    }
  } finally {
    removing = false;
  }
}

async function removeAll(batch: readonly Removal[]): Promise<void> {
  try {
    await runProgram('rm', ['-rf', '--one-file-system', '--', ...batch.map((r) => r.path)]);
    for (const removal of batch) removal.resolve();
  } catch (error) {
    // `rm` goes on past a tree it cannot remove: the others are gone. Each one left fails, with
    // what `rm` said of it.
    const said = String((error as { stderr?: unknown }).stderr ?? error).split('\n');
    for (const removal of batch) {
      if (!(await exists(removal.path))) {
        removal.resolve();
        continue;
      }
      const lines = said.filter((line) => line.includes(removal.path));
      removal.reject(new Error(lines.join('; ') || `rm could not remove ${removal.path}`));
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Removes every entry of `dir` not named in `keep`, however deep: the sandboxes an agent left
 * when it died between a task's end and their removal. Answers the names removed.
 */
export async function removeStrays(dir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const names = await readdir(dir).catch(() => []);
  const strays = names.filter((name) => !keep.has(name));
  // All known at once: nothing to wait for (an agent starting waits for these).
  await Promise.all(strays.map((name) => queueRemoval(join(dir, name), 0)));
  return strays;
}
