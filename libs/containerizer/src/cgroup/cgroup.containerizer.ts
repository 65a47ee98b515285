import type { TaskReason } from '@kiln/contracts';
import { heardOfNoMore, sharedLauncher, type LaunchedProcess } from '@kiln/common';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
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
import { assertValidSpec, DEFAULT_PATH, EXIT_CODE_FILE, prepareWorkspace } from '../launching';
import { LifecycleContainerizer } from '../lifecycle/lifecycle-containerizer';
import { ContainerLifecycle, notReady, type LiveContainer } from '../lifecycle/container-lifecycle';
import { terminationOf, type LeaderExit } from '../lifecycle/termination';
import { hasExited, readProcStat } from '../process/proc';
import { isLeader } from '../process/process-group';
import { readRecordedExit } from '../process/wrapper';
import { DEFAULT_CAPABILITIES, ociConfig, privateShellCommand } from './bundle';
import { afterCheckout } from './checkout-report';
import {
  isCgroupPath,
  leaderCheckpoint,
  parseCheckpoint,
  type CgroupCheckpoint,
} from './checkpoint';
import { listChildCgroups, TaskCgroup, type CgroupVersion } from './cgroups';
import { CONTROLLER_NAMES, type CgroupLimits } from './controllers';
import { limitationMessage, limitationOf, measureCgroup } from './counters';
import {
  detectCgroups,
  v1Hierarchies,
  type CgroupDetection,
  type CgroupTools,
  type DetectCgroupsOptions,
} from './detect';
import { IdPool, TASK_ID_RANGES, type IdPoolOptions } from './id-pool';
import {
  GATE_OPEN,
  gateHook,
  gateWordFile,
  networkHook,
  outputHook,
  refuseAtGate,
  type Runc,
} from './runc';
import { RUNTIME_BASE } from './runtime-dir';
import { RuntimeState } from './runtime-state';
import { ociSeccomp, type DockerSeccompProfile } from './seccomp';
import { killEarlierShim, spawnShim, untilStarted } from './shim';
import { chownTree } from './workspace-owner';
import { destroyCgroup, removeFromEveryHierarchy, untilCgroupEmpty } from './teardown';

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
}

const DEFAULT_PARENT = 'kiln';
const DEFAULT_ID_POOL: IdPoolOptions = { firstHostId: 2 ** 30, ...TASK_ID_RANGES };
/** The task's hostname, the same for every task: nothing of the agent's. */
const HOSTNAME = 'kiln';
/** Where the shim's `runc run` runs the container from: `<sandbox>/.runc`, the agent's. */
const BUNDLE_DIR = '.runc';
const DEFAULT_PIDS_MAX = 1024;
const DEFAULT_TMP_SIZE_MIB = 64;
const DEFAULT_GRACE_PERIOD_MS = 3_000;
const DEFAULT_SAMPLE_INTERVAL_MS = 250;
interface CgroupContainer extends LiveContainer<CgroupCheckpoint> {
  cgroup?: TaskCgroup;
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

interface Host {
  version: CgroupVersion;
  root: string;
  tools: CgroupTools;
  seccomp: DockerSeccompProfile;
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
  private readonly seccompProfile: string | undefined;
  private seccomp: Record<string, unknown> | undefined;
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
    this.runtime = new RuntimeState(
      options.runtimeDir ?? join(RUNTIME_BASE, 'cgroup', parent.replaceAll('/', '+')),
      HOSTNAME,
    );
    this.idPool =
      options.idPool instanceof IdPool
        ? options.idPool
        : new IdPool(options.idPool ?? DEFAULT_ID_POOL);
    this.hostNetwork = options.hostNetwork ?? false;
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
    for (const { containerId, sandbox, checkpoint } of known) {
      if (this.containers.has(containerId)) {
        recovered.push(containerId);
        continue;
      }
      if (!CONTAINER_ID_PATTERN.test(containerId)) continue;
      const found = parseCheckpoint(checkpoint);
      const cgroup = this.cgroupOf(host, found?.cgroup ?? `${this.parent}/${containerId}`);
      if (found === undefined && (await heldAtGate(sandbox))) {
        // Made before its workspace was ready, and its agent died before saying go: its command
        // never ran, nor will. Removed, not recovered, so the task is told it never ran. Its gate
        // hook, should its shim have died too, is told no.
        const refusal = await refuseAtGate(gateOf(sandbox));
        await this.runtime.deleteContainer(runc, containerId).catch(() => undefined);
        await destroyCgroup(cgroup);
        await refusal?.close();
        continue;
      }
      // Without a checkpoint, a cgroup of ours with that name is the only sign it is ours.
      if (found === undefined && !(await cgroup.exists())) continue;
      await this.reattach(containerId, sandbox, cgroup, found, runc);
      recovered.push(containerId);
    }
    const listed = new Set(known.map((container) => container.containerId));
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
    return recovered;
  }

  /** Every task's seccomp filter: Docker's default profile for the capabilities tasks hold. */
  private seccompOf(host: Host): Record<string, unknown> {
    this.seccomp ??= ociSeccomp(host.seccomp, {
      capabilities: DEFAULT_CAPABILITIES,
      arch: process.arch,
      kernel: release(),
    });
    return this.seccomp;
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

  private async start(container: CgroupContainer, spec: ContainerSpec, host: Host): Promise<void> {
    const { sandbox } = spec;
    const taskEnvironment = { PATH: DEFAULT_PATH, ...spec.environment };
    // runc looks a command without a slash up on the task's PATH, inside the container.
    const { checkout } = spec;
    // A checkout goes first, by the private shell (a checkout comes with a shell command).
    const { argv, environment } = spec.command.shell
      ? privateShellCommand(spec.command.value, taskEnvironment, checkout)
      : {
          argv: [spec.command.value, ...spec.command.arguments],
          environment: taskEnvironment,
        };
    const exitCodeFile = join(sandbox, EXIT_CODE_FILE);
    const bundle = join(sandbox, BUNDLE_DIR);
    const runc = this.runtime.runc(host.tools.runc);
    const cgroup = this.cgroupOf(host, `${this.parent}/${container.id}`);
    const networkPidFile = this.runtime.networkPidFile(container.id);
    // First: what an earlier launch of the id left would write into this one's files.
    await this.clearEarlierLaunch(runc, cgroup, container.id);
    // Independent of each other, so done at once: every task's start waits for the slowest only.
    const [workspace, rootFilesystem] = await Promise.all([
      // The sandbox is checked first: a missing one fails with a message, not an ENOENT.
      prepareWorkspace(spec).then(async (prepared) => {
        // An exit code left by an earlier run in this sandbox would be taken for this one's.
        await rm(exitCodeFile, { force: true });
        await rm(bundle, { recursive: true, force: true });
        await mkdir(bundle, { mode: 0o700 });
        return prepared;
      }),
      this.runtime.prepareRootFilesystem(),
    ]);
    const limits: CgroupLimits = {
      cpus: spec.resources.cpus,
      memMiB: spec.resources.mem,
      pidsMax: this.pidsMax,
    };
    const network = spec.network === 'none' ? 'none' : this.hostNetwork ? 'host' : 'private';
    const ids = this.idPool.take(container.id);
    const gate = spec.ready === undefined ? undefined : gateOf(sandbox);
    const checkoutReport = checkout === undefined ? undefined : checkoutReportOf(sandbox);
    const config = ociConfig({
      argv,
      environment,
      ...rootFilesystem,
      workspace,
      network,
      outputHook: outputHook(ids.hostId),
      networkHook: networkHook({
        slirp4netns: host.tools.slirp4netns,
        pidFile: networkPidFile,
        logFile: join(bundle, 'slirp4netns.log'),
      }),
      ids,
      cgroupsPath: `/${cgroup.path}`,
      limits,
      tmpSizeMiB:
        this.tmpSizeMiB ?? (spec.resources.mem > 0 ? spec.resources.mem : DEFAULT_TMP_SIZE_MIB),
      hostname: HOSTNAME,
      seccomp: this.seccompOf(host),
      ...(gate === undefined ? {} : { gateHook: gateHook(gate) }),
    });
    await Promise.all([
      writeFile(join(bundle, 'config.json'), JSON.stringify(config)),
      // Made here, root's alone: the shim only appends to it (see SHIM).
      checkoutReport === undefined ? undefined : writeFile(checkoutReport, '', { mode: 0o600 }),
      // The container's root is the range's first id: the workspace becomes its own (a gated
      // one once it is ready, below).
      gate === undefined ? chownTree(workspace, ids.hostId) : undefined,
    ]);
    container.cgroup = cgroup;
    container.runc = runc;
    container.limits = limits;

    const {
      process: shim,
      pid,
      leader,
      exited,
    } = await spawnShim(
      {
        runc: host.tools.runc,
        stateDir: runc.stateDir,
        bundle,
        containerId: container.id,
        exitFile: exitCodeFile,
        networkPidFile,
        ...(gate === undefined ? {} : { gate }),
        ...(checkoutReport === undefined ? {} : { checkoutReport }),
      },
      sandbox,
    );
    // A gated container is made meanwhile, up to its gate hook; without a gate, the word comes at
    // once, and runc makes and starts the container (see SHIM).
    let unready: { error: unknown } | undefined;
    if (spec.ready !== undefined) {
      unready = await this.openGate(spec.ready, exited, shim, workspace, ids.hostId);
    } else {
      await shim.go(GATE_OPEN);
    }
    const started = await untilStarted(join(bundle, 'pid'), exited);
    if (!started || unready !== undefined) {
      await exited;
      // A gate hook still waiting has no shim left to tell it: it is told no, and runc ends.
      const refusal = gate === undefined ? undefined : await refuseAtGate(gate);
      await this.runtime.deleteContainer(runc, container.id).catch(() => undefined);
      await refusal?.close();
      if (unready !== undefined) throw notReady(container.id, unready.error);
      const log = (await readFile(join(sandbox, 'stderr'), 'utf8').catch(() => '')).trim();
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        `runc could not start container ${container.id}: ${log.split('\n').pop() ?? 'no message'}`,
      );
    }
    // runc has read it; it holds the task's environment (secrets), which no file should keep.
    await rm(join(bundle, 'config.json'), { force: true });
    const timeoutMs = spec.maxCompletionTimeMs;
    container.checkpoint = {
      pid,
      startTime: leader.startTime,
      cgroup: cgroup.path,
      hostId: ids.hostId,
      ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
      ...(timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs }),
    };
    container.shim = shim;
    void exited.then((exit) => this.containers.end(container, exit));
    this.running(container);
  }

  /**
   * Waits for the workspace, then lets the container's process start: the workspace is given to
   * the container's root first (what was checked out into it meanwhile included). Ends the shim's
   * standard input either way, which fails the gate unless `go` came first; what kept the
   * workspace from being ready, if anything. A shim that ends first (runc failed) is not kept
   * waiting for the workspace: its failure is the launch's.
   */
  private async openGate(
    ready: Promise<void>,
    exited: Promise<unknown>,
    shim: LaunchedProcess,
    workspace: string,
    hostId: number,
  ): Promise<{ error: unknown } | undefined> {
    // A shim that died early has closed its end: what is written then goes nowhere.
    try {
      const first = await Promise.race([ready.then(() => 'ready' as const), exited]);
      if (first !== 'ready') {
        await shim.go('');
        return undefined;
      }
      await chownTree(workspace, hostId);
    } catch (error) {
      await shim.go('');
      return { error };
    }
    await shim.go(GATE_OPEN);
    return undefined;
  }

  /**
   * A container left by a launch of this id that the agent lost track of is no home for a new
   * one: its shim goes first, then the container, its network helper (and the pid file that
   * named it) and its cgroup.
   */
  private async clearEarlierLaunch(runc: Runc, cgroup: TaskCgroup, id: string): Promise<void> {
    await killEarlierShim(runc.stateDir, id);
    await this.runtime.deleteContainer(runc, id);
    if (await cgroup.exists()) await destroyCgroup(cgroup);
  }

  /** Watches a container the agent knew of before its restart. */
  private async reattach(
    id: string,
    sandbox: string,
    cgroup: TaskCgroup,
    found: CgroupCheckpoint | undefined,
    runc: Runc,
  ): Promise<void> {
    const container = this.containers.register(id, sandbox);
    container.cgroup = cgroup;
    container.runc = runc;
    container.checkpoint = found ?? (await leaderCheckpoint(cgroup));
    // Its range stays its own while it runs (and its files are that range's until removed).
    if (found?.hostId !== undefined) this.idPool.reclaim(id, found.hostId);
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
        await rm(join(container.runc.stateDir, container.id), { recursive: true, force: true });
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
      await this.runtime.deleteContainer(container.runc, container.id).catch(() => undefined);
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

/** Where a container that checks out reports how it went (see `SHIM`). */
function checkoutReportOf(sandbox: string): string {
  return join(sandbox, BUNDLE_DIR, 'checkout');
}

/** The FIFO through which a gated container gets the agent's word (see `SHIM`). */
function gateOf(sandbox: string): string {
  return join(sandbox, BUNDLE_DIR, 'gate');
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
