import { describeHostileBuilds } from '@kiln/containerizer/testing';
import { randomUUID } from 'node:crypto';
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { CgroupContainerizer } from './cgroup.containerizer';
import { v1Hierarchies } from './detect';
import { CONTROLLER_NAMES } from './controllers';

/** A parent cgroup of this file's own, so that its orphan hunts touch nothing else. */
const PARENT = `kiln-hostile-${randomUUID()}`;

afterAll(async () => {
  for (const hierarchy of v1Hierarchies(CONTROLLER_NAMES)) {
    await rmdir(join('/sys/fs/cgroup', hierarchy, PARENT)).catch(() => undefined);
  }
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
