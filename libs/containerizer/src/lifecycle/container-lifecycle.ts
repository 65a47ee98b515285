import { errorMessage } from '@kiln/common';
import type { TaskReason } from '@kiln/contracts';
import {
  assertValidContainerId,
  ContainerLaunchError,
  type ContainerSpec,
  type KillOptions,
  type LaunchResult,
  type ResourceUsage,
  type Termination,
} from '../containerizer';
import { SharedSampler } from '../shared-sampler';
import { killMessage, type KillRequest } from './termination';

/**
 * `launching` until the runtime has started the container (or found it again after a restart),
 * `running` until its main process has ended, `ending` while what it left is killed and its end
 * is read, `terminated` once its termination is decided.
 */
export type Phase = 'launching' | 'running' | 'ending' | 'terminated';

/** What every runtime's checkpoint carries: the timeout, which outlives an agent restart. */
export interface TimedCheckpoint {
  maxCompletionTimeMs?: number;
  /** When the timeout fires, in epoch milliseconds: a recovered container keeps its deadline. */
  deadline?: number;
}

/** A kill under way: its reason and message decide the termination; its deadline, the SIGKILL. */
export interface KillUnderWay extends KillRequest {
  deadline: number;
  timer?: NodeJS.Timeout;
}

/**
 * A container the lifecycle knows, from its launch (or recovery) to its destruction. A runtime
 * extends it with what it keeps of its own (a child process, a cgroup, an engine's container).
 */
export interface LiveContainer<C extends TimedCheckpoint = TimedCheckpoint> {
  readonly id: string;
  readonly sandbox: string;
  phase: Phase;
  /** Settles when `launch` (or `recover`) has: true if the container exists. */
  readonly launched: Promise<boolean>;
  settleLaunch(launched: boolean): void;
  /**
   * Aborted by a kill that comes while the container is launching: a runtime's start may give up
   * a long wait with it (an image pull), and its launch is then `killed`.
   */
  readonly launchSignal: AbortSignal;
  /** The kill that came while the container was launching, which {@link launchSignal} told. */
  launchKill?: KillRequest;
  /** Set once the container runs: a launch in flight has no checkpoint to give. */
  checkpoint?: C;
  kill?: KillUnderWay;
  /** A limit the container hit, ending it (unless a kill came first): it decides the end. */
  limitation?: KillRequest;
  timeout?: NodeJS.Timeout;
  readonly termination: Promise<Termination>;
  /** Resolves `termination`: the lifecycle's, through {@link ContainerLifecycle.terminated}. */
  terminate(termination: Termination): void;
  final?: Termination;
  destroyed?: Promise<void>;
}

/** The lifecycle's part of a container's record when it is registered. */
export type NewContainer = Omit<LiveContainer, 'checkpoint' | 'launchKill'>;

/**
 * What a containerizer does for its containers that the lifecycle does not: how it starts one,
 * signals it, measures it, tells how it ended and releases it. `Exit` is what it knows of a
 * container's main process when that ends (an exit code, a signal…), which it hands to
 * {@link ContainerLifecycle.end}.
 */
export interface ContainerRuntime<E extends LiveContainer, Exit> {
  /** A new container's record: the lifecycle's part, `base`, with the runtime's own fields. */
  create(base: NewContainer): E;
  /**
   * Throws a `TASK_INVALID` {@link ContainerLaunchError} for a spec no containerizer could run;
   * returns why this one cannot run a valid one (`not-supported`), if it cannot.
   */
  refusal(spec: ContainerSpec): string | undefined;
  /**
   * Starts the container and calls {@link ContainerLifecycle.running} once it runs, before it
   * resolves; rejects if it cannot (having undone what it did), or answers `not-supported`.
   */
  start(container: E, spec: ContainerSpec): Promise<LaunchResult>;
  /**
   * Whether `start` makes the container while `spec.ready` is pending and holds its command until
   * it resolves (see {@link ContainerSpec.ready}). Otherwise the lifecycle starts the container
   * only once the workspace is ready.
   */
  readonly startsBeforeReady?: boolean;
  /** Sends `signal` to every process of the container. Never throws. */
  signal(container: E, signal: 'SIGTERM' | 'SIGKILL'): void;
  /**
   * The container's main process has ended: waits until nothing of it is left (SIGKILLing what
   * is, once the kill under way, if any, reaches its deadline) and tells its termination. Never
   * rejects.
   */
  ended(container: E, exit: Exit): Promise<Termination>;
  /** Measures a running container now, for `usage`. Never rejects. */
  measure(container: E): Promise<void>;
  /** What the container has used, as last measured. */
  usage(container: E): ResourceUsage | undefined;
  /** One periodic measurement of every running container. */
  sample(running: readonly E[]): Promise<void>;
  /**
   * Whether nothing of the runtime's holds the event loop for this running container (it was
   * recovered, so it is no child process of the agent's): then the sampler does.
   */
  unheld(container: E): boolean;
  /** Releases what the runtime holds for a terminated container (`destroy`). */
  release(container: E): Promise<void>;
  /** The container is no longer this containerizer's (destroyed, or its launch failed). */
  forget?(container: E): void;
}

export interface ContainerLifecycleOptions {
  /** The kill grace period when `kill` is given none, and for timeouts. */
  defaultGracePeriodMs: number;
  /** How often running containers are measured. */
  sampleIntervalMs: number;
}

/**
 * The life every container goes through, whatever runs it: registered by its launch (or its
 * recovery), watched while it runs (its timeout, its periodic measurement), killed (SIGTERM, then
 * SIGKILL at the end of a grace period), ended once (the first end decides the termination, and a
 * kill or a limit decides it only if it came before the end), and released by `destroy`. The
 * {@link Containerizer} methods that are the same for every runtime are here; a containerizer
 * delegates them, and plugs in its {@link ContainerRuntime}.
 */
export class ContainerLifecycle<E extends LiveContainer, Exit> {
  private readonly containers = new Map<string, E>();
  /** What aborts each launch in flight's {@link LiveContainer.launchSignal}. */
  private readonly launchAborts = new WeakMap<E, AbortController>();
  private readonly sampler: SharedSampler;

  constructor(
    private readonly runtime: ContainerRuntime<E, Exit>,
    private readonly options: ContainerLifecycleOptions,
  ) {
    this.sampler = new SharedSampler(options.sampleIntervalMs, () =>
      this.runtime.sample(this.live()),
    );
  }

  has(containerId: string): boolean {
    return this.containers.has(containerId);
  }

  get(containerId: string): E | undefined {
    return this.containers.get(containerId);
  }

  /** The containers whose main process runs. */
  live(): E[] {
    return [...this.containers.values()].filter((c) => c.phase === 'running');
  }

  async launch(spec: ContainerSpec): Promise<LaunchResult> {
    assertValidContainerId(spec.containerId);
    if (this.containers.has(spec.containerId)) return { status: 'already-launched' };
    const refusal = this.runtime.refusal(spec);
    if (refusal !== undefined) return { status: 'not-supported', reason: refusal };
    const container = this.register(spec.containerId, spec.sandbox);
    let result: LaunchResult;
    try {
      if (spec.ready !== undefined && this.runtime.startsBeforeReady !== true) {
        await spec.ready.catch((error: unknown) => {
          throw notReady(container.id, error);
        });
      }
      result = await this.runtime.start(container, spec);
    } catch (error) {
      this.forget(container);
      container.settleLaunch(false);
      // Stopped by the kill, or failed meanwhile: either way its command never ran.
      if (container.launchKill !== undefined) return { status: 'killed', ...container.launchKill };
      if (error instanceof ContainerLaunchError) throw error;
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        `container ${container.id} could not be started: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (result.status !== 'launched') this.forget(container);
    container.settleLaunch(result.status === 'launched');
    return result;
  }

  async wait(containerId: string): Promise<Termination | undefined> {
    const container = await this.launched(containerId);
    return container?.termination;
  }

  async kill(containerId: string, options: KillOptions = {}): Promise<void> {
    const reason = options.reason ?? 'KILLED_BY_FRAMEWORK';
    const launching = this.containers.get(containerId);
    // A launch waiting on something long (an image pull) is told to give up: a start that still
    // makes it runs, and is killed below.
    if (launching?.phase === 'launching' && launching.launchKill === undefined) {
      launching.launchKill = {
        reason,
        message: `${killMessage(reason)} before its command started`,
      };
      this.launchAborts.get(launching)?.abort();
    }
    const container = await this.launched(containerId);
    if (container === undefined) return;
    this.stop(
      container,
      options.gracePeriodMs ?? this.options.defaultGracePeriodMs,
      reason,
      killMessage(reason, container.checkpoint?.maxCompletionTimeMs),
    );
    await container.termination;
  }

  destroy(containerId: string): Promise<void> {
    const container = this.containers.get(containerId);
    if (container === undefined) return Promise.resolve();
    container.destroyed ??= this.release(container);
    return container.destroyed;
  }

  async usage(containerId: string): Promise<ResourceUsage | undefined> {
    const container = await this.launched(containerId);
    if (container === undefined) return undefined;
    if (container.final === undefined) await this.runtime.measure(container);
    return (container.final ? container.final.usage : this.runtime.usage(container)) ?? {};
  }

  checkpoint(containerId: string): Record<string, unknown> | undefined {
    const checkpoint = this.containers.get(containerId)?.checkpoint;
    return checkpoint === undefined ? undefined : { ...checkpoint };
  }

  /**
   * A container of the id, `launching` until its runtime calls {@link running} (or {@link end}, or
   * {@link terminated}) and it settles its launch: for a launch, or a container found again after
   * an agent restart.
   */
  register(id: string, sandbox: string): E {
    let settleLaunch!: (launched: boolean) => void;
    let terminate!: (termination: Termination) => void;
    const launchAbort = new AbortController();
    const container = this.runtime.create({
      id,
      sandbox,
      phase: 'launching',
      launched: new Promise<boolean>((resolve) => (settleLaunch = resolve)),
      settleLaunch: (launched) => {
        this.launchAborts.delete(container);
        settleLaunch(launched);
      },
      launchSignal: launchAbort.signal,
      termination: new Promise<Termination>((resolve) => (terminate = resolve)),
      terminate: (termination) => terminate(termination),
    });
    this.launchAborts.set(container, launchAbort);
    this.containers.set(id, container);
    return container;
  }

  /** The container runs: its timeout is set and it is sampled. */
  running(container: E): void {
    container.phase = 'running';
    const deadline = container.checkpoint?.deadline;
    if (deadline !== undefined) {
      container.timeout = setTimeout(
        () => {
          const timeout = container.checkpoint?.maxCompletionTimeMs;
          this.stop(
            container,
            this.options.defaultGracePeriodMs,
            'TIMEOUT',
            killMessage('TIMEOUT', timeout),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      // What keeps the event loop alive while the container runs is its runtime's (a child, a
      // request to the engine) or the sampler's: never a timer that may be hours away.
      container.timeout.unref();
    }
    this.updateSampler();
  }

  /**
   * Starts a kill: SIGTERM now, SIGKILL at the deadline (at once without a grace period). The
   * first request's reason stands; a later one can only bring the SIGKILL forward.
   */
  stop(container: E, gracePeriodMs: number, reason: TaskReason, message: string): void {
    const deadline = Date.now() + Math.max(0, gracePeriodMs);
    if (container.kill === undefined) {
      // Once the main process has ended, how it ended stands: a kill cannot rewrite it.
      if (container.phase !== 'running') return;
      // Ending for a limit already: the limit is why it ends. A kill without grace (destroy)
      // still signals, should the limit's SIGKILL have been lost.
      if (container.limitation !== undefined) {
        if (gracePeriodMs <= 0) this.runtime.signal(container, 'SIGKILL');
        return;
      }
      container.kill = { reason, message, deadline };
      if (gracePeriodMs > 0) this.runtime.signal(container, 'SIGTERM');
    } else if (deadline < container.kill.deadline && container.phase !== 'terminated') {
      container.kill.deadline = deadline;
    } else {
      return;
    }
    const kill = container.kill;
    clearTimeout(kill.timer);
    if (gracePeriodMs <= 0) {
      this.runtime.signal(container, 'SIGKILL');
    } else {
      kill.timer = setTimeout(() => this.runtime.signal(container, 'SIGKILL'), gracePeriodMs);
      kill.timer.unref();
    }
  }

  /**
   * The container reached a limit: it ends at once (no grace: a fork bomb or a memory hog would
   * spend it growing), TASK_FAILED with the limit's reason, unless a kill came first. The sampler
   * calls it at each sample while the limit shows: the first reason stands, and the SIGKILL is
   * sent again, should the last one have been lost (a cgroup that could not be written, say).
   */
  limit(container: E, reason: TaskReason, message: string): void {
    if (container.phase !== 'running' || container.kill !== undefined) return;
    container.limitation ??= { reason, message };
    this.runtime.signal(container, 'SIGKILL');
  }

  /**
   * The container's main process has ended, so the container ends; the first end of a running
   * container decides, later ones (and ends before it runs) are ignored. Never rejects: it runs
   * from event handlers.
   */
  async end(container: E, exit: Exit): Promise<void> {
    if (container.phase !== 'running') return;
    container.phase = 'ending';
    clearTimeout(container.timeout);
    const termination = await this.runtime.ended(container, exit);
    clearTimeout(container.kill?.timer);
    this.terminated(container, termination);
  }

  /**
   * Ends a container found ended after an agent restart, as {@link end} ends a running one: what
   * it left is killed and its end read.
   */
  endFound(container: E, exit: Exit): Promise<void> {
    container.phase = 'running';
    return this.end(container, exit);
  }

  /** Decides the container's termination, for every `wait`. */
  terminated(container: E, termination: Termination): void {
    container.phase = 'terminated';
    container.final = termination;
    container.terminate(termination);
    this.updateSampler();
  }

  /** The container once its launch has settled; `undefined` if it is unknown or failed. */
  private async launched(containerId: string): Promise<E | undefined> {
    const container = this.containers.get(containerId);
    return container !== undefined && (await container.launched) ? container : undefined;
  }

  private async release(container: E): Promise<void> {
    try {
      if (await container.launched) {
        this.stop(container, 0, 'KILLED_BY_FRAMEWORK', 'killed when its container was destroyed');
        await container.termination;
        await this.runtime.release(container);
      }
    } finally {
      this.forget(container);
    }
  }

  private forget(container: E): void {
    if (this.containers.get(container.id) !== container) return;
    this.containers.delete(container.id);
    this.runtime.forget?.(container);
  }

  /** Ticks while any container runs; keeps the process alive only for those nothing else does. */
  private updateSampler(): void {
    const live = this.live();
    this.sampler.update(
      live.length,
      live.some((container) => this.runtime.unheld(container)),
    );
  }
}

/** The launch of a container whose workspace never became ready: its command never ran. */
export function notReady(containerId: string, error: unknown): ContainerLaunchError {
  return new ContainerLaunchError(
    'CONTAINER_LAUNCH_FAILED',
    `container ${containerId} was not started: its workspace was not made ready (${errorMessage(error)})`,
    { cause: error },
  );
}
