import { errorMessage } from '@kiln/common';
import type Docker from 'dockerode';
import { ContainerLaunchError } from '../containerizer';
import { registryHostOf, statusCodeOf } from './docker-support';

export interface RegistryCredentials {
  username: string;
  password: string;
}

/**
 * How long a pull may go without a word of progress from the engine before it is given up, as
 * the kubelet's image pull progress deadline: the engine puts no limit on a registry that stops
 * answering, and the task's launch (its timeout not started yet, a kill waiting on it) with it.
 */
const PROGRESS_DEADLINE_MS = 60_000;

/** The engine's images, pulled (with the registry's credentials) when a task needs one. */
export class Images {
  /** Pulls in flight by image, so that tasks launched together pull their image once. */
  private readonly pulls = new Map<string, Promise<void>>();
  private readonly progressDeadlineMs: number;

  constructor(
    private readonly docker: Docker,
    /** Credentials per registry host (`registry.example.com:5000`, `docker.io`). */
    private readonly registryAuth: Record<string, RegistryCredentials>,
    options: { progressDeadlineMs?: number } = {},
  ) {
    this.progressDeadlineMs = options.progressDeadlineMs ?? PROGRESS_DEADLINE_MS;
  }

  /**
   * Pulls the image unless the engine has it; tasks launched together pull it once. `stopped`
   * gives up this task's wait for the pull (its task was killed); the pull goes on for the others.
   */
  async ensure(image: string, stopped?: AbortSignal): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (statusCodeOf(error) !== 404) {
        throw new ContainerLaunchError(
          'CONTAINER_LAUNCH_FAILED',
          `image ${image} could not be inspected: ${errorMessage(error)}`,
          { cause: error },
        );
      }
    }
    let pull = this.pulls.get(image);
    if (pull === undefined) {
      pull = this.pull(image).finally(() => this.pulls.delete(image));
      this.pulls.set(image, pull);
    }
    if (stopped === undefined) return pull;
    let leave: (() => void) | undefined;
    const given = new Promise<never>((_, reject) => {
      leave = () => reject(new Error(`the wait for image ${image} was given up`));
      if (stopped.aborted) leave();
      else stopped.addEventListener('abort', leave, { once: true });
    });
    try {
      await Promise.race([pull, given]);
    } finally {
      if (leave !== undefined) stopped.removeEventListener('abort', leave);
    }
  }

  private async pull(image: string): Promise<void> {
    const host = registryHostOf(image);
    const credentials = this.registryAuth[host];
    const stalled = new AbortController();
    const stall = new Error(`no progress for ${this.progressDeadlineMs / 1000} s`);
    let timer: NodeJS.Timeout | undefined;
    const watch = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => stalled.abort(stall), this.progressDeadlineMs);
    };
    const options = {
      ...(credentials ? { authconfig: { ...credentials, serveraddress: host } } : {}),
      abortSignal: stalled.signal,
    };
    try {
      watch();
      const stream = await this.docker.pull(image, options);
      const events = await new Promise<{ error?: string }[]>((resolve, reject) => {
        stalled.signal.addEventListener('abort', () => reject(stall), { once: true });
        this.docker.modem.followProgress(
          stream,
          (error: Error | null, output: unknown[]) =>
            error ? reject(error) : resolve(output as { error?: string }[]),
          watch,
        );
      });
      // The engine reports a failure half-way through the pull as an event, not as an error.
      const failed = events.find((event) => event.error !== undefined);
      if (failed !== undefined) throw new Error(failed.error);
    } catch (error) {
      const why = stalled.signal.aborted ? stall : error;
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        `image ${image} could not be pulled: ${errorMessage(why)}`,
        { cause: why },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
