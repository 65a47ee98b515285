import type { CgroupController, ControllerFactory } from './controller';
import { keyedValue } from './controller';

/**
 * Pids: caps how many processes the task can have, so that a fork bomb exhausts its own cgroup
 * and not the host's pid space (the agent included). `pids.events` counts the forks refused.
 */
export const pidsController: ControllerFactory = (): CgroupController => ({
  name: 'pids',
  hierarchies: ['pids'],
  async apply(cgroup, { pidsMax }) {
    if (pidsMax === undefined || !(pidsMax > 0)) return;
    await cgroup.write('pids', 'pids.max', String(Math.floor(pidsMax)));
  },
  measure: () => Promise.resolve({}),
  async limitation(cgroup) {
    const refused = keyedValue(await cgroup.read('pids', 'pids.events'), 'max');
    return (refused ?? 0) > 0 ? 'CONTAINER_LIMITATION_PIDS' : undefined;
  },
});
