import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CgroupChanges, type TaskCgroup } from './cgroups';

/*
 * Emptying and removing what a native container leaves on the host: the processes and cgroup of a
 * task, in every hierarchy, and the network helper that served it.
 */

/**
 * How often a container's cgroup is checked for survivors once its leader has ended, where the
 * kernel does not say when it empties (v1).
 */
const CGROUP_POLL_MS = 50;
/** Where it does (v2), how long it is trusted to before the cgroup is read (and killed) again. */
const WATCHED_CGROUP_RECHECK_MS = 1_000;
/** How long survivors get after SIGKILL before the container is declared ended anyway. */
const SIGKILL_PATIENCE_MS = 10_000;

/**
 * Waits until the cgroup of a container whose leader has ended is empty, killing what is left
 * once the kill under way (if any) reaches its deadline; gives up {@link SIGKILL_PATIENCE_MS}
 * after the first SIGKILL.
 */
export async function untilCgroupEmpty(
  container: { readonly kill?: { readonly deadline: number } },
  cgroup: TaskCgroup,
): Promise<void> {
  const changes = new CgroupChanges(cgroup, CGROUP_POLL_MS, WATCHED_CGROUP_RECHECK_MS);
  try {
    let sigkillSince: number | undefined;
    while ((await cgroup.processes()).length > 0) {
      const now = Date.now();
      if (container.kill === undefined || now >= container.kill.deadline) {
        sigkillSince ??= now;
        if (now - sigkillSince > SIGKILL_PATIENCE_MS) return;
        await cgroup.killAll();
      }
      // Woken at the kill's SIGKILL if the cgroup says nothing before.
      await changes.next(sigkillSince === undefined ? container.kill?.deadline : undefined);
    }
  } finally {
    changes.close();
  }
}

/** Kills everything in a cgroup this containerizer no longer watches, and removes it. */
export async function destroyCgroup(cgroup: TaskCgroup): Promise<void> {
  const deadline = Date.now() + SIGKILL_PATIENCE_MS;
  const changes = new CgroupChanges(cgroup, CGROUP_POLL_MS, WATCHED_CGROUP_RECHECK_MS);
  try {
    while ((await cgroup.processes()).length > 0 && Date.now() < deadline) {
      await cgroup.killAll();
      await changes.next(deadline);
    }
  } finally {
    changes.close();
  }
  await cgroup.remove();
  await removeFromEveryHierarchy(cgroup);
}

/**
 * runc makes a container's cgroup in every v1 hierarchy the host mounts (devices, blkio, cpuset…),
 * not only in those whose counters this containerizer reads: once those are empty and gone, the
 * others go too. A cgroup still busy is left for `runc delete` or the next recovery.
 */
export async function removeFromEveryHierarchy(cgroup: TaskCgroup): Promise<void> {
  if (cgroup.version === 'v2') return;
  const hierarchies = await readdir(cgroup.root, { withFileTypes: true }).catch(() => []);
  for (const hierarchy of hierarchies) {
    if (!hierarchy.isDirectory()) continue;
    await rmdir(join(cgroup.root, hierarchy.name, cgroup.path)).catch(() => undefined);
  }
}

/** Stops the slirp4netns the network hook recorded, if it still runs; forgets its pid. */
export async function stopNetworkHelper(pidFile: string): Promise<void> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (Number.isSafeInteger(pid) && pid > 0) {
    // A recorded pid may since have been given to another process: only slirp4netns is stopped.
    const name = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (name.trim() === 'slirp4netns') {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // It ended meanwhile.
      }
    }
  }
  await rm(pidFile, { force: true });
}
