import {
  CgroupContainerizer,
  DockerContainerizer,
  ProcessContainerizer,
  type Containerizer,
} from '@kiln/containerizer';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { PLAIN_CGROUP_PARENT } from './plain-runc';

const BENCH_CGROUP_PARENT = 'kiln-bench';

/** Every task's cgroup is gone by now (destroy removes it); the parent goes too. */
export function removeBenchCgroupParent(): void {
  const root = '/sys/fs/cgroup';
  for (const dir of [root, ...safeList(root).map((name) => join(root, name))]) {
    for (const parent of [
      `${BENCH_CGROUP_PARENT}/warm`,
      BENCH_CGROUP_PARENT,
      PLAIN_CGROUP_PARENT,
    ]) {
      try {
        rmdirSync(join(dir, parent));
      } catch {
        // Not there (another hierarchy layout), or not ours to remove.
      }
    }
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The native containerizer among those found, if this machine has one. */
export function benchCgroupContainerizer(
  containerizers: readonly Containerizer[],
): Containerizer | undefined {
  return containerizers.find((containerizer) => containerizer.name === 'cgroup');
}

/**
 * The native containerizer with a warm container made ahead of each task (as an agent has one by
 * default), its containers in a parent cgroup of their own.
 */
export async function warmCgroupContainerizer(
  root: string,
): Promise<CgroupContainerizer | undefined> {
  if (!(await CgroupContainerizer.detect()).supported) return undefined;
  return new CgroupContainerizer({
    parent: `${BENCH_CGROUP_PARENT}/warm`,
    warm: { count: 1, dir: join(root, 'warm') },
  });
}

/** The small local image `scripts/services.sh` builds. */
export const BENCH_IMAGE = 'kiln-test/busybox:latest';

/** The containerizers this machine can run, and why any is missing. */
export async function availableContainerizers(root: string): Promise<{
  containerizers: Containerizer[];
  dockerCli: boolean;
  skipped: string[];
}> {
  const containerizers: Containerizer[] = [
    new ProcessContainerizer({ runtimeDir: join(root, 'runtime-process') }),
  ];
  const skipped: string[] = [];
  const cgroups = await CgroupContainerizer.detect();
  if (cgroups.supported) {
    containerizers.push(new CgroupContainerizer({ parent: BENCH_CGROUP_PARENT }));
  } else {
    skipped.push(`cgroup: ${cgroups.reason}`);
  }
  let dockerCli = false;
  const docker = await DockerContainerizer.detect();
  if (docker.available) {
    containerizers.push(new DockerContainerizer({ owner: 'bench' }));
    try {
      execFileSync('docker', ['image', 'inspect', BENCH_IMAGE], { stdio: 'ignore' });
      dockerCli = true;
    } catch {
      skipped.push(`the docker CLI, or ${BENCH_IMAGE} (run scripts/services.sh)`);
    }
  } else {
    skipped.push(`docker: ${docker.reason}`);
  }
  return { containerizers, dockerCli, skipped };
}
