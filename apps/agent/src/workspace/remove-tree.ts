import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Removes the directory tree at `path`, however deep. Node's recursive `rm` names every entry by
 * its whole path, and gives up (ENAMETOOLONG) on a tree deeper than a path can be long: a build
 * that nests directories past 4,096 bytes would keep its sandbox on the agent's disk for good.
 * coreutils' `rm` walks by directory handles and has no such bound; it runs only when the first
 * try failed, so the common case costs no process. `--one-file-system` leaves anything mounted
 * inside alone.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await run('rm', ['-rf', '--one-file-system', '--', path]);
  }
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
