import type { ResourceUsage } from '../../containerizer';
import type { CgroupController, ControllerFactory } from './controller';
import { keyedValue, singleValue } from './controller';

/** The CFS period: a task with `cpus` CPUs runs `cpus` × this much per period. */
export const CFS_PERIOD_US = 100_000;
/** The kernel refuses quotas under 1 ms. */
export const CFS_MIN_QUOTA_US = 1_000;

/** The CFS quota of `cpus` CPUs, in microseconds per {@link CFS_PERIOD_US}. */
export function cfsQuotaUs(cpus: number): number {
  return Math.max(CFS_MIN_QUOTA_US, Math.round(cpus * CFS_PERIOD_US));
}

/** CPU: a CFS bandwidth quota, and CPU time from `cpuacct` (v1) or `cpu.stat` (v2). */
export const cpuController: ControllerFactory = (version): CgroupController => ({
  name: 'cpu',
  hierarchies: ['cpu', 'cpuacct'],
  async apply(cgroup, { cpus }) {
    if (cpus === undefined || !(cpus > 0)) return;
    const quota = cfsQuotaUs(cpus);
    if (version === 'v2') {
      await cgroup.write('cpu', 'cpu.max', `${quota} ${CFS_PERIOD_US}`);
    } else {
      // The period first: the kernel checks the quota against the period it already has.
      await cgroup.write('cpu', 'cpu.cfs_period_us', String(CFS_PERIOD_US));
      await cgroup.write('cpu', 'cpu.cfs_quota_us', String(quota));
    }
  },
  async measure(cgroup): Promise<ResourceUsage> {
    if (version === 'v2') {
      const usec = keyedValue(await cgroup.read('cpu', 'cpu.stat'), 'usage_usec');
      return usec === undefined ? {} : { cpuSeconds: usec / 1e6 };
    }
    const ns = singleValue(await cgroup.read('cpuacct', 'cpuacct.usage'));
    return ns === undefined ? {} : { cpuSeconds: ns / 1e9 };
  },
  limitation: () => Promise.resolve(undefined),
});
