import type { Resources, TaskReason } from '@kiln/contracts';
import { join } from 'node:path';

/**
 * The kinds of containerizer an agent can have, and advertises when it registers: native cgroups
 * and namespaces, Docker (the only one that runs images), and a plain process where neither is
 * possible (a laptop without root).
 */
export const CONTAINERIZER_NAMES = ['cgroup', 'docker', 'process'] as const;
export type ContainerizerName = (typeof CONTAINERIZER_NAMES)[number];

/** What to run, where, and within which limits. Plain data: the agent builds it from a LAUNCH. */
export interface ContainerSpec {
  /**
   * Unique per task launch (a relaunch of the same task gets a new id). It names files, cgroups
   * and Docker containers, hence the character set: see {@link CONTAINER_ID_PATTERN}.
   */
  containerId: string;
  /**
   * `shell: true` runs `value` with `/bin/sh -c`; `shell: false` executes `value` (looked up on
   * the task's own `PATH`) with `arguments` as its arguments, no shell in between.
   */
  command: { shell: true; value: string } | { shell: false; value: string; arguments: string[] };
  /**
   * The task's whole environment: nothing of the agent's leaks in. An implementation may only add
   * what a process cannot run without (a default `PATH` when none is given), and answers
   * `not-supported` for variables it cannot pass on exactly.
   */
  environment: Record<string, string>;
  /**
   * The absolute path of an existing directory, created and later garbage-collected by the agent,
   * never by the containerizer. It is the agent's, not the task's: the task's standard output and
   * error are appended to the files `stdout` and `stderr` in it, written directly by the task so
   * that they survive an agent restart (standard input is empty), and a containerizer keeps its
   * dot-files there. The task works in its {@link workspaceOf workspace}, a directory inside it,
   * and is given nothing else of it (Docker mounts only the workspace): what the task or its
   * checkout does there can never replace the files the agent reads back.
   */
  sandbox: string;
  /** What the task was given by its offer; implementations that can, enforce it. */
  resources: Resources;
  /** The task is killed with reason `TIMEOUT` once it has run this long. */
  maxCompletionTimeMs?: number;
  /** A container image; only `docker` runs images, the others answer `not-supported`. */
  image?: string;
  /**
   * `host` shares the agent's network; `none` gives the task only a loopback. Unset: a network
   * of the task's own with outbound access through slirp4netns (the host's, where the agent opted
   * in to it); the `process` containerizer runs every task in the agent's.
   */
  network?: 'host' | 'none';
  /**
   * Settles once the workspace is ready (the source checked out, the inputs fetched): the command
   * starts only after it resolves, and never if it rejects, which fails the launch. A
   * containerizer that can makes the container meanwhile, so that a task's start waits for the
   * slower of the two, not for both one after the other. None: the workspace is ready.
   */
  ready?: Promise<void>;
  /**
   * The commit the container checks out in its workspace before its command starts, for a
   * containerizer that {@link Containerizer.checksOut checks out}: the workspace, once `ready`,
   * holds a repository with the commit's objects and no files. The checkout runs as the task's
   * own user, inside the container's namespaces and limits; one that fails ends the task failed
   * with reason `SOURCE_CHECKOUT_FAILED`, its command never started. It counts against the
   * task's limits and time like the command. Needs `ready` and a shell command.
   */
  checkout?: { commit: string };
}

/**
 * `launched`: the task's process has started (the agent may report TASK_RUNNING). `already-
 * launched`: a container with this id exists already (running or terminated but not destroyed);
 * nothing was started. `not-supported`: this containerizer cannot run the spec as asked (an image
 * without Docker, an isolation it cannot provide); nothing was started and a composing
 * containerizer tries the next one. `reason` is for people.
 */
export type LaunchResult =
  | { status: 'launched' }
  | { status: 'already-launched' }
  | { status: 'not-supported'; reason: string }
  /** A kill stopped the launch (an image pull, say) before the command started: nothing runs. */
  | { status: 'killed'; reason: TaskReason; message: string };

/** What a container has used. Fields an implementation cannot measure are left out. */
export interface ResourceUsage {
  /** User plus system CPU time of every process of the container. */
  cpuSeconds?: number;
  /** The container's resident memory now (0 once it has terminated). */
  memBytes?: number;
  /** The highest resident memory the container reached. */
  memPeakBytes?: number;
}

/** How a container ended: what the agent turns into the task's terminal status. */
export interface Termination {
  state: 'TASK_FINISHED' | 'TASK_FAILED' | 'TASK_KILLED';
  reason?: TaskReason;
  /** For people, e.g. "exited with code 3". */
  message: string;
  /** The command's exit code, when it exited rather than being ended by a signal. */
  exitCode?: number;
  /** The signal that ended the command, as a name (`SIGKILL`), when one did. */
  signal?: string;
  /** The last measurement taken before the container ended. */
  usage?: ResourceUsage;
}

/** A container the agent knew of before it restarted, with what it checkpointed for it. */
export interface RecoverableContainer {
  containerId: string;
  sandbox: string;
  /**
   * What {@link Containerizer.checkpoint} returned for this container, stored by the agent as
   * opaque JSON. A composing containerizer wraps its children's checkpoints with the child's name
   * so that its `recover` can hand each container to the child that launched it.
   */
  checkpoint?: Record<string, unknown>;
}

export interface KillOptions {
  /** How long the container has between SIGTERM and SIGKILL; default 3000 ms. 0: at once. */
  gracePeriodMs?: number;
  /** The reason the termination carries; default `KILLED_BY_FRAMEWORK`. */
  reason?: TaskReason;
}

/**
 * Runs tasks in containers on one agent: the seam between the agent and the way a task is
 * isolated (`process`, `cgroup`, `docker`, or a `composing` containerizer choosing among those),
 * modelled on Mesos' `Containerizer` and Nomad's task driver.
 *
 * Life of a container: `launch` → any number of `wait`, `usage`, `checkpoint` and `kill` calls →
 * `destroy`. The agent calls `recover` once, before its first `launch`, after every start.
 *
 * Concurrency: everything runs on the agent's one JS thread, but calls interleave at every
 * `await`, so every method may be called while others are in flight, for the same container or
 * another, and each implementation must give the same answers as if the calls had run one after
 * the other in the order they were made. In particular: two concurrent `launch` calls with one id
 * start one process (one gets `launched`, the other `already-launched`); `wait`, `kill`,
 * `usage` and `destroy` called while a `launch` of that id is in flight act once it has settled;
 * any number of `wait` calls may be pending at once and all get the same termination object.
 *
 * What every implementation guarantees:
 * - A container ends when its command's main process ends: whatever that process left running
 *   (background children) is killed before `wait` resolves, so a terminated container holds no
 *   process, and after `destroy` nothing the container started is left on the host.
 * - A termination is decided once and never changes: a `kill` after the container ended does not
 *   turn TASK_FINISHED into TASK_KILLED, and a container that was asked to die is TASK_KILLED
 *   even if it then exits 0 in its SIGTERM handler.
 * - `exitCode` 0 is TASK_FINISHED; any other code is TASK_FAILED with reason
 *   `COMMAND_EXITED_NONZERO`; a signal nobody asked for is TASK_FAILED with `signal` set (as far as
 *   the implementation can tell a signal from an exit code: see its notes); a limit the
 *   implementation enforces is TASK_FAILED with its `CONTAINER_LIMITATION_*` reason.
 * - A running container keeps the agent's event loop alive, as a child process does, so that a
 *   pending `wait` is never dropped by Node exiting under it; once the container has terminated,
 *   no timer or watcher of it is left.
 * - The sandbox is the agent's: a containerizer writes only `stdout`, `stderr`, its own dot-files
 *   and the workspace (made empty when the agent has not made it) into it, and never deletes it.
 *   The task runs in the workspace, and nothing the containerizer writes or reads is in there.
 */
export interface Containerizer {
  readonly name: ContainerizerName | 'composing';

  /**
   * After an agent restart, takes the containers the agent knew of back: each container of this
   * containerizer whose process still runs is watched again (its `wait` resolves when it ends);
   * one that ended while the agent was away gets its termination at once (from the exit code it
   * left behind if the implementation keeps one, else TASK_FAILED with reason `AGENT_RESTARTED`).
   * Returns the ids of those containers, which `wait`, `kill`, `usage` and `destroy` then know;
   * ids it does not recognize as its own are left out, and the agent reports them lost. Containers
   * this containerizer started that are not in `known` (orphans, e.g. the agent died between
   * launch and checkpoint) are destroyed before it returns.
   */
  recover(known: readonly RecoverableContainer[]): Promise<string[]>;

  /**
   * Starts the spec's command and resolves once it runs (not once it ends). Rejects with a
   * {@link ContainerLaunchError} when the spec is invalid or the container cannot be started; the
   * id is then unknown again and may be launched anew. After `destroy` an id is forgotten and a
   * new `launch` of it starts a new container.
   */
  launch(spec: ContainerSpec): Promise<LaunchResult>;

  /**
   * Resolves once the container has terminated and everything in it is gone, or at once if it
   * already has; `undefined` for an id this containerizer does not know (never launched, a failed
   * launch, or destroyed). Callable any number of times, concurrently; never rejects.
   */
  wait(containerId: string): Promise<Termination | undefined>;

  /**
   * Asks the whole container to stop: SIGTERM to every process in it, then SIGKILL to whatever is
   * still alive `gracePeriodMs` later. Resolves once the container has terminated; its
   * termination is TASK_KILLED with the given reason. A no-op for an unknown or terminated
   * container. Calling it again while a kill is under way keeps the first reason but may shorten
   * the grace period (a later deadline never postpones an earlier SIGKILL).
   */
  kill(containerId: string, options?: KillOptions): Promise<void>;

  /**
   * Kills the container at once if it is still running (SIGKILL, no grace), waits until it has
   * terminated, and releases everything the containerizer holds for it (processes, cgroups,
   * Docker containers, checkpoint files, timers); then forgets the id. Idempotent and safe for
   * unknown ids; concurrent calls share one destruction. Pending `wait` calls still resolve.
   */
  destroy(containerId: string): Promise<void>;

  /**
   * What the container uses now (measured at the call) or, once it has terminated, what it had
   * used at the end; `undefined` for an unknown id.
   */
  usage(containerId: string): Promise<ResourceUsage | undefined>;

  /**
   * The JSON record the agent stores for a launched container so that a later `recover` can find
   * its process again (e.g. pid and start time, to tell it from a reused pid). Synchronous so the
   * agent can store it in the same step as the task's state. `undefined` while a launch is in
   * flight and for unknown ids.
   */
  checkpoint(containerId: string): Record<string, unknown> | undefined;

  /**
   * Who checks the container's source out, and whom the workspace then belongs to, once its
   * launch has begun; `undefined` for an id it is not launching. Absent where tasks run as the
   * agent's own user, whose checkouts run as the agent.
   */
  workspaceOwner?(containerId: string): WorkspaceOwnership | undefined;

  /**
   * Gives the spec's task a container made ahead of it, if one of its kind waits, for its launch
   * to run it in: its sandbox takes the spec's sandbox's place, so it is called before the agent
   * makes the sandbox. True if it did; the agent then either launches the spec or destroys the
   * container id, which releases the container.
   */
  takeWarm?(spec: ContainerSpec): Promise<boolean>;

  /**
   * Undoes what it made ahead of tasks to come ({@link takeWarm}); the tasks' containers run on.
   * For the agent's end.
   */
  close?(): Promise<void>;

  /**
   * Whether this containerizer checks a task's commit out inside its container
   * ({@link ContainerSpec.checkout}), where the checkout has the task's user, namespaces and
   * limits and no program more than git; the agent then only puts the commit's objects into the
   * workspace.
   */
  readonly checksOut?: boolean;
}

/** The host users of a task's workspace (each id is a user and a group alike). */
export interface WorkspaceOwnership {
  /** The host user the checkout runs as: one no other task has while the container lives. */
  checkoutUser: number;
  /** The workspace's owner once checked out: the host user the container's root is. */
  owner: number;
}

/**
 * The mode a sandbox's `stdout` and `stderr` are created with: the agent's alone. A task's output
 * may hold its secrets (the server masks them only once it has the output), and a task that runs
 * as another user than the agent (the native containerizer's) writes them through descriptors, or
 * through runc's pipes, never opening them itself.
 */
export const OUTPUT_FILE_MODE = 0o600;

/** The name of the {@link workspaceOf workspace} inside a sandbox. */
export const WORKSPACE_DIR = 'workspace';

/**
 * The task's working directory inside its sandbox, `<sandbox>/workspace`: where the agent checks
 * out its source and places its inputs before the launch, and where it collects its artifacts
 * after. The only part of the sandbox the task is given.
 */
export function workspaceOf(sandbox: string): string {
  return join(sandbox, WORKSPACE_DIR);
}

/**
 * A container id: it names files, cgroups and Docker containers, so it is restricted to characters
 * safe in all of them, and cannot be `.` or `..`.
 */
export const CONTAINER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,200}$/;

/** Why `launch` rejected: the reason the agent reports the task with, and a message for people. */
export class ContainerLaunchError extends Error {
  constructor(
    readonly reason: Extract<TaskReason, 'TASK_INVALID' | 'CONTAINER_LAUNCH_FAILED'>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ContainerLaunchError';
  }
}

/** Throws a `TASK_INVALID` {@link ContainerLaunchError} unless `id` is a valid container id. */
export function assertValidContainerId(id: string): void {
  if (!CONTAINER_ID_PATTERN.test(id) || id === '.' || id === '..') {
    throw new ContainerLaunchError(
      'TASK_INVALID',
      `invalid container id ${JSON.stringify(id)}: it must be 1 to 200 of A-Z a-z 0-9 _ . - and not . or ..`,
    );
  }
}
