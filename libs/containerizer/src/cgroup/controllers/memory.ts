import type { ResourceUsage } from '../../containerizer';
import type { CgroupController, ControllerFactory } from './controller';
import { keyedValue, singleValue } from './controller';

const MIB = 1024 * 1024;

/**
 * Memory: a hard limit, over which the kernel's OOM killer ends a process of the task; the count
 * of such kills tells afterwards whether the limit is what failed the task. v1's OOM killer is
 * left enabled (`memory.oom_control`), else the task would hang at the limit instead.
 */
export const memoryController: ControllerFactory = (version): CgroupController => ({
  name: 'memory',
  hierarchies: ['memory'],
  async apply(cgroup, { memMiB }) {
    if (memMiB === undefined || !(memMiB > 0)) return;
    const bytes = String(Math.round(memMiB * MIB));
    await cgroup.write('memory', version === 'v2' ? 'memory.max' : 'memory.limit_in_bytes', bytes);
  },
  async measure(cgroup): Promise<ResourceUsage> {
    const [current, peak] =
      version === 'v2'
        ? // memory.peak is Linux 5.19+; without it the caller keeps the highest current it saw.
          [
            await cgroup.read('memory', 'memory.current'),
            await cgroup.read('memory', 'memory.peak'),
          ]
        : [
            await cgroup.read('memory', 'memory.usage_in_bytes'),
            await cgroup.read('memory', 'memory.max_usage_in_bytes'),
          ];
    const memBytes = singleValue(current);
    const memPeakBytes = singleValue(peak);
    return {
      ...(memBytes === undefined ? {} : { memBytes }),
      ...(memPeakBytes === undefined ? {} : { memPeakBytes }),
    };
  },
  async limitation(cgroup) {
    if (version === 'v2') {
      const kills = keyedValue(await cgroup.read('memory', 'memory.events'), 'oom_kill');
      return (kills ?? 0) > 0 ? 'CONTAINER_LIMITATION_MEMORY' : undefined;
    }
    const kills = keyedValue(await cgroup.read('memory', 'memory.oom_control'), 'oom_kill');
    // Kernels before 4.13 count no OOM kills: hitting the limit at all is the best sign there is.
    const hits = kills ?? singleValue(await cgroup.read('memory', 'memory.failcnt'));
    return (hits ?? 0) > 0 ? 'CONTAINER_LIMITATION_MEMORY' : undefined;
  },
});
