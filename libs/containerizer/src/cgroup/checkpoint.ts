import { hasExited, readProcStat, type ProcStat } from '../process/proc';
import { CONTAINER_ID_PATTERN } from '../containerizer';
import type { TaskCgroup } from './cgroups';

/** What `checkpoint` returns and `recover` takes back. */
export interface CgroupCheckpoint {
  /** The shim's pid: the container has ended when it has (it outlives `runc run`). */
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: tells the process from a later one given the same pid. */
  startTime: number;
  /** The task's cgroup inside each hierarchy, e.g. `kiln/<containerId>`. */
  cgroup: string;
  maxCompletionTimeMs?: number;
  /** When the timeout fires, in epoch milliseconds: a recovered container keeps its deadline. */
  deadline?: number;
  /** The first host id of the container's id range, held until the container is removed. */
  hostId?: number;
  /** Its name to runc, where that is not the container's id: one made warm, before its task. */
  runcId?: string;
}

/**
 * The checkpoint of a container the agent has none for, from its cgroup: its leader is the one
 * process in it whose parent is not (the container's first process, as the shim is outside), the
 * earliest if several are.
 */
export async function leaderCheckpoint(cgroup: TaskCgroup): Promise<CgroupCheckpoint | undefined> {
  const pids = new Set(await cgroup.processes());
  if (pids.size === 0) return undefined;
  const stats = await Promise.all([...pids].map((pid) => readProcStat(pid)));
  const members = stats.filter((p): p is ProcStat => p !== undefined && !hasExited(p));
  const roots = members.filter((p) => !pids.has(p.ppid)).sort((a, b) => a.startTime - b.startTime);
  const leader = roots[0];
  return leader === undefined
    ? undefined
    : { pid: leader.pid, startTime: leader.startTime, cgroup: cgroup.path };
}

/** A relative cgroup path of safe names: never `..`, never absolute. */
export function isCgroupPath(path: string): boolean {
  return path
    .split('/')
    .every((level) => /^[A-Za-z0-9_.-]+$/.test(level) && level !== '.' && level !== '..');
}

export function parseCheckpoint(value: unknown): CgroupCheckpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, startTime, cgroup, maxCompletionTimeMs, deadline, hostId, runcId } = value as Record<
    string,
    unknown
  >;
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
  if (!isCount(pid) || !Number.isSafeInteger(startTime)) return undefined;
  if (typeof cgroup !== 'string' || !isCgroupPath(cgroup)) return undefined;
  return {
    pid,
    startTime: startTime as number,
    cgroup,
    ...(typeof maxCompletionTimeMs === 'number' ? { maxCompletionTimeMs } : {}),
    ...(typeof deadline === 'number' ? { deadline } : {}),
    ...(isCount(hostId) ? { hostId } : {}),
    ...(typeof runcId === 'string' && CONTAINER_ID_PATTERN.test(runcId) ? { runcId } : {}),
  };
}
