import { errorMessage } from '@kiln/common';
import type { TaskReason } from '@kiln/contracts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  assertValidContainerId,
  CONTAINER_ID_PATTERN,
  ContainerLaunchError,
  type Containerizer,
  type ContainerSpec,
  type KillOptions,
  type LaunchResult,
  type RecoverableContainer,
  type ResourceUsage,
  type Termination,
} from '../containerizer';
import {
  assertValidSpec,
  DEFAULT_PATH,
  EXIT_CODE_FILE,
  findExecutable,
  openOutput,
  prepareWorkspace,
} from '../launching';
import { hasExited, listProcesses, readProcStatSync, type ProcStat } from '../process/proc';
import {
  killMessage,
  terminationOf,
  type KillRequest,
  type LeaderExit,
} from '../process/termination';
import { environmentProblem, readRecordedExit, wrapperArguments } from '../process/wrapper';
import { enableControllers, listChildCgroups, TaskCgroup, type CgroupVersion } from './cgroups';
import {
  CONTROLLER_NAMES,
  CONTROLLERS,
  type CgroupController,
  type CgroupLimits,
} from './controllers';
import {
  detectCgroups,
  v1Hierarchies,
  type CgroupDetection,
  type CgroupTools,
  type DetectCgroupsOptions,
} from './detect';
import { launcherArguments } from './launcher';
import { SharedSampler } from '../shared-sampler';

export interface CgroupContainerizerOptions {
  /**
   * The cgroup every task's cgroup is made under, in each hierarchy: `<parent>/<containerId>`.
   * It belongs to this agent: `recover` destroys every cgroup in it that the agent does not know
   * of. Default `kiln`.
   */
  parent?: string;
  /** Where the cgroup hierarchies are mounted; default `/sys/fs/cgroup`. */
  root?: string;
  /** How many processes a task may have at once (`pids.max`); default 1024. */
  pidsMax?: number;
  /** The size of a task's private `/tmp` in MiB; default the task's memory, or 64 without one. */
  tmpSizeMiB?: number;
  /** The kill grace period when `kill` is given none, and for timeouts; default 3000 ms. */
  defaultGracePeriodMs?: number;
  /** How often running containers are measured; default 250 ms. */
  sampleIntervalMs?: number;
}

/** What `checkpoint` returns and `recover` takes back. */
export interface CgroupCheckpoint {
  /** The launcher's pid (then `unshare`'s): the container ends when it does. */
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: tells the process from a later one given the same pid. */
  startTime: number;
  /** The task's cgroup inside each hierarchy, e.g. `kiln/<containerId>`. */
  cgroup: string;
  maxCompletionTimeMs?: number;
  /** When the timeout fires, in epoch milliseconds: a recovered container keeps its deadline. */
  deadline?: number;
}

const DEFAULT_PARENT = 'kiln';
const DEFAULT_PIDS_MAX = 1024;
const DEFAULT_TMP_SIZE_MIB = 64;
const DEFAULT_GRACE_PERIOD_MS = 3_000;
const DEFAULT_SAMPLE_INTERVAL_MS = 250;
/** How often a container's cgroup is checked for survivors once its leader has ended. */
const CGROUP_POLL_MS = 50;
/** How long survivors get after SIGKILL before the container is declared ended anyway. */
const SIGKILL_PATIENCE_MS = 10_000;

type Phase = 'launching' | 'running' | 'ending' | 'terminated';

interface Container {
  readonly id: string;
  readonly sandbox: string;
  phase: Phase;
  /** Settles when `launch` (or `recover`) has: true if the container exists. */
  readonly launched: Promise<boolean>;
  settleLaunch(launched: boolean): void;
  cgroup?: TaskCgroup;
  limits: CgroupLimits;
  checkpoint?: CgroupCheckpoint;
  /** The launcher, while the containerizer that launched it runs; none after a recovery. */
  child?: ChildProcess;
  /** The last measurement; the peak is kept here where the kernel keeps none (v2 before 5.19). */
  usage?: ResourceUsage;
  kill?: KillRequest & { deadline: number; timer?: NodeJS.Timeout };
  timeout?: NodeJS.Timeout;
  readonly termination: Promise<Termination>;
  terminate(termination: Termination): void;
  final?: Termination;
  destroyed?: Promise<void>;
}

interface Host {
  version: CgroupVersion;
  root: string;
  tools: CgroupTools;
}

/**
 * Runs each task in a cgroup of its own, `<parent>/<containerId>` in every hierarchy, with the
 * limits of its resources (CPU quota, hard memory limit, a pids limit), in new PID, mount, UTS and
 * IPC namespaces (and network, for `network: 'none'`), with a private `/tmp`. cgroup v1 and v2
 * are both supported, behind {@link TaskCgroup} and one module per controller; which one the host
 * has is detected on first use. Needs root: see {@link detectCgroups}.
 *
 * A container is a chain of processes, each `exec`ing the next but for `unshare`, which forks:
 * the launcher (`launcher.ts`) joins the cgroup and becomes `unshare`, whose child is pid 1 of the
 * new namespaces; it mounts `/tmp` and becomes the exit-code wrapper of the process containerizer
 * (`wrapper.ts`), which runs the command. `unshare` is the agent's child and exits with the
 * wrapper's code; when the wrapper ends, the kernel kills the rest of its PID namespace, and
 * whatever is left in the cgroup is killed with it (freezer or `cgroup.kill`), so a process that
 * daemonizes cannot escape as it can from a process group. Only a root task that writes itself
 * into another cgroup could. The task runs in the sandbox's workspace but sees the host's
 * filesystem (all of it but `/tmp`) as the agent's user: unlike Docker's mount, the workspace
 * keeps a repository's files off the agent's own, not a hostile command.
 */
export class CgroupContainerizer implements Containerizer {
  readonly name = 'cgroup' as const;

  /** Whether this host can run the cgroup containerizer, or why not: for the agent to fingerprint. */
  static detect(options?: DetectCgroupsOptions): Promise<CgroupDetection> {
    return detectCgroups(options);
  }

  private readonly containers = new Map<string, Container>();
  private readonly parent: string;
  private readonly root: string | undefined;
  private readonly pidsMax: number;
  private readonly tmpSizeMiB: number | undefined;
  private readonly defaultGracePeriodMs: number;
  private detection: Promise<CgroupDetection> | undefined;
  private readonly sampler: SharedSampler;

  constructor(options: CgroupContainerizerOptions = {}) {
    const parent = options.parent ?? DEFAULT_PARENT;
    if (!isCgroupPath(parent)) {
      throw new Error(`invalid cgroup parent ${JSON.stringify(parent)}: a relative cgroup path`);
    }
    this.parent = parent;
    this.root = options.root;
    this.pidsMax = options.pidsMax ?? DEFAULT_PIDS_MAX;
    this.tmpSizeMiB = options.tmpSizeMiB;
    this.defaultGracePeriodMs = options.defaultGracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS;
    this.sampler = new SharedSampler(options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS, () =>
      this.sampleAll(),
    );
  }

  async recover(known: readonly RecoverableContainer[]): Promise<string[]> {
    const host = await this.host();
    if (!host.supported) return [];
    const recovered: string[] = [];
    for (const { containerId, sandbox, checkpoint } of known) {
      if (this.containers.has(containerId)) {
        recovered.push(containerId);
        continue;
      }
      if (!CONTAINER_ID_PATTERN.test(containerId)) continue;
      const found = parseCheckpoint(checkpoint);
      const cgroup = this.cgroupOf(host, found?.cgroup ?? `${this.parent}/${containerId}`);
      // Without a checkpoint, a cgroup of ours with that name is the only sign it is ours.
      if (found === undefined && !(await cgroup.exists())) continue;
      await this.reattach(containerId, sandbox, cgroup, found);
      recovered.push(containerId);
    }
    const listed = new Set(known.map((container) => container.containerId));
    const parentDirs = new TaskCgroup(host.version, host.root, this.parent, this.hierarchies(host))
      .dirs()
      .filter((dir, index, dirs) => dirs.indexOf(dir) === index);
    for (const name of await listChildCgroups(parentDirs)) {
      if (listed.has(name) || this.containers.has(name)) continue;
      await destroyCgroup(this.cgroupOf(host, `${this.parent}/${name}`));
    }
    return recovered;
  }

  async launch(spec: ContainerSpec): Promise<LaunchResult> {
    assertValidContainerId(spec.containerId);
    if (this.containers.has(spec.containerId)) return { status: 'already-launched' };
    assertValidSpec(spec);
    if (spec.image !== undefined) {
      return {
        status: 'not-supported',
        reason: 'the cgroup containerizer cannot run images; docker is needed',
      };
    }
    const problem = environmentProblem(spec.environment, 'cgroup');
    if (problem !== undefined) return { status: 'not-supported', reason: problem };

    const container = this.register(spec.containerId, spec.sandbox);
    try {
      const host = await this.host();
      if (!host.supported) {
        this.containers.delete(container.id);
        container.settleLaunch(false);
        return { status: 'not-supported', reason: host.reason };
      }
      await this.start(container, spec, host);
    } catch (error) {
      this.containers.delete(container.id);
      container.settleLaunch(false);
      if (error instanceof ContainerLaunchError) throw error;
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        `container ${container.id} could not be started: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    container.settleLaunch(true);
    return { status: 'launched' };
  }

  async wait(containerId: string): Promise<Termination | undefined> {
    const container = await this.launched(containerId);
    return container?.termination;
  }

  async kill(containerId: string, options: KillOptions = {}): Promise<void> {
    const container = await this.launched(containerId);
    if (container === undefined) return;
    const reason = options.reason ?? 'KILLED_BY_FRAMEWORK';
    this.stop(
      container,
      options.gracePeriodMs ?? this.defaultGracePeriodMs,
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
    if (container.final === undefined) await this.measure(container);
    return (container.final ? container.final.usage : container.usage) ?? {};
  }

  checkpoint(containerId: string): Record<string, unknown> | undefined {
    const checkpoint = this.containers.get(containerId)?.checkpoint;
    return checkpoint === undefined ? undefined : { ...checkpoint };
  }

  /** Detects the host's cgroups once, on first use. */
  private host(): Promise<CgroupDetection> {
    this.detection ??= detectCgroups({
      ...(this.root === undefined ? {} : { root: this.root }),
      controllers: CONTROLLER_NAMES,
    });
    return this.detection;
  }

  private hierarchies(host: Host) {
    return host.version === 'v1' ? v1Hierarchies(CONTROLLER_NAMES) : [];
  }

  private cgroupOf(host: Host, path: string): TaskCgroup {
    return new TaskCgroup(host.version, host.root, path, this.hierarchies(host));
  }

  private controllers(cgroup: TaskCgroup): CgroupController[] {
    return CONTROLLER_NAMES.map((name) => CONTROLLERS[name](cgroup.version));
  }

  /** The container once its launch has settled; `undefined` if it is unknown or failed. */
  private async launched(containerId: string): Promise<Container | undefined> {
    const container = this.containers.get(containerId);
    return container !== undefined && (await container.launched) ? container : undefined;
  }

  private register(id: string, sandbox: string): Container {
    let settleLaunch!: (launched: boolean) => void;
    let terminate!: (termination: Termination) => void;
    const container: Container = {
      id,
      sandbox,
      phase: 'launching',
      launched: new Promise<boolean>((resolve) => (settleLaunch = resolve)),
      settleLaunch: (launched) => settleLaunch(launched),
      limits: {},
      termination: new Promise<Termination>((resolve) => (terminate = resolve)),
      terminate: (termination) => terminate(termination),
    };
    this.containers.set(id, container);
    return container;
  }

  private async start(container: Container, spec: ContainerSpec, host: Host): Promise<void> {
    const { sandbox } = spec;
    const workspace = await prepareWorkspace(spec);
    const environment = { ...spec.environment };
    environment.PATH ??= DEFAULT_PATH;
    // The task sees the host's filesystem (but /tmp), so the host's lookup is the task's.
    const argv = spec.command.shell
      ? ['/bin/sh', '-c', spec.command.value]
      : [
          await findExecutable(spec.command.value, environment.PATH, workspace),
          ...spec.command.arguments,
        ];
    const exitCodeFile = join(sandbox, EXIT_CODE_FILE);
    // An exit code left by an earlier run in this sandbox would be taken for this one's.
    await rm(exitCodeFile, { force: true });

    const cgroup = this.cgroupOf(host, `${this.parent}/${container.id}`);
    const limits: CgroupLimits = {
      cpus: spec.resources.cpus,
      memMiB: spec.resources.mem,
      pidsMax: this.pidsMax,
    };
    // A cgroup left by a launch of this id that the agent lost track of is no home for a new one.
    if (await cgroup.exists()) await destroyCgroup(cgroup);
    await this.createCgroup(cgroup, host);
    try {
      for (const controller of this.controllers(cgroup)) await controller.apply(cgroup, limits);
    } catch (error) {
      await cgroup.remove().catch(() => undefined);
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        `the limits of container ${container.id} could not be set: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    container.cgroup = cgroup;
    container.limits = limits;

    const args = launcherArguments({
      tools: host.tools,
      procsFiles: cgroup.procsFiles(),
      network: spec.network ?? 'host',
      sandbox,
      tmpSizeMiB:
        this.tmpSizeMiB ?? (spec.resources.mem > 0 ? spec.resources.mem : DEFAULT_TMP_SIZE_MIB),
      wrapperArguments: wrapperArguments(exitCodeFile, environment, argv),
    });
    // From the spawn on, nothing awaits until the container is registered as running, so its
    // exit cannot be observed half-launched.
    let child: ChildProcess;
    try {
      const stdout = openOutput(join(sandbox, 'stdout'));
      try {
        const stderr = openOutput(join(sandbox, 'stderr'));
        try {
          child = spawn('/bin/sh', args, {
            // The launcher binds `..` back in: see launcherArguments.
            cwd: workspace,
            env: environment,
            stdio: ['ignore', stdout, stderr],
            detached: true,
          });
        } finally {
          closeSync(stderr);
        }
      } finally {
        closeSync(stdout);
      }
    } catch (error) {
      await cgroup.remove().catch(() => undefined);
      throw error;
    }
    const pid = child.pid;
    if (pid === undefined) {
      const [error] = (await once(child, 'error')) as [Error];
      await cgroup.remove().catch(() => undefined);
      throw error;
    }
    // The launcher cannot have been reaped yet (that takes the event loop), so its stat is there.
    const leader = readProcStatSync(pid);
    if (leader === undefined) {
      await destroyCgroup(cgroup);
      throw new Error(`/proc/${pid}/stat cannot be read`);
    }
    const timeoutMs = spec.maxCompletionTimeMs;
    container.checkpoint = {
      pid,
      startTime: leader.startTime,
      cgroup: cgroup.path,
      ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
      ...(timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs }),
    };
    container.child = child;
    child.once('exit', (code, signal) => {
      void this.end(container, code === null ? { signal: signal ?? 'SIGKILL' } : { code });
    });
    this.running(container);
  }

  /**
   * Makes the task's cgroup in every hierarchy. On v2 a cgroup has only the controllers its
   * parent enables for its children, so the parent (and every level above it, up to the root,
   * which {@link detectCgroups} checked) hands them down first.
   */
  private async createCgroup(cgroup: TaskCgroup, host: Host): Promise<void> {
    if (host.version === 'v2') {
      await enableControllers(host.root, this.parent, CONTROLLER_NAMES);
    }
    for (const dir of cgroup.dirs()) await mkdir(dir, { recursive: true });
  }

  /** Watches a container the agent knew of before its restart. */
  private async reattach(
    id: string,
    sandbox: string,
    cgroup: TaskCgroup,
    found: CgroupCheckpoint | undefined,
  ): Promise<void> {
    const container = this.register(id, sandbox);
    container.cgroup = cgroup;
    container.checkpoint = found ?? (await leaderCheckpoint(cgroup));
    container.settleLaunch(true);
    const checkpoint = container.checkpoint;
    const leader = checkpoint && readProcStatSync(checkpoint.pid);
    if (checkpoint !== undefined && isLeader(leader, checkpoint) && !hasExited(leader)) {
      this.running(container);
      return;
    }
    container.phase = 'running';
    await this.end(
      container,
      (await readRecordedExit(container.sandbox)) ?? { unknown: 'vanished' },
    );
  }

  private running(container: Container): void {
    container.phase = 'running';
    const deadline = container.checkpoint?.deadline;
    if (deadline !== undefined) {
      container.timeout = setTimeout(
        () => {
          const timeout = container.checkpoint?.maxCompletionTimeMs;
          this.stop(
            container,
            this.defaultGracePeriodMs,
            'TIMEOUT',
            killMessage('TIMEOUT', timeout),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      container.timeout.unref();
    }
    this.updateSampler();
    // A first measurement at once, so that even a short task's termination carries one.
    void this.sampler.now();
  }

  /**
   * Starts a kill: SIGTERM now, SIGKILL at the deadline. The first request's reason stands; a
   * later one can only bring the SIGKILL forward.
   */
  private stop(container: Container, gracePeriodMs: number, reason: TaskReason, message: string) {
    const deadline = Date.now() + Math.max(0, gracePeriodMs);
    if (container.kill === undefined) {
      // Once the leader has ended, how it ended stands: a kill cannot rewrite it.
      if (container.phase !== 'running') return;
      container.kill = { reason, message, deadline };
      void this.signal(container, 'SIGTERM');
    } else if (deadline < container.kill.deadline && container.phase !== 'terminated') {
      container.kill.deadline = deadline;
    } else {
      return;
    }
    const kill = container.kill;
    clearTimeout(kill.timer);
    if (gracePeriodMs <= 0) {
      void this.signal(container, 'SIGKILL');
    } else {
      kill.timer = setTimeout(() => void this.signal(container, 'SIGKILL'), gracePeriodMs);
      kill.timer.unref();
    }
  }

  /**
   * Signals every process of the container: those in its cgroup (SIGKILL through `killAll`, which
   * no fork escapes), and the launcher itself, which is not in the cgroup until it has joined it:
   * a kill right after the launch must not miss it.
   */
  private async signal(container: Container, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = container.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
    }
    const cgroup = container.cgroup;
    if (cgroup === undefined) return;
    await (signal === 'SIGKILL' ? cgroup.killAll() : cgroup.signal(signal)).catch(() => undefined);
  }

  /**
   * The leader has ended, so the container ends: whatever it left in the cgroup is killed (at
   * once, or when a kill under way reaches its SIGKILL); once the cgroup is empty its last
   * measurement and its limits' counters are read, it is removed, and the termination is decided.
   * Never rejects: it runs from event handlers.
   */
  private async end(container: Container, exit: LeaderExit): Promise<void> {
    if (container.phase !== 'running') return;
    container.phase = 'ending';
    clearTimeout(container.timeout);
    const cgroup = container.cgroup;
    let limitation: TaskReason | undefined;
    if (cgroup !== undefined) {
      try {
        await this.untilCgroupEmpty(container, cgroup);
        await this.measure(container);
        limitation = await this.limitation(cgroup);
        // Should this fail, the next recover takes the cgroup for an orphan's and removes it.
        await cgroup.remove();
      } catch {
        // The cgroup cannot be read or removed: end the container with what is known.
      }
    }
    clearTimeout(container.kill?.timer);
    const usage = container.usage === undefined ? undefined : { ...container.usage, memBytes: 0 };
    let termination = terminationOf(exit, container.kill, usage);
    if (termination.state === 'TASK_FAILED' && limitation !== undefined) {
      termination = {
        ...termination,
        reason: limitation,
        message: `${limitationMessage(limitation, container.limits)}; ${termination.message}`,
      };
    }
    container.phase = 'terminated';
    container.final = termination;
    container.terminate(termination);
    this.updateSampler();
  }

  private async untilCgroupEmpty(container: Container, cgroup: TaskCgroup): Promise<void> {
    let sigkillSince: number | undefined;
    while ((await cgroup.processes()).length > 0) {
      const now = Date.now();
      if (container.kill === undefined || now >= container.kill.deadline) {
        sigkillSince ??= now;
        if (now - sigkillSince > SIGKILL_PATIENCE_MS) return;
        await cgroup.killAll();
      }
      await sleep(CGROUP_POLL_MS);
    }
  }

  /** The first limit the task hit, if any; it explains a failure. */
  private async limitation(cgroup: TaskCgroup): Promise<TaskReason | undefined> {
    for (const controller of this.controllers(cgroup)) {
      const reason = await controller.limitation(cgroup);
      if (reason !== undefined) return reason;
    }
    return undefined;
  }

  /** Reads the cgroup's counters into the container's usage; keeps the last one if it is gone. */
  private async measure(container: Container): Promise<void> {
    const cgroup = container.cgroup;
    if (cgroup === undefined || container.final !== undefined) return;
    const parts = await Promise.all(
      this.controllers(cgroup).map((controller) => controller.measure(cgroup).catch(() => ({}))),
    );
    const now: ResourceUsage = Object.assign({}, ...parts) as ResourceUsage;
    if (now.cpuSeconds === undefined && now.memBytes === undefined) return;
    const before = container.usage ?? {};
    container.usage = {
      // Counters never run backwards, but a read of a cgroup being removed may come back short.
      cpuSeconds: Math.max(before.cpuSeconds ?? 0, now.cpuSeconds ?? 0),
      memBytes: now.memBytes ?? before.memBytes ?? 0,
      memPeakBytes: Math.max(before.memPeakBytes ?? 0, now.memPeakBytes ?? 0, now.memBytes ?? 0),
    };
  }

  private async release(container: Container): Promise<void> {
    try {
      if (await container.launched) {
        this.stop(container, 0, 'KILLED_BY_FRAMEWORK', 'killed when its container was destroyed');
        await container.termination;
        // `end` removed it unless that failed; the retry is cheap, and idempotent.
        if (container.cgroup !== undefined) await destroyCgroup(container.cgroup);
      }
    } finally {
      if (this.containers.get(container.id) === container) this.containers.delete(container.id);
    }
  }

  /** Ticks while any container runs; keeps the process alive only for recovered ones. */
  private updateSampler(): void {
    const live = [...this.containers.values()].filter((c) => c.phase === 'running');
    this.sampler.update(
      live.length,
      live.some((container) => container.child === undefined),
    );
  }

  private async sampleAll(): Promise<void> {
    const live = [...this.containers.values()].filter((c) => c.phase === 'running');
    await Promise.all(
      live.map(async (container) => {
        await this.measure(container);
        const checkpoint = container.checkpoint;
        if (container.child !== undefined || container.phase !== 'running') return;
        const leader = checkpoint && readProcStatSync(checkpoint.pid);
        if (checkpoint === undefined || !isLeader(leader, checkpoint) || hasExited(leader)) {
          const exit: LeaderExit = (await readRecordedExit(container.sandbox)) ?? {
            unknown: 'unrecorded',
          };
          // Not awaited: the cgroup may take a grace period to empty, and sampling goes on.
          void this.end(container, exit);
        }
      }),
    );
  }
}

/** Kills everything in a cgroup this containerizer no longer watches, and removes it. */
async function destroyCgroup(cgroup: TaskCgroup): Promise<void> {
  const deadline = Date.now() + SIGKILL_PATIENCE_MS;
  while ((await cgroup.processes()).length > 0 && Date.now() < deadline) {
    await cgroup.killAll();
    await sleep(CGROUP_POLL_MS);
  }
  await cgroup.remove();
}

/** The message that says which limit a failed task hit. */
function limitationMessage(reason: TaskReason, limits: CgroupLimits): string {
  switch (reason) {
    case 'CONTAINER_LIMITATION_MEMORY':
      return `killed by the OOM killer at its memory limit of ${limits.memMiB ?? '?'} MiB`;
    case 'CONTAINER_LIMITATION_PIDS':
      return `reached its limit of ${limits.pidsMax ?? '?'} processes`;
    default:
      return `hit a limit (${reason})`;
  }
}

/**
 * The checkpoint of a container the agent has none for, from its cgroup: its leader is the one
 * process in it whose parent is not (`unshare`, or the launcher before it), the earliest if
 * several are.
 */
async function leaderCheckpoint(cgroup: TaskCgroup): Promise<CgroupCheckpoint | undefined> {
  const pids = new Set(await cgroup.processes());
  if (pids.size === 0) return undefined;
  const members = (await listProcesses()).filter((p) => pids.has(p.pid) && !hasExited(p));
  const roots = members.filter((p) => !pids.has(p.ppid)).sort((a, b) => a.startTime - b.startTime);
  const leader = roots[0];
  return leader === undefined
    ? undefined
    : { pid: leader.pid, startTime: leader.startTime, cgroup: cgroup.path };
}

function isLeader(stat: ProcStat | undefined, checkpoint: CgroupCheckpoint): stat is ProcStat {
  return (
    stat !== undefined && stat.pid === checkpoint.pid && stat.startTime === checkpoint.startTime
  );
}

/** A relative cgroup path of safe names: never `..`, never absolute. */
function isCgroupPath(path: string): boolean {
  return path
    .split('/')
    .every((level) => /^[A-Za-z0-9_.-]+$/.test(level) && level !== '.' && level !== '..');
}

function parseCheckpoint(value: unknown): CgroupCheckpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, startTime, cgroup, maxCompletionTimeMs, deadline } = value as Record<
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
  };
}
