import type { TaskReason } from '@kiln/contracts';
import type { ResourceUsage } from '../../containerizer';
import type { CgroupVersion, TaskCgroup, V1Hierarchy } from '../cgroups';

/** The limits a task's cgroup enforces; a limit left out (or 0) is not set. */
export interface CgroupLimits {
  /** CPUs' worth of CPU time per period. */
  cpus?: number;
  /** Memory in MiB, as resources count it. */
  memMiB?: number;
  /** How many processes (threads, in fact) the task may have at once. */
  pidsMax?: number;
}

/** The v2 names of the controllers, which are also the v1 hierarchies they mainly live in. */
export type ControllerName = 'cpu' | 'memory' | 'pids';

/**
 * One cgroup controller for one cgroup version: it sets its limit on a task's cgroup, measures
 * what the task used, and tells, once the task has ended, whether the limit is what ended it.
 */
export interface CgroupController {
  readonly name: ControllerName;
  /** The v1 hierarchies the task's cgroup must be made in for this controller. */
  readonly hierarchies: readonly V1Hierarchy[];
  apply(cgroup: TaskCgroup, limits: CgroupLimits): Promise<void>;
  /** What the cgroup used; the fields this controller does not measure are left out. */
  measure(cgroup: TaskCgroup): Promise<ResourceUsage>;
  /** The reason a failed task gets when this controller's limit was hit, if it was. */
  limitation(cgroup: TaskCgroup): Promise<TaskReason | undefined>;
}

export type ControllerFactory = (version: CgroupVersion) => CgroupController;

/** The number on the `key N` line of a flat-keyed cgroup file (`memory.events`, `cpu.stat`…). */
export function keyedValue(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The number a single-value cgroup file holds, if it holds one. */
export function singleValue(text: string | undefined): number | undefined {
  const trimmed = text?.trim();
  return trimmed !== undefined && /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}
