import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CgroupChanges, Changes, TaskCgroup } from './cgroups';

/** A directory tree standing in for `/sys/fs/cgroup`: cgroup files are plain files here. */
let root: string;
const open: Changes[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiln-fake-cgroup-'));
});
afterEach(async () => {
  for (const changes of open.splice(0)) changes.close();
  await rm(root, { recursive: true, force: true });
});

async function fakeCgroup(version: 'v1' | 'v2'): Promise<TaskCgroup> {
  const cgroup = new TaskCgroup(version, root, 'kiln/task-1', ['pids']);
  await mkdir(cgroup.dir('pids'), { recursive: true });
  await writeFile(join(cgroup.dir('pids'), 'cgroup.events'), 'populated 1\nfrozen 0\n');
  return cgroup;
}

function changesOf(cgroup: TaskCgroup, pollMs: number, watchedMs: number): CgroupChanges {
  const changes = new CgroupChanges(cgroup, pollMs, watchedMs);
  open.push(changes);
  return changes;
}

/** How long `wait` took, in milliseconds. */
async function timed(wait: Promise<void>): Promise<number> {
  const start = performance.now();
  await wait;
  return performance.now() - start;
}

describe(CgroupChanges.name, () => {
  it("wakes a v2 wait when the kernel changes cgroup.events, not at the wait's end", async () => {
    const cgroup = await fakeCgroup('v2');
    const changes = changesOf(cgroup, 10, 60_000);
    expect(changes.watching).toBe(true);
    const waited = timed(changes.next());
    const written = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeFile(join(cgroup.dir('pids'), 'cgroup.events'), 'populated 0\nfrozen 0\n');
    })();
    expect(await waited).toBeLessThan(5_000);
    await written;
  });

  it('keeps a change that came between two waits for the next one', async () => {
    const cgroup = await fakeCgroup('v2');
    const changes = changesOf(cgroup, 10, 60_000);
    await writeFile(join(cgroup.dir('pids'), 'cgroup.events'), 'populated 0\nfrozen 0\n');
    // The event arrives on the event loop after the write.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await timed(changes.next())).toBeLessThan(5_000);
  });

  it('ends a watched wait at its deadline when nothing changes', async () => {
    const changes = changesOf(await fakeCgroup('v2'), 10, 60_000);
    expect(await timed(changes.next(Date.now() + 50))).toBeLessThan(5_000);
  });

  it('polls v1, which says nothing when a cgroup empties, and a cgroup it cannot watch', async () => {
    const v1 = changesOf(await fakeCgroup('v1'), 30, 60_000);
    expect(v1.watching).toBe(false);
    expect(await timed(v1.next())).toBeLessThan(5_000);
    const gone = new TaskCgroup('v2', root, 'kiln/removed', []);
    const unwatched = changesOf(gone, 30, 60_000);
    expect(unwatched.watching).toBe(false);
    expect(await timed(unwatched.next())).toBeLessThan(5_000);
  });
});

describe(Changes.name, () => {
  it('wakes a wait when a file is written and renamed in the watched directory', async () => {
    const changes = new Changes(root, 10, 60_000);
    open.push(changes);
    const waited = timed(changes.next());
    const renamed = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeFile(join(root, 'pid.tmp'), '42');
      await rename(join(root, 'pid.tmp'), join(root, 'pid'));
    })();
    expect(await waited).toBeLessThan(5_000);
    await renamed;
  });
});
