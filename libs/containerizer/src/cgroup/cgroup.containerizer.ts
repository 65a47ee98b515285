import type { TaskReason } from '@kiln/contracts';
import { heardOfNoMore, sharedLauncher, type LaunchedProcess } from '@kiln/common';
import { chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CONTAINER_ID_PATTERN,
  type Containerizer,
  type ContainerSpec,
  type RecoverableContainer,
  type ResourceUsage,
  type Termination,
  type WorkspaceOwnership,
} from '../containerizer';
import { assertValidSpec, taskEnvironment } from '../launching';
import { LifecycleContainerizer } from '../lifecycle/lifecycle-containerizer';
import { ContainerLifecycle, type LiveContainer } from '../lifecycle/container-lifecycle';
import { terminationOf, type LeaderExit } from '../lifecycle/termination';
import { hasExited, readProcStat } from '../process/proc';
import { isLeader } from '../process/process-group';
import { readRecordedExit } from '../process/wrapper';
import { canDeliver, deliveredTextCommand, privateShellCommand } from './private-shell';
import { afterCheckout } from './checkout-report';
import {
  isCgroupPath,
  leaderCheckpoint,
  parseCheckpoint,
  type CgroupCheckpoint,
} from './checkpoint';
import {
  checkoutReportOf,
  ContainerMaker,
  bundleRecordIn,
  gateOf,
  type BundleRecord,
  HOSTNAME,
  type Host,
  type MadeContainer,
} from './container-maker';
import { listChildCgroups, TaskCgroup } from './cgroups';
import { CONTROLLER_NAMES, type CgroupLimits } from './controllers';
import { limitationMessage, limitationOf, measureCgroup } from './counters';
import {
  detectCgroups,
  v1Hierarchies,
  type CgroupDetection,
  type DetectCgroupsOptions,
} from './detect';
import { IdPool, TASK_ID_RANGES, type IdPoolOptions } from './id-pool';
import { gateWordFile, refuseAtGate, type Runc } from './runc';
import { defaultRuntimeDir } from './runtime-dir';
import { RuntimeState } from './runtime-state';
import { killEarlierShim, untilStarted } from './shim';
import { destroyCgroup, removeFromEveryHierarchy, untilCgroupEmpty } from './teardown';
import { WarmContainers, type ContainerShape } from './warm-containers';

export type { CgroupCheckpoint } from './checkpoint';

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
  /**
   * How often running containers are measured, and checked for a limit they hit (which ends them);
   * default 250 ms.
   */
  sampleIntervalMs?: number;
  /**
   * The agent's own directory for this containerizer: the runc state (root-only), the shared
   * read-only root filesystem and the network helpers' pid files. Never inside any container.
   * Default `/run/kiln/cgroup/<parent>`; every level from `/run/kiln` down is made mode 0711.
   */
  runtimeDir?: string;
  /** Docker's default seccomp profile to filter every task with; see `detect.ts` for the default. */
  seccompProfile?: string;
  /**
   * The host ids containers' users map to: `count` ranges of `size` ids from `firstHostId`, one
   * range per running container. No host user may own ids there, and two agents on one host need
   * pools apart. Default 1024 ranges of 65536 from 2^30, above what `useradd` hands out in
   * `/etc/subuid` (up to 600100000). A pool itself where the agent shares it with the Docker
   * containerizer, whose tasks' checkouts take ids of it too.
   */
  idPool?: IdPoolOptions | IdPool;
  /**
   * Share the agent's network with tasks of network `host` (the spec's default) instead of giving
   * each its own namespace with outbound access through slirp4netns. The task can then reach every
   * service on the host's loopback: for installations that trust every build only.
   */
  hostNetwork?: boolean;
  /**
   * Containers made ahead of their tasks (see `warm-containers.ts`): `count` of the shape of the
   * last task with a shell command, their sandboxes made in `dir` (on the file system of the
   * agent's sandboxes, which they are renamed into; root's, emptied at recovery). None by default.
   */
  warm?: { count: number; dir: string; refillAfterMs?: number };
  /** Told what went wrong where no task's end says it (a warm container that failed). */
  warn?: (message: string) => void;
}

const DEFAULT_PARENT = 'kiln';
const DEFAULT_ID_POOL: IdPoolOptions = { firstHostId: 2 ** 30, ...TASK_ID_RANGES };
const DEFAULT_PIDS_MAX = 1024;
const DEFAULT_GRACE_PERIOD_MS = 3_000;
const DEFAULT_SAMPLE_INTERVAL_MS = 250;
/** The warm containers' directory: searchable by their roots, listable by none but root. */
const WARM_DIR_MODE = 0o711;
interface CgroupContainer extends LiveContainer<CgroupCheckpoint> {
  cgroup?: TaskCgroup;
  /** Its name to runc: its own id, or the name it was made under as a warm container. */
  runcId?: string;
  /** The runc that runs it, which removes it once it has ended. */
  runc?: Runc;
  limits: CgroupLimits;
  /** The shim, while the containerizer that launched it runs; none after a recovery. */
  shim?: LaunchedProcess;
  /** The last measurement; the peak is kept here where the kernel keeps none (v2 before 5.19). */
  usage?: ResourceUsage;
  /** Its cgroups and runc state removed after its end (see `ended`). */
  removed?: Promise<void>;
}

/**
 * Runs each task in a container of `runc`, the OCI runtime: new mount, PID, IPC, UTS, cgroup, user
 * and network namespaces, the container's root mapped to an unprivileged host id range, Docker's
 * default capabilities held inside that user namespace only, `no_new_privileges`, Docker's
 * default seccomp profile, and a read-only root of the host's toolchains with the workspace the one writable
 * place (see `bundle.ts` and `rootfs.ts`). Outbound network goes through slirp4netns, which never
 * reaches the host's loopback. The container's cgroup, `<parent>/<containerId>` in every
 * hierarchy, has the limits of its resources (CPU quota, hard memory limit, a pids limit), set by
 * runc; this class reads its counters, and ends a task that hit its memory or pids limit at once.
 * cgroup v1 and v2 are both read, behind {@link TaskCgroup}. Needs root: see {@link detectCgroups}.
 *
 * A container is run by a shim (`runc.ts`), a detached process outside the container that the
 * agent's launcher starts (`launcher.ts`): it runs `runc run --keep` in the foreground and writes the exit code into the sandbox beside the
 * workspace, where the task cannot reach it, so that neither an agent restart loses it nor the
 * task forges it. Signals go to the container's processes through its cgroup, never to the shim.
 */
export class CgroupContainerizer
  extends LifecycleContainerizer<CgroupContainer, LeaderExit>
  implements Containerizer
{
  readonly name = 'cgroup' as const;
  readonly checksOut = true;

  /** Whether this host can run the cgroup containerizer, or why not: for the agent to fingerprint. */
  static detect(options?: DetectCgroupsOptions): Promise<CgroupDetection> {
    return detectCgroups(options);
  }

  protected readonly containers: ContainerLifecycle<CgroupContainer, LeaderExit>;
  private readonly parent: string;
  private readonly root: string | undefined;
  private readonly pidsMax: number;
  private readonly tmpSizeMiB: number | undefined;
  private readonly runtime: RuntimeState;
  private readonly idPool: IdPool;
  private readonly hostNetwork: boolean;
  private readonly warm: WarmContainers<MadeContainer>;
  private readonly warmDir: string | undefined;
  private warmDirMade: Promise<void> | undefined;
  private readonly seccompProfile: string | undefined;
  private readonly maker: ContainerMaker;
  private detection: Promise<CgroupDetection> | undefined;

  constructor(options: CgroupContainerizerOptions = {}) {
    super();
    const parent = options.parent ?? DEFAULT_PARENT;
    if (!isCgroupPath(parent)) {
      throw new Error(`invalid cgroup parent ${JSON.stringify(parent)}: a relative cgroup path`);
    }
    this.parent = parent;
    this.root = options.root;
    this.pidsMax = options.pidsMax ?? DEFAULT_PIDS_MAX;
    this.tmpSizeMiB = options.tmpSizeMiB;
    this.seccompProfile = options.seccompProfile;
    this.runtime = new RuntimeState(options.runtimeDir ?? defaultRuntimeDir(parent), HOSTNAME);
    this.idPool =
      options.idPool instanceof IdPool
        ? options.idPool
        : new IdPool(options.idPool ?? DEFAULT_ID_POOL);
    this.hostNetwork = options.hostNetwork ?? false;
    this.maker = new ContainerMaker({
      runtime: this.runtime,
      idPool: this.idPool,
      parent,
      pidsMax: this.pidsMax,
      tmpSizeMiB: this.tmpSizeMiB,
      cgroupOf: (host, path) => this.cgroupOf(host, path),
    });
    this.warmDir = options.warm?.dir;
    this.warm = new WarmContainers<MadeContainer>({
      count: options.warm?.count ?? 0,
      dir: options.warm?.dir ?? '',
      ...(options.warm?.refillAfterMs === undefined
        ? {}
        : { refillAfterMs: options.warm.refillAfterMs }),
      make: (runcId, sandbox, shape) => this.makeWarm(runcId, sandbox, shape),
      discard: (made) => this.maker.discard(made, made.runcId, true),
      warn: options.warn ?? (() => undefined),
    });
    this.containers = new ContainerLifecycle<CgroupContainer, LeaderExit>(
      {
        create: (base) => ({ ...base, limits: {} }),
        refusal: (spec) => refusal(spec),
        startsBeforeReady: true,
        start: async (container, spec) => {
          const host = await this.host();
          if (!host.supported) return { status: 'not-supported', reason: host.reason };
          await this.start(container, spec, host);
          return { status: 'launched' };
        },
        signal: (container, signal) => void this.signal(container, signal),
        ended: (container, exit) => this.ended(container, exit),
        measure: (container) => this.measure(container),
        usage: (container) => container.usage,
        sample: (running) => this.sampleAll(running),
        unheld: (container) => heardOfNoMore(container.shim),
        release: (container) => this.release(container),
        // Its id range may go to the next container.
        forget: (container) => this.idPool.free(container.id),
      },
      {
        defaultGracePeriodMs: options.defaultGracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS,
        sampleIntervalMs: options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS,
      },
    );
  }

  async recover(known: readonly RecoverableContainer[]): Promise<string[]> {
    const host = await this.host();
    if (!host.supported) return [];
    // Recovery comes first at an agent's start: the launcher starts beside it, not at a launch.
    sharedLauncher().warm();
    const recovered: string[] = [];
    const runc = this.runtime.runc(host.tools.runc);
    // A container made warm keeps the name it was made under, which its checkpoint records, or
    // without one (the agent died before it wrote it) its bundle.
    const listed = new Set<string>();
    for (const { containerId, sandbox, checkpoint } of known) {
      listed.add(containerId);
      if (this.containers.has(containerId)) {
        recovered.push(containerId);
        continue;
      }
      if (!CONTAINER_ID_PATTERN.test(containerId)) continue;
      const found = parseCheckpoint(checkpoint);
      // Without a checkpoint, what the container's bundle recorded of it.
      const record = found === undefined ? await bundleRecordIn(sandbox) : undefined;
      const runcId = found?.runcId ?? record?.runcId ?? containerId;
      listed.add(runcId);
      // Its shim, should it still wait for a word, is stopped before the word is read: a word
      // it passed on after this read could start the command of a container about to go.
      if (
        found === undefined &&
        (await exists(gateOf(sandbox))) &&
        !(await wordRecorded(sandbox))
      ) {
        await killEarlierShim(runc.stateDir, runcId);
      }
      const cgroup = this.cgroupOf(host, found?.cgroup ?? `${this.parent}/${runcId}`);
      if (found === undefined && (await heldAtGate(sandbox))) {
        // Made before its workspace was ready, and its agent died before saying go: its command
        // never ran, nor will. Removed, not recovered, so the task is told it never ran. Its gate
        // hook, should its shim have died too, is told no.
        const refusal = await refuseAtGate(gateOf(sandbox));
        await this.runtime.deleteContainer(runc, runcId).catch(() => undefined);
        await destroyCgroup(cgroup);
        await refusal?.close();
        continue;
      }
      // Without a checkpoint, a cgroup of ours with that name is the only sign it is ours.
      if (found === undefined && !(await cgroup.exists())) continue;
      await this.reattach(containerId, sandbox, cgroup, found, runc, runcId, record);
      recovered.push(containerId);
    }
    for (const name of await runc.list().catch(() => [])) {
      if (listed.has(name) || this.containers.has(name)) continue;
      await this.runtime.deleteContainer(runc, name).catch(() => undefined);
    }
    // What runc lists not: the state of a start that failed under `--keep` (a gate that never
    // opened, say), which no state file describes.
    for (const name of await readdir(runc.stateDir).catch(() => [] as string[])) {
      if (listed.has(name) || this.containers.has(name)) continue;
      await rm(join(runc.stateDir, name), { recursive: true, force: true });
    }
    const parentDirs = new TaskCgroup(host.version, host.root, this.parent, this.hierarchies(host))
      .dirs()
      .filter((dir, index, dirs) => dirs.indexOf(dir) === index);
    for (const name of await listChildCgroups(parentDirs)) {
      if (listed.has(name) || this.containers.has(name)) continue;
      await destroyCgroup(this.cgroupOf(host, `${this.parent}/${name}`));
    }
    // Network helpers and pid files of containers gone above, or never known to runc.
    const inRunc = new Set(await runc.list().catch(() => [] as string[]));
    await this.runtime.sweep(
      (name) =>
        listed.has(name) || inRunc.has(name) || this.containers.has(name) || this.warm.holds(name),
    );
    // The sandboxes of warm containers an earlier agent made (theirs are gone above).
    if (this.warmDir !== undefined) {
      for (const name of await readdir(this.warmDir).catch(() => [] as string[])) {
        if (this.warm.holds(name)) continue;
        await rm(join(this.warmDir, name), { recursive: true, force: true });
      }
    }
    return recovered;
  }

  /** Detects the host's cgroups once, on first use. */
  private host(): Promise<CgroupDetection> {
    this.detection ??= detectCgroups({
      ...(this.root === undefined ? {} : { root: this.root }),
      ...(this.seccompProfile === undefined ? {} : { seccompProfile: this.seccompProfile }),
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

  /**
   * The container's root as a host id, the first of its range, which its launch holds from the
   * call on (the range is taken here if the launch has not come to it yet): it checks the source
   * out, and owns it.
   */
  workspaceOwner(containerId: string): WorkspaceOwnership | undefined {
    if (!this.containers.has(containerId)) return undefined;
    const { hostId } = this.idPool.take(containerId);
    return { checkoutUser: hostId, owner: hostId };
  }

  /** Reads the cgroup's counters into the container's usage; keeps the last one if it is gone. */
  private async measure(container: CgroupContainer): Promise<void> {
    const cgroup = container.cgroup;
    if (cgroup === undefined || container.final !== undefined) return;
    container.usage = (await measureCgroup(cgroup, container.usage)) ?? container.usage;
  }

  /**
   * Gives the task a warm container of its shape if one waits (see `warm-containers.ts`), its
   * sandbox renamed to the spec's: called before the agent makes the sandbox, which must not
   * exist yet. Its launch then runs the task in it. False when none can be given: the launch
   * makes the container.
   */
  async takeWarm(spec: ContainerSpec): Promise<boolean> {
    const shape = deliverableShape(spec, this.hostNetwork);
    if (shape === undefined || this.containers.has(spec.containerId)) return false;
    const taken = await this.warm.take(spec.containerId, spec.sandbox, shape);
    if (taken === undefined) return false;
    // Its id range is the task's from now on: the task's id names it to the id pool.
    this.idPool.rename(taken.runcId, spec.containerId);
    return true;
  }

  /** Releases the warm container a task took and never launched in, as well as its container. */
  override async destroy(containerId: string): Promise<void> {
    const unlaunched = this.containers.has(containerId) ? undefined : this.warm.claim(containerId);
    if (unlaunched !== undefined) await this.maker.discard(unlaunched, containerId, false);
    await super.destroy(containerId);
  }

  /** How many warm containers wait for a task now. */
  get warmWaiting(): number {
    return this.warm.waiting;
  }

  /** Discards the warm containers waiting for a task, and makes no more: for the agent's end. */
  close(): Promise<void> {
    return this.warm.close();
  }

  private async start(container: CgroupContainer, spec: ContainerSpec, host: Host): Promise<void> {
    const made = this.warm.claim(container.id) ?? (await this.makeFor(container, spec, host));
    container.cgroup = made.cgroup;
    container.runc = made.runc;
    container.runcId = made.runcId;
    container.limits = made.limits;
    container.checkpoint = await this.maker.start(made, spec, container.id, container.launchSignal);
    const shim = made.shim!;
    container.shim = shim.process;
    void shim.exited.then((exit) => this.containers.end(container, exit));
    this.running(container);
    // Tasks of this shape come: the next may find its container made.
    if (made.delivers) this.warm.wanted(made.shape, container.termination);
  }

  /** Makes the spec's container for its launch (no warm one was taken), up to the agent's word. */
  private makeFor(
    container: CgroupContainer,
    spec: ContainerSpec,
    host: Host,
  ): Promise<MadeContainer> {
    const environment = taskEnvironment(spec);
    const delivered = delivers(spec);
    // runc looks a command without a slash up on the task's PATH, inside the container. A
    // checkout goes first, by the private shell (a checkout comes with a shell command).
    const command = delivered
      ? deliveredTextCommand()
      : spec.command.shell
        ? privateShellCommand(spec.command.value, environment, spec.checkout)
        : { argv: [spec.command.value, ...spec.command.arguments], environment };
    return this.maker.make(
      {
        runcId: container.id,
        sandbox: spec.sandbox,
        shape: shapeOf(spec, this.hostNetwork),
        command,
        delivers: delivered,
        reports: delivered || spec.checkout !== undefined,
        gated: spec.ready !== undefined,
      },
      host,
    );
  }

  /**
   * The warm containers' directory, searchable and not listable by others, as the agent's
   * sandboxes are (a local user who could list it could hold a future task's workspace open).
   */
  private makeWarmDir(): Promise<void> {
    const dir = this.warmDir;
    if (dir === undefined) return Promise.reject(new Error('no directory for warm containers'));
    this.warmDirMade ??= (async () => {
      await mkdir(dir, { recursive: true, mode: WARM_DIR_MODE });
      await chmod(dir, WARM_DIR_MODE);
    })();
    this.warmDirMade.catch(() => (this.warmDirMade = undefined));
    return this.warmDirMade;
  }

  /** Makes a warm container, its first process waiting, for a task of the shape to take. */
  private async makeWarm(
    runcId: string,
    sandbox: string,
    shape: ContainerShape,
  ): Promise<MadeContainer> {
    const host = await this.host();
    if (!host.supported) throw new Error(host.reason);
    await this.makeWarmDir();
    await mkdir(sandbox);
    const made = await this.maker.make(
      {
        runcId,
        sandbox,
        shape,
        command: deliveredTextCommand(),
        delivers: true,
        reports: true,
        gated: true,
      },
      host,
    );
    // Its process waits for the word in its private shell, its sandbox free to move.
    if (!(await untilStarted(this.runtime.pidFile(runcId), made.shim!.exited))) {
      await this.maker.discard(made, runcId, true);
      const log = (await readFile(join(sandbox, 'stderr'), 'utf8').catch(() => '')).trim();
      throw new Error(`runc could not make it: ${log.split('\n').pop() ?? 'no message'}`);
    }
    return made;
  }

  /** Watches a container the agent knew of before its restart. */
  private async reattach(
    id: string,
    sandbox: string,
    cgroup: TaskCgroup,
    found: CgroupCheckpoint | undefined,
    runc: Runc,
    runcId: string,
    /** What its bundle recorded, where there is no checkpoint: its name, range and deadline. */
    record: BundleRecord | undefined,
  ): Promise<void> {
    const container = this.containers.register(id, sandbox);
    container.cgroup = cgroup;
    container.runc = runc;
    container.runcId = runcId;
    const fromCgroup = found === undefined ? await leaderCheckpoint(cgroup) : undefined;
    container.checkpoint =
      found ?? (fromCgroup === undefined ? undefined : { ...fromCgroup, ...record, runcId });
    if (container.checkpoint?.runcId === id) delete container.checkpoint.runcId;
    // Its range stays its own while it runs (and its files are that range's until removed).
    const hostId = container.checkpoint?.hostId;
    if (hostId !== undefined) this.idPool.reclaim(id, hostId);
    container.settleLaunch(true);
    const checkpoint = container.checkpoint;
    const leader = checkpoint && (await readProcStat(checkpoint.pid));
    if (checkpoint !== undefined && isLeader(leader, checkpoint) && !hasExited(leader)) {
      this.running(container);
      return;
    }
    await this.containers.endFound(
      container,
      (await readRecordedExit(container.sandbox)) ?? { unknown: 'vanished' },
    );
  }

  private running(container: CgroupContainer): void {
    this.containers.running(container);
    // A first measurement at once, so that even a short task's termination carries one: of this
    // container only, for a start costs what one container has, not what every one has.
    void this.measure(container).catch(() => undefined);
  }

  /**
   * Signals every process of the container through its cgroup (SIGKILL through `killAll`, which
   * no fork escapes). Never the shim: it must outlive the container to record its exit code. The
   * launch settles only once the container's process runs, so a kill cannot come before it.
   */
  private async signal(container: CgroupContainer, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const cgroup = container.cgroup;
    if (cgroup === undefined) return;
    await (signal === 'SIGKILL' ? cgroup.killAll() : cgroup.signal(signal)).catch(() => undefined);
  }

  /**
   * The leader has ended, so the container ends: whatever it left in the cgroup is killed (at
   * once, or when a kill under way reaches its SIGKILL); once the cgroup is empty its last
   * measurement and its limits' counters are read, it is removed, and the termination is decided.
   */
  private async ended(container: CgroupContainer, exit: LeaderExit): Promise<Termination> {
    const cgroup = container.cgroup;
    let limitation: TaskReason | undefined;
    if (cgroup !== undefined) {
      try {
        await untilCgroupEmpty(container, cgroup);
        await this.measure(container);
        limitation = container.limitation?.reason ?? (await limitationOf(cgroup));
      } catch {
        // The cgroup cannot be read: end the container with what is known.
      }
    }
    const usage = container.usage === undefined ? undefined : { ...container.usage, memBytes: 0 };
    // A task ended for a limit has no kill (see ContainerLifecycle.limit): it failed, for the limit.
    let termination = terminationOf(exit, container.kill, usage);
    // A task ended for its limit failed, even if its last process exited 0 meanwhile.
    const limited = termination.state === 'TASK_FAILED' || container.limitation !== undefined;
    if (limited && limitation !== undefined) {
      termination = {
        ...termination,
        state: 'TASK_FAILED',
        reason: limitation,
        message: `${limitationMessage(limitation, container.limits)}; ${termination.message}`,
      };
    }
    termination = await afterCheckout(checkoutReportOf(container.sandbox), termination);
    // Removed once the end is decided, not before it is told: an rmdir of a v1 cgroup waits on
    // the kernel for milliseconds per hierarchy, which no task's end should wait for. Destroying
    // the container (and so a relaunch of its id) waits for it.
    container.removed = this.removeEnded(container, cgroup);
    return termination;
  }

  /**
   * What `runc delete` does for a container that has stopped, without a process of its own on
   * every task's way out. Never rejects: should it fail, the next recover takes the container for
   * an orphan's and deletes it.
   */
  private async removeEnded(
    container: CgroupContainer,
    cgroup: TaskCgroup | undefined,
  ): Promise<void> {
    try {
      if (cgroup !== undefined) {
        await cgroup.remove();
        await removeFromEveryHierarchy(cgroup);
      }
      if (container.runc !== undefined) {
        const runcId = container.runcId ?? container.id;
        await rm(join(container.runc.stateDir, runcId), { recursive: true, force: true });
      }
    } catch {
      // Left for destroy() and the next recover.
    }
  }

  /** What `destroy` adds to the removal at the container's end, should that have failed. */
  private async release(container: CgroupContainer): Promise<void> {
    await container.removed;
    // `ended` removed it unless that failed; the retry is cheap, and idempotent.
    if (container.runc !== undefined) {
      await this.runtime
        .deleteContainer(container.runc, container.runcId ?? container.id)
        .catch(() => undefined);
    }
    if (container.cgroup !== undefined) await destroyCgroup(container.cgroup);
  }

  private async sampleAll(live: readonly CgroupContainer[]): Promise<void> {
    await Promise.all(
      live.map(async (container) => {
        await this.measure(container);
        const cgroup = container.cgroup;
        const limitation = cgroup && (await limitationOf(cgroup));
        if (limitation !== undefined) {
          // Ended at once: a fork bomb does not stop at its pids limit by itself, and a build
          // whose compiler the OOM killer ended would carry on without it.
          this.containers.limit(
            container,
            limitation,
            limitationMessage(limitation, container.limits),
          );
        }
        const checkpoint = container.checkpoint;
        if (!heardOfNoMore(container.shim) || container.phase !== 'running') return;
        const leader = checkpoint && (await readProcStat(checkpoint.pid));
        if (checkpoint === undefined || !isLeader(leader, checkpoint) || hasExited(leader)) {
          const exit: LeaderExit = (await readRecordedExit(container.sandbox)) ?? {
            unknown: 'unrecorded',
          };
          // Not awaited: the cgroup may take a grace period to empty, and sampling goes on.
          void this.containers.end(container, exit);
        }
      }),
    );
  }
}

/** Why this containerizer cannot run a valid spec, if it cannot; throws for an invalid one. */
function refusal(spec: ContainerSpec): string | undefined {
  assertValidSpec(spec);
  return spec.image === undefined
    ? undefined
    : 'the cgroup containerizer cannot run images; docker is needed';
}

/** What the spec's container is made with. */
function shapeOf(spec: ContainerSpec, hostNetwork: boolean): ContainerShape {
  return {
    network: spec.network === 'none' ? 'none' : hostNetwork ? 'host' : 'private',
    cpus: spec.resources.cpus,
    memMiB: spec.resources.mem,
  };
}

/**
 * The shape of the spec's container if a warm one can run it: a valid spec of a shell command
 * whose variables can all be delivered with it (see `deliveredText`), without an image.
 */
function deliverableShape(spec: ContainerSpec, hostNetwork: boolean): ContainerShape | undefined {
  try {
    if (refusal(spec) !== undefined) return undefined;
  } catch {
    // Invalid: its launch says why.
    return undefined;
  }
  return delivers(spec) ? shapeOf(spec, hostNetwork) : undefined;
}

/** Whether the spec's command is delivered to its container (see `deliveredText`). */
function delivers(spec: ContainerSpec): boolean {
  return spec.command.shell && canDeliver(taskEnvironment(spec));
}

/** Whether the shim of the sandbox's gated container has recorded the word it passed on. */
async function wordRecorded(sandbox: string): Promise<boolean> {
  return exists(gateWordFile(gateOf(sandbox)));
}

/** Whether the sandbox's container was gated, and its agent never said go. */
async function heldAtGate(sandbox: string): Promise<boolean> {
  const gate = gateOf(sandbox);
  if (!(await exists(gate))) return false;
  const word = await readFile(gateWordFile(gate), 'utf8').catch(() => '');
  return word.trim() !== 'go';
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
