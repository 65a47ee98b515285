import { errorMessage, withTimeout } from '@kiln/common';
import Docker from 'dockerode';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CONTAINER_ID_PATTERN,
  ContainerLaunchError,
  type Containerizer,
  type ContainerSpec,
  type RecoverableContainer,
  type ResourceUsage,
  type Termination,
  type WorkspaceOwnership,
} from '../containerizer';
import type { IdPool } from '../cgroup/id-pool';
import { assertValidSpec, prepareWorkspace } from '../launching';
import { LifecycleContainerizer } from '../lifecycle/lifecycle-containerizer';
import { ContainerLifecycle, type LiveContainer } from '../lifecycle/container-lifecycle';
import { terminationOf } from '../lifecycle/termination';
import {
  checkpointOf,
  LABELS,
  NETWORK_ROLE,
  parseCheckpoint,
  type DockerCheckpoint,
} from './checkpoint';
import { taskContainerOptions } from './create-options';
import {
  cgroupCounter,
  diedBeforeStart,
  canonicalImageName,
  isImageReference,
  limitFilesOf,
  mergeUsage,
  removeDockerContainer,
  SandboxOutput,
  statusCodeOf,
  usageOfStats,
  type DockerStatsSample,
  type LimitFiles,
} from './docker-support';
import { Images, type RegistryCredentials } from './images';
import { pipeOutput, resumedOutput, type Output } from './output';
import { TaskNetworks } from './task-network';
import { stopUserModeNetworks, userModeNetworks } from './user-mode-network';

export { LABELS, type DockerCheckpoint } from './checkpoint';
export { CAPABILITIES, WORKSPACE_MOUNT_PATH } from './create-options';
export type { RegistryCredentials } from './images';

export interface DockerContainerizerOptions {
  /** The engine to use; default: dockerode's default, `/var/run/docker.sock` or `DOCKER_HOST`. */
  docker?: Docker;
  /** Credentials per registry host (`registry.example.com:5000`, `docker.io`) for pulls. */
  registryAuth?: Record<string, RegistryCredentials>;
  /**
   * The most processes a container may have; default 1024. A container that reaches it is ended
   * with `CONTAINER_LIMITATION_PIDS` (a fork bomb would otherwise hold it until its timeout).
   */
  pidsLimit?: number;
  /**
   * Let tasks share the host's network: for trusted installations only (the agent-level
   * `KILN_AGENT_HOST_NETWORK`). Without it every container gets a network namespace of its own
   * with outbound access through slirp4netns (host loopback cut off), and a spec that asks for
   * `host` is not supported.
   */
  hostNetwork?: boolean;
  /** The slirp4netns program; default: found in the system's directories at the first launch. */
  slirp4netns?: string;
  /**
   * Written into every container's `io.kiln.owner` label, so that agents sharing one engine
   * (or tests running side by side) recover and clean up only their own containers. One agent per
   * owner. Default `agent`.
   */
  owner?: string;
  /** The kill grace period when `kill` is given none, and for timeouts; default 3000 ms. */
  defaultGracePeriodMs?: number;
  /** How often running containers are measured and checked against their limits; default 500 ms. */
  sampleIntervalMs?: number;
  /**
   * Host ids for the tasks' checkouts, one per container from its launch until it is destroyed
   * (the agent's pool, shared with the native containerizer). Without it, the agent checks the
   * source out as itself.
   */
  idPool?: IdPool;
}

export type DockerDetection = { available: true } | { available: false; reason: string };

/** Starts of a task whose container died before its command ran (see startFresh). */
const START_ATTEMPTS = 3;

/** The host's root: the container's root, as the engine runs it without user remapping. */
const ROOT = 0;
const DEFAULT_PIDS_LIMIT = 1024;
const DEFAULT_OWNER = 'agent';
const DEFAULT_GRACE_PERIOD_MS = 3_000;
const DEFAULT_SAMPLE_INTERVAL_MS = 500;
/**
 * How long a sampling round waits for one container's measurement. The engine's stats call has no
 * deadline of its own: one container it does not answer for must not hold the others' samples and
 * limit checks (a fork bomb elsewhere would go on until its timeout).
 */
const SAMPLE_WAIT_MS = 2_000;
/** How long the output streams get to drain after the container has ended. */
const OUTPUT_DRAIN_MS = 10_000;
const PING_TIMEOUT_MS = 5_000;

interface DockerContainer extends LiveContainer<DockerCheckpoint> {
  docker?: Docker.Container;
  /** The engine's id of its network holder, when it has a user-mode network. */
  holderId?: string;
  output?: Output;
  usage?: ResourceUsage;
  /** Where its cgroups tell of the limits it hit, when the engine runs on this host. */
  limitFiles?: LimitFiles;
  /** The measurement under way, which a later round joins rather than asking the engine again. */
  sampling?: Promise<void>;
}

/**
 * Runs each task in a Docker container from its spec's image: the only containerizer that runs
 * images. The engine enforces the cpu, memory (without swap) and process limits, and the agent
 * ends a container that reaches one (`CONTAINER_LIMITATION_MEMORY`, `…_PIDS`). The container is
 * never privileged, keeps only {@link CAPABILITIES}, cannot gain privileges (`no-new-privileges`),
 * keeps the engine's default seccomp profile, has a read-only root filesystem with private tmpfs
 * `/tmp` and `/dev/shm`, its own IPC and cgroup namespaces, its own network namespace with
 * outbound access through slirp4netns and the host's loopback cut off (see `task-network.ts`;
 * `none` for a spec of network `none`; the host's only if the agent opted in:
 * {@link DockerContainerizerOptions.hostNetwork}), and
 * sees of the host only the sandbox's workspace (mounted at {@link WORKSPACE_MOUNT_PATH}, its
 * working directory): the output files beside it, which the agent reads back, are out of its
 * reach. Its root is the host's root unless the engine remaps users (`userns-remap`, a daemon
 * setting: see docs/security.md).
 *
 * The command runs under Docker's init (tini) as PID 1, which forwards the agent's SIGTERM to the
 * command's whole process group (`TINI_KILL_PROCESS_GROUP`, set in every container: a shell
 * running steps would otherwise take the signal alone, and a step's TERM trap never run) and
 * reaps orphans; when the command ends, the engine kills whatever it left in the container. The
 * output is taken from the engine (attached before the start, so nothing is missed) and appended
 * to the sandbox files by the agent; after an agent restart the engine's log is replayed,
 * skipping what was already written.
 *
 * Limits: the engine reports a command that a signal ended as exit code 128 + n, so an unasked
 * signal shows as that exit code, not as `signal`. Besides the spec's environment the task sees
 * the image's own `ENV`, the `HOSTNAME` the engine sets, `TINI_KILL_PROCESS_GROUP=1`, and `HOME`
 * (`/tmp` when the spec gives none), nothing of the agent's. A program missing from the image
 * fails the task with exit code 127 rather than the launch; an image without `/bin/sh` cannot
 * hold a network, and fails the launch unless the spec asks for network `none`. The engine keeps the environment
 * (secrets included) in the container's configuration, root's only, until `destroy` removes it.
 */
export class DockerContainerizer
  extends LifecycleContainerizer<DockerContainer, number | undefined>
  implements Containerizer
{
  readonly name = 'docker' as const;

  private readonly docker: Docker;
  private readonly images: Images;
  private readonly networks: TaskNetworks;
  private readonly pidsLimit: number;
  private readonly hostNetwork: boolean;
  private readonly owner: string;
  private readonly idPool: IdPool | undefined;
  protected readonly containers: ContainerLifecycle<DockerContainer, number | undefined>;

  constructor(options: DockerContainerizerOptions = {}) {
    super();
    this.docker = options.docker ?? new Docker();
    this.images = new Images(this.docker, options.registryAuth ?? {});
    this.pidsLimit = options.pidsLimit ?? DEFAULT_PIDS_LIMIT;
    this.hostNetwork = options.hostNetwork ?? false;
    this.owner = options.owner ?? DEFAULT_OWNER;
    const idPool = options.idPool;
    this.idPool = idPool;
    if (idPool !== undefined) {
      this.workspaceOwner = (containerId) =>
        this.containers.has(containerId)
          ? { checkoutUser: idPool.take(containerId).hostId, owner: ROOT }
          : undefined;
    }
    this.networks = new TaskNetworks(this.docker, this.owner, options.slirp4netns);
    this.containers = new ContainerLifecycle<DockerContainer, number | undefined>(
      {
        create: (base) => ({ ...base }),
        refusal: (spec) => this.refusal(spec),
        start: async (container, spec) => {
          await this.launchImage(container, spec);
          return { status: 'launched' };
        },
        signal: (container, signal) => this.signal(container, signal),
        ended: (container, exitCode) => this.ended(container, exitCode),
        measure: (container) => this.sample(container),
        usage: (container) => container.usage,
        sample: async (running) => {
          await Promise.all(
            running.map((container) =>
              withTimeout(this.sample(container), SAMPLE_WAIT_MS).catch(() => undefined),
            ),
          );
        },
        // The engine's wait request holds the event loop, for a recovered container too.
        unheld: () => false,
        release: (container) => this.release(container),
        forget: (container) => this.idPool?.free(container.id),
      },
      {
        defaultGracePeriodMs: options.defaultGracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS,
        sampleIntervalMs: options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS,
      },
    );
  }

  /**
   * With a pool: a host user of it checks the source out (the host's root is the container's
   * root: a git that a commit took over would be it too), then the workspace is root's, as the
   * task runs as root without the engine's user remapping.
   */
  readonly workspaceOwner?: (containerId: string) => WorkspaceOwnership | undefined;

  /** Whether the engine answers, for the agent's fingerprint; the reason when it does not. */
  static async detect(docker: Docker = new Docker()): Promise<DockerDetection> {
    try {
      await withTimeout(docker.ping(), PING_TIMEOUT_MS);
      return { available: true };
    } catch (error) {
      return {
        available: false,
        reason: `the Docker engine does not answer: ${errorMessage(error)}`,
      };
    }
  }

  async recover(known: readonly RecoverableContainer[]): Promise<string[]> {
    const listed = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.managed}=true`, `${LABELS.owner}=${this.owner}`] },
    });
    const byTask = new Map<string, Docker.ContainerInfo>();
    const holders = new Map<string, Docker.ContainerInfo>();
    const orphans: Docker.ContainerInfo[] = [];
    for (const info of listed) {
      const id = info.Labels[LABELS.containerId];
      const found = info.Labels[LABELS.role] === NETWORK_ROLE ? holders : byTask;
      if (id === undefined || found.has(id)) orphans.push(info);
      else found.set(id, info);
    }
    const recovered: string[] = [];
    for (const { containerId, sandbox, checkpoint } of known) {
      const info = byTask.get(containerId);
      byTask.delete(containerId);
      if (this.containers.has(containerId)) {
        recovered.push(containerId);
        continue;
      }
      const saved = parseCheckpoint(checkpoint);
      if (!CONTAINER_ID_PATTERN.test(containerId)) continue;
      if (info !== undefined) {
        const holder = holders.get(containerId);
        holders.delete(containerId);
        await this.reattach(containerId, sandbox, checkpointOf(info, saved), holder?.Id);
      } else if (saved !== undefined) {
        this.vanished(containerId, sandbox, saved);
      } else {
        continue;
      }
      recovered.push(containerId);
    }
    orphans.push(...byTask.values(), ...holders.values());
    await Promise.all(orphans.map((orphan) => removeDockerContainer(this.docker, orphan.Id)));
    // The user-mode networks of tasks that are not running here any more.
    const networks = await userModeNetworks(this.owner);
    const kept = (id: string) => this.containers.get(id)?.phase === 'running';
    await stopUserModeNetworks([...networks].flatMap(([id, pids]) => (kept(id) ? [] : pids)));
    return recovered;
  }

  /** Why this containerizer cannot run a valid spec, if it cannot; throws for an invalid one. */
  private refusal(spec: ContainerSpec): string | undefined {
    assertValidDockerSpec(spec);
    if (spec.image === undefined) return 'the docker containerizer runs images only';
    if (spec.network === 'host' && !this.hostNetwork) {
      return 'this agent gives Docker tasks no host network (KILN_AGENT_HOST_NETWORK is off)';
    }
    return undefined;
  }

  /** Starts the spec's image; undoes its network should it fail. */
  private async launchImage(container: DockerContainer, spec: ContainerSpec): Promise<void> {
    const image = spec.image ?? '';
    try {
      // Checked before the engine sees it: the name goes into its URL paths unescaped.
      if (!isImageReference(image)) {
        throw new ContainerLaunchError(
          'CONTAINER_LAUNCH_FAILED',
          `image ${JSON.stringify(image)} is not a valid image reference ([host[:port]/]name[:tag][@digest])`,
        );
      }
      // In full: never a name the engine could take for a prefix of another image's id.
      await this.startFresh(container, { ...spec, image: canonicalImageName(image) });
    } catch (error) {
      await this.networks.stop(container).catch(() => {
        // Left for the next recover to clean up.
      });
      if (error instanceof ContainerLaunchError) throw error;
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        `container ${container.id} of image ${image} could not be started: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Starts the task, once more from scratch should the engine refuse its start because the
   * container's init died ({@link diedBeforeStart}) or because its network holder ended, so that
   * there was no namespace to join (seen in CI, on a loaded host, with no cause in the holder):
   * nothing of the task ran yet in either case.
   */
  private async startFresh(container: DockerContainer, spec: ContainerSpec & { image: string }) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.start(container, spec);
        return;
      } catch (error) {
        // An engine's refusal, not a lost answer: the task's container did not start.
        const holderEnded =
          statusCodeOf(error) === undefined
            ? undefined
            : await this.networks.holderEnded(container);
        const retried = holderEnded !== undefined || diedBeforeStart(error);
        if (attempt >= START_ATTEMPTS || !retried) {
          if (holderEnded === undefined) throw error;
          throw new Error(
            `its network holder ended before the task joined it (${holderEnded}): ${errorMessage(error)}`,
            { cause: error },
          );
        }
        await this.networks.stop(container);
      }
    }
  }

  private async start(container: DockerContainer, spec: ContainerSpec & { image: string }) {
    const workspace = await prepareWorkspace(spec);
    await this.images.ensure(spec.image, container.launchSignal);
    const network = spec.network ?? (this.hostNetwork ? 'host' : 'private');
    const networkMode =
      network === 'private' ? `container:${await this.networks.start(container, spec)}` : network;

    const stdoutPath = join(spec.sandbox, 'stdout');
    const stderrPath = join(spec.sandbox, 'stderr');
    const stdout = await new SandboxOutput(stdoutPath).opened();
    const stderr = await new SandboxOutput(stderrPath).opened().catch((error: unknown) => {
      stdout.destroy();
      throw error;
    });
    const timeoutMs = spec.maxCompletionTimeMs;
    const checkpoint: Omit<DockerCheckpoint, 'dockerId'> = {
      // Opened already (never through a link), so these are the sizes before the task's first byte.
      stdoutOffset: (await lstat(stdoutPath)).size,
      stderrOffset: (await lstat(stderrPath)).size,
      ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
      ...(timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs }),
    };

    let created: Docker.Container;
    try {
      created = await this.docker.createContainer(
        taskContainerOptions(spec, workspace, checkpoint, networkMode, {
          owner: this.owner,
          pidsLimit: this.pidsLimit,
        }),
      );
    } catch (error) {
      stdout.destroy();
      stderr.destroy();
      throw error;
    }
    try {
      // Attached before the start, so that not a byte of a short task's output is missed.
      const stream = await created.attach({ stream: true, stdout: true, stderr: true });
      container.output = pipeOutput(stream, stdout, stderr);
      await created.start();
    } catch (error) {
      stdout.destroy();
      stderr.destroy();
      await removeDockerContainer(this.docker, created.id);
      throw error;
    }
    container.docker = created;
    container.checkpoint = { dockerId: created.id, ...checkpoint };
    this.running(container);
  }

  /** Finds the container's cgroups on this host, for the limit checks; never rejects. */
  private async findLimitFiles(container: DockerContainer): Promise<void> {
    try {
      const info = await container.docker?.inspect();
      const pid = info?.State.Pid;
      if (info !== undefined && pid !== undefined && pid > 0) {
        container.limitFiles = await limitFilesOf(pid, info.Id);
      }
    } catch {
      // Ended meanwhile, or the engine is elsewhere: the stats' process count still tells.
    }
  }

  /** Watches a container the engine still has, after an agent restart. */
  private async reattach(
    id: string,
    sandbox: string,
    checkpoint: DockerCheckpoint,
    holderId: string | undefined,
  ) {
    const container = this.containers.register(id, sandbox);
    container.checkpoint = checkpoint;
    container.docker = this.docker.getContainer(checkpoint.dockerId);
    if (holderId !== undefined) {
      container.holderId = holderId;
      await this.networks.regain(container);
    }
    try {
      const [stdout, stderr] = await Promise.all([
        resumedOutput(join(sandbox, 'stdout'), checkpoint.stdoutOffset),
        resumedOutput(join(sandbox, 'stderr'), checkpoint.stderrOffset),
      ]);
      // Replays the whole log and, while the container runs, follows it.
      const stream = await container.docker.logs({ follow: true, stdout: true, stderr: true });
      container.output = pipeOutput(stream, stdout, stderr);
    } catch {
      // The output is lost (sandbox gone, log unreadable); the end can still be told.
    }
    container.settleLaunch(true);
    this.running(container);
  }

  /** A container the agent checkpointed that the engine no longer has. */
  private vanished(id: string, sandbox: string, checkpoint: DockerCheckpoint): void {
    const container = this.containers.register(id, sandbox);
    container.checkpoint = checkpoint;
    container.settleLaunch(true);
    this.containers.terminated(container, {
      state: 'TASK_FAILED',
      reason: 'AGENT_RESTARTED',
      message: 'its Docker container vanished while the agent was away',
    });
  }

  private running(container: DockerContainer): void {
    this.containers.running(container);
    // A first measurement at once, so that even a short task's termination may carry one.
    void this.sample(container);
    void this.findLimitFiles(container);
    void this.watch(container);
  }

  /** Waits for the container's end; never rejects. */
  private async watch(container: DockerContainer): Promise<void> {
    let exitCode: number | undefined;
    try {
      const result = (await container.docker?.wait()) as { StatusCode?: unknown } | undefined;
      if (typeof result?.StatusCode === 'number') exitCode = result.StatusCode;
    } catch {
      // Gone or unreachable: the inspection in `ended` tells what it can.
    }
    await this.containers.end(container, exitCode);
  }

  /**
   * Ends a container that hit a limit. Forks refused at its pids limit are read from the host's
   * cgroup (`pids.events`, which counts every refused fork, however briefly the limit was
   * reached), or, for an engine elsewhere, from a stats sample finding it at its limit. An OOM
   * kill is read from the host's cgroup too: a build whose hog was killed could otherwise go on
   * (and on: a loop) until its timeout; for an engine elsewhere it is told at the end.
   */
  private async checkLimits(container: DockerContainer, stats: DockerStatsSample | undefined) {
    const files = container.limitFiles ?? {};
    const refused = files.pids === undefined ? undefined : await cgroupCounter(files.pids, 'max');
    const current = stats?.pids_stats?.current ?? 0;
    if ((refused ?? 0) > 0 || (refused === undefined && current >= this.pidsLimit)) {
      this.containers.limit(
        container,
        'CONTAINER_LIMITATION_PIDS',
        `killed for reaching its limit of ${this.pidsLimit} processes (a fork bomb?)`,
      );
      return;
    }
    const oomKills =
      files.memory === undefined ? undefined : await cgroupCounter(files.memory, 'oom_kill');
    if ((oomKills ?? 0) > 0) {
      const limit = (stats?.memory_stats?.limit ?? 0) / 1024 / 1024;
      this.containers.limit(
        container,
        'CONTAINER_LIMITATION_MEMORY',
        `killed for exceeding its memory limit${limit > 0 ? ` of ${limit} MiB` : ''}`,
      );
    }
  }

  private signal(container: DockerContainer, signal: NodeJS.Signals): void {
    container.docker?.kill({ signal }).catch(() => {
      // 409: not running any more, which is what was wanted.
    });
  }

  /**
   * The container has ended (the engine has killed whatever its command left): reads how, lets
   * the output drain, and tells the termination. Never rejects.
   */
  private async ended(
    container: DockerContainer,
    exitCode: number | undefined,
  ): Promise<Termination> {
    let oomKilled = false;
    let memoryLimit = 0;
    try {
      const info = await container.docker?.inspect();
      oomKilled = info?.State.OOMKilled ?? false;
      memoryLimit = info?.HostConfig.Memory ?? 0;
      exitCode ??= info?.State.ExitCode;
    } catch {
      // Removed under us: only the wait's exit code, if any, is known.
    }
    if (container.output !== undefined) {
      await withTimeout(container.output.done, OUTPUT_DRAIN_MS).catch(() =>
        container.output?.abort(),
      );
    }
    await this.networks.stop(container).catch(() => {
      // `destroy` tries again; a recover cleans up what is left.
    });
    const usage =
      container.usage === undefined ? {} : { usage: { ...container.usage, memBytes: 0 } };
    let termination: Termination;
    if (container.limitation !== undefined) {
      termination = {
        state: 'TASK_FAILED',
        ...container.limitation,
        ...(exitCode === undefined ? {} : { exitCode }),
        ...usage,
      };
    } else if (container.kill === undefined && oomKilled) {
      termination = {
        state: 'TASK_FAILED',
        reason: 'CONTAINER_LIMITATION_MEMORY',
        message: `killed for exceeding its memory limit of ${memoryLimit / 1024 / 1024} MiB`,
        ...(exitCode === undefined ? {} : { exitCode }),
        ...usage,
      };
    } else if (exitCode !== undefined) {
      termination = terminationOf({ code: exitCode }, container.kill, usage.usage);
    } else {
      termination = container.kill
        ? terminationOf({ unknown: 'unrecorded' }, container.kill, usage.usage)
        : {
            state: 'TASK_FAILED',
            message: 'its Docker container vanished, leaving no exit code',
            ...usage,
          };
    }
    return termination;
  }

  /** Removes the engine's container and the task's network once the container has ended. */
  private async release(container: DockerContainer): Promise<void> {
    const dockerId = container.checkpoint?.dockerId;
    if (dockerId !== undefined) await removeDockerContainer(this.docker, dockerId);
    await this.networks.stop(container);
  }

  /** Measures a running container, or joins its measurement under way. Never rejects. */
  private sample(container: DockerContainer): Promise<void> {
    container.sampling ??= this.measure(container).finally(() => (container.sampling = undefined));
    return container.sampling;
  }

  /** A failed measurement is a missed sample. Never rejects. */
  private async measure(container: DockerContainer): Promise<void> {
    try {
      // one-shot: the engine answers at once instead of waiting for a second sample.
      const stats = (await container.docker?.stats({
        stream: false,
        'one-shot': true,
      })) as DockerStatsSample | undefined;
      const usage = stats === undefined ? undefined : usageOfStats(stats);
      if (usage !== undefined && container.phase === 'running') {
        container.usage = mergeUsage(container.usage, usage);
      }
      if (container.phase === 'running') await this.checkLimits(container, stats);
    } catch {
      // Ended or unreachable meanwhile.
    }
  }
}

/** The shared checks, and a network Docker can give on an engine without a bridge. */
function assertValidDockerSpec(spec: ContainerSpec): void {
  assertValidSpec(spec);
  if (spec.network !== undefined && spec.network !== 'host' && spec.network !== 'none') {
    throw new ContainerLaunchError(
      'TASK_INVALID',
      `invalid container spec ${spec.containerId}: unknown network ${JSON.stringify(spec.network)}`,
    );
  }
}
