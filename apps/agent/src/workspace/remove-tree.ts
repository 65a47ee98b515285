import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
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
