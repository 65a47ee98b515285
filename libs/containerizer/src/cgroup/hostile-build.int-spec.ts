import { describeHostileBuilds } from '@kiln/containerizer/testing';
import { randomUUID } from 'node:crypto';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { CgroupContainerizer } from './cgroup.containerizer';

/** A parent cgroup of this file's own, so that its orphan hunts touch nothing else. */
const PARENT = `kiln-hostile-${randomUUID()}`;

afterAll(async () => {
  // runc made the parent in every hierarchy; the runtime directory is this file's too.
  for (const hierarchy of await readdir('/sys/fs/cgroup')) {
    await rmdir(join('/sys/fs/cgroup', hierarchy, PARENT)).catch(() => undefined);
  }
  await rm(join('/run/kiln/cgroup', PARENT), { recursive: true, force: true });
});

describeHostileBuilds(CgroupContainerizer.name, {
  setup() {
    return Promise.resolve({
      containerizer: new CgroupContainerizer({
        parent: PARENT,
        pidsMax: 128,
        defaultGracePeriodMs: 1_000,
      }),
      teardown: () => Promise.resolve(),
    });
  },
});
