import { randomUUID } from 'node:crypto';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Where the cgroup hierarchies are mounted on Kiln's test machines. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * A parent cgroup of one test file's own, so that its containerizers' orphan hunts touch nothing
 * else, with the runtime directory a containerizer of it keeps by default.
 */
export function testCgroupParent(): {
  parent: string;
  runtimeDir: string;
  remove(): Promise<void>;
} {
  const parent = `kiln-test-${randomUUID()}`;
  const runtimeDir = join('/run/kiln/cgroup', parent);
  return {
    parent,
    runtimeDir,
    // Once every test has removed its children: runc made the parent in every hierarchy.
    async remove() {
      for (const hierarchy of await readdir(CGROUP_ROOT)) {
        await rmdir(join(CGROUP_ROOT, hierarchy, parent)).catch(() => undefined);
      }
      await rm(runtimeDir, { recursive: true, force: true });
    },
  };
}
