import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Removes the directory tree at `path`, whatever the build left in it, with coreutils' `rm`.
 * Node's recursive `rm` would do it in the agent: it lists each directory whole, and starts the
 * removal of all its entries at once, in the agent's memory (a directory of 40,000 long names
 * takes more than 24 MiB of heap; of millions, more than the agent has, so it dies, and again at
 * its restart, when it removes the sandboxes left behind), and it gives up (ENAMETOOLONG) on a
 * tree deeper than a path can be long. `rm` walks by directory handles, reads a directory a
 * batch at a time, and its memory is not the agent's. `--one-file-system` leaves anything
 * mounted inside alone. One process per sandbox removed, after the task is done.
 */
export async function removeTree(path: string): Promise<void> {
  await run('rm', ['-rf', '--one-file-system', '--', path]);
}

/**
 * Removes every entry of `dir` not named in `keep`, however deep: the sandboxes an agent left
 * when it died between a task's end and their removal. Answers the names removed.
 */
export async function removeStrays(dir: string, keep: ReadonlySet<string>): Promise<string[]> {
  const names = await readdir(dir).catch(() => []);
  const strays = names.filter((name) => !keep.has(name));
  for (const name of strays) await removeTree(join(dir, name));
  return strays;
}
