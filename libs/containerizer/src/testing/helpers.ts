import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasExited, listProcesses } from '../process/proc';

/** A container id no other test uses. */
export function uniqueContainerId(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/**
 * Temporary directories for one test, all removed by `removeAll`. Before it removes them it
 * SIGKILLs every process still working in one: a safety net, so that a containerizer broken
 * enough to leave a task behind fails its test without leaking the task into the next ones.
 */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(prefix = 'kiln-containerizer-'): Promise<string> {
    const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
    this.dirs.push(dir);
    return dir;
  }

  async removeAll(): Promise<void> {
    const dirs = this.dirs.splice(0);
    await killProcessesWorkingIn(dirs);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

async function killProcessesWorkingIn(dirs: readonly string[]): Promise<void> {
  if (dirs.length === 0) return;
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cwd = await readlink(`/proc/${name}/cwd`).catch(() => undefined);
    if (cwd !== undefined && dirs.some((dir) => cwd === dir || cwd.startsWith(`${dir}/`))) {
      try {
        process.kill(Number(name), 'SIGKILL');
      } catch {
        // It ended by itself meanwhile.
      }
    }
  }
}

/** Resolves once `check` holds; fails naming `what` if it still does not after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** The file's text, or `undefined` if there is no such file. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Proves that nothing writes to `path` any more: a task's background loop appends to it every few
 * milliseconds while it lives, so a size that holds for `quietMs` means the loop is gone.
 */
export async function expectNoMoreWrites(path: string, quietMs = 500): Promise<void> {
  const before = (await stat(path)).size;
  await sleep(quietMs);
  const after = (await stat(path)).size;
  if (after !== before) {
    throw new Error(`${path} grew from ${before} to ${after} bytes: a process still writes to it`);
  }
}

/** The pids of process group `pgid` that have not exited (zombies have). */
export async function livingGroupMembers(pgid: number): Promise<number[]> {
  const processes = await listProcesses();
  return processes.filter((p) => p.pgrp === pgid && !hasExited(p)).map((p) => p.pid);
}

/** Whether process `pid` is alive (a zombie is not). */
export async function isAlive(pid: number): Promise<boolean> {
  const processes = await listProcesses();
  const found = processes.find((p) => p.pid === pid);
  return found !== undefined && !hasExited(found);
}
