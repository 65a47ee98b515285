import { runProgram } from '@kiln/common';
import { lchown, opendir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Entries walked here at most: past them the tree goes to `chown`. A checkout of a few files (the
 * repository of a small project, and its `.git`) is given in a millisecond or two, where a program
 * would take ten.
 */
const WALKED_ENTRIES = 256;

/**
 * Gives the tree at `dir` to host id `id`: symbolic links themselves, never what they name (the
 * checkout is the repository's, hostile or not). Called before the task's first process starts,
 * so nothing in the tree moves meanwhile. A small tree is walked here; a larger one goes to
 * coreutils' `chown -hR`, started from the launcher, which walks by directory handles in a process
 * of its own. A walk here costs a round trip through libuv's pool per entry (a checkout of 5,000
 * files: about 240 ms against 35 for `chown`), and listing a tree whole held all of its names in
 * the agent's memory.
 */
export async function chownTree(dir: string, id: number): Promise<void> {
  if (await chownSmallTree(dir, id)) return;
  await runProgram('chown', ['-hR', '--', `${id}:${id}`, dir]);
}

/** Gives the tree to `id` if it has at most {@link WALKED_ENTRIES} entries; false if it has more. */
async function chownSmallTree(dir: string, id: number): Promise<boolean> {
  await lchown(dir, id, id);
  const directories = [dir];
  let left = WALKED_ENTRIES;
  for (let current = directories.pop(); current !== undefined; current = directories.pop()) {
    const entries: { path: string; directory: boolean }[] = [];
    // Read an entry at a time, and no further than the budget: a directory of millions of names
    // is never listed here.
    for await (const entry of await opendir(current)) {
      left -= 1;
      if (left < 0) return false;
      entries.push({ path: join(current, entry.name), directory: entry.isDirectory() });
    }
    await Promise.all(entries.map(({ path }) => lchown(path, id, id)));
    for (const { path, directory } of entries) if (directory) directories.push(path);
  }
  return true;
}
