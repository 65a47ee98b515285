import type { ControllerFactory, ControllerName } from './controller';
import { cpuController } from './cpu';
import { memoryController } from './memory';
import { pidsController } from './pids';

export * from './controller';
export { CFS_MIN_QUOTA_US, CFS_PERIOD_US, cfsQuotaUs } from './cpu';

/** Every controller the cgroup containerizer knows, by name: the order limits are applied in. */
export const CONTROLLERS: Readonly<Record<ControllerName, ControllerFactory>> = {
  cpu: cpuController,
  memory: memoryController,
  pids: pidsController,
};

export const CONTROLLER_NAMES = Object.keys(CONTROLLERS) as ControllerName[];
