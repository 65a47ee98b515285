import type {
  Containerizer,
  ContainerSpec,
  KillOptions,
  LaunchResult,
  ResourceUsage,
  Termination,
} from '../containerizer';
import type { ContainerLifecycle, LiveContainer } from './container-lifecycle';

/**
 * The {@link Containerizer} methods that every runtime answers the same way, delegated to its
 * {@link ContainerLifecycle}: a containerizer extends this, builds its lifecycle in its
 * constructor and adds only what is its own (its name, its recovery, its runtime).
 */
export abstract class LifecycleContainerizer<E extends LiveContainer, Exit> implements Pick<
  Containerizer,
  'launch' | 'wait' | 'kill' | 'destroy' | 'usage' | 'checkpoint'
> {
  protected abstract readonly containers: ContainerLifecycle<E, Exit>;

  launch(spec: ContainerSpec): Promise<LaunchResult> {
    return this.containers.launch(spec);
  }

  wait(containerId: string): Promise<Termination | undefined> {
    return this.containers.wait(containerId);
  }

  kill(containerId: string, options?: KillOptions): Promise<void> {
    return this.containers.kill(containerId, options);
  }

  destroy(containerId: string): Promise<void> {
    return this.containers.destroy(containerId);
  }

  usage(containerId: string): Promise<ResourceUsage | undefined> {
    return this.containers.usage(containerId);
  }

  checkpoint(containerId: string): Record<string, unknown> | undefined {
    return this.containers.checkpoint(containerId);
  }
}
