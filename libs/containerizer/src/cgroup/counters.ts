import type { TaskReason } from '@kiln/contracts';
import type { ResourceUsage } from '../containerizer';
import type { TaskCgroup } from './cgroups';
import {
  CONTROLLER_NAMES,
  CONTROLLERS,
  type CgroupController,
  type CgroupLimits,
} from './controllers';

/* What a task's cgroup says it has used, and which of its limits it hit. */

function controllersOf(cgroup: TaskCgroup): CgroupController[] {
  return CONTROLLER_NAMES.map((name) => CONTROLLERS[name](cgroup.version));
}

/**
 * What the cgroup's counters say now, merged into what they said `before`: the peak is kept here
 * where the kernel keeps none (v2 before 5.19); `undefined` when nothing could be read (a cgroup
 * gone), so that the last measurement stands.
 */
export async function measureCgroup(
  cgroup: TaskCgroup,
  before: ResourceUsage = {},
): Promise<ResourceUsage | undefined> {
  const parts = await Promise.all(
    controllersOf(cgroup).map((controller) => controller.measure(cgroup).catch(() => ({}))),
  );
  const now: ResourceUsage = Object.assign({}, ...parts) as ResourceUsage;
  if (now.cpuSeconds === undefined && now.memBytes === undefined) return undefined;
  return {
    // Counters never run backwards, but a read of a cgroup being removed may come back short.
    cpuSeconds: Math.max(before.cpuSeconds ?? 0, now.cpuSeconds ?? 0),
    memBytes: now.memBytes ?? before.memBytes ?? 0,
    memPeakBytes: Math.max(before.memPeakBytes ?? 0, now.memPeakBytes ?? 0, now.memBytes ?? 0),
  };
}

/** The first limit the task hit, if any; it explains a failure. */
export async function limitationOf(cgroup: TaskCgroup): Promise<TaskReason | undefined> {
  for (const controller of controllersOf(cgroup)) {
    const reason = await controller.limitation(cgroup);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** The message that says which limit a failed task hit. */
export function limitationMessage(reason: TaskReason, limits: CgroupLimits): string {
  switch (reason) {
    case 'CONTAINER_LIMITATION_MEMORY':
      return `killed by the OOM killer at its memory limit of ${limits.memMiB ?? '?'} MiB`;
    case 'CONTAINER_LIMITATION_PIDS':
      return `reached its limit of ${limits.pidsMax ?? '?'} processes`;
    default:
      return `hit a limit (${reason})`;
  }
}
