import { type LaunchedProcess } from '@kiln/common';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import {
  CONTAINER_ID_PATTERN,
  ContainerLaunchError,
  workspaceOf,
  type ContainerSpec,
} from '../containerizer';
import { EXIT_CODE_FILE, prepareWorkspace, taskEnvironment } from '../launching';
import { notReady } from '../lifecycle/container-lifecycle';
import { DEFAULT_CAPABILITIES, ociConfig, type IdRange } from './bundle';
import type { CgroupCheckpoint } from './checkpoint';
import type { CgroupVersion, TaskCgroup } from './cgroups';
import type { CgroupLimits } from './controllers';
import type { CgroupTools } from './detect';
import type { IdPool } from './id-pool';
import { deliveredText } from './private-shell';
import {
  GATE_OPEN,
  gateHook,
  gateWordFile,
  networkHook,
  outputHook,
  refuseAtGate,
  type Runc,
} from './runc';
import type { RootFilesystem } from './rootfs';
import type { RuntimeState } from './runtime-state';
import { ociSeccomp, type DockerSeccompProfile } from './seccomp';
import { killEarlierShim, spawnShim, untilStarted, untilWritten, type Shim } from './shim';
import { destroyCgroup } from './teardown';
import type { ContainerShape, WarmContainer } from './warm-containers';
import { chownTree } from './workspace-owner';

/*
 * Making a native container and starting a task's process in it, apart: a container is made (its
 * bundle, its sandbox's files, its shim running runc) up to the agent's word, then
 * given its task's command and started. A warm container is made long before its task; the others
 * just before (see `warm-containers.ts`).
 */

/** The task's hostname, the same for every task: nothing of the agent's. */
export const HOSTNAME = 'kiln';
/** Where the shim's `runc run` runs the container from: `<sandbox>/.runc`, the agent's. */
const BUNDLE_DIR = '.runc';
/** In a container's bundle: the FIFO of its gate, its checkout's report, its delivered command. */
const GATE = 'gate';
const CHECKOUT_REPORT = 'checkout';
const TEXT = 'text';
/** In a container's bundle: what a restarted agent needs of it (see {@link bundleRecordIn}). */
const RECORD = 'record.json';
const DEFAULT_TMP_SIZE_MIB = 64;

/** Where a container that checks out reports how it went (see `SHIM`). */
export function checkoutReportOf(sandbox: string): string {
  return join(sandbox, BUNDLE_DIR, CHECKOUT_REPORT);
}

/**
 * What the container's bundle records of it, for an agent restarted before it recorded the
 * container in its task's checkpoint: the name runc and the cgroups know it by (a warm
 * container's is not its task's id) and its id range from its making, its timeout from the word
 * that started its task.
 */
export type BundleRecord = Pick<
  CgroupCheckpoint,
  'runcId' | 'hostId' | 'maxCompletionTimeMs' | 'deadline'
> & { runcId: string; hostId: number };

/** The sandbox's container's {@link BundleRecord}; undefined where none is, or it is not one. */
export async function bundleRecordIn(sandbox: string): Promise<BundleRecord | undefined> {
  const text = await readFile(join(sandbox, BUNDLE_DIR, RECORD), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const { runcId, hostId, maxCompletionTimeMs, deadline } = (value ?? {}) as Record<
    string,
    unknown
  >;
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
  if (typeof runcId !== 'string' || !CONTAINER_ID_PATTERN.test(runcId) || !isCount(hostId)) {
    return undefined;
  }
  return {
    runcId,
    hostId,
    ...(isCount(maxCompletionTimeMs) ? { maxCompletionTimeMs } : {}),
    ...(isCount(deadline) ? { deadline } : {}),
  };
}

/** Writes the container's {@link BundleRecord}, root's alone, beside its bundle. */
function writeBundleRecord(bundle: string, record: BundleRecord): Promise<void> {
  return writeFile(join(bundle, RECORD), JSON.stringify(record), { mode: 0o600 });
}

/** The FIFO through which a gated container gets the agent's word (see `SHIM`). */
export function gateOf(sandbox: string): string {
  return join(sandbox, BUNDLE_DIR, GATE);
}

/**
 * Whether the shim passed `go` on to its container, once it has recorded the word it passed, or
 * false if it exited first (see SHIM).
 */
async function wordWasGo(gate: string, exited: Promise<unknown>): Promise<boolean> {
  const word = gateWordFile(gate);
  if (!(await untilWritten(word, (text) => text.endsWith('\n'), exited))) return false;
  return (await readFile(word, 'utf8')).trim() === 'go';
}

/** What the host gives containers: its cgroups, the programs they are run with, seccomp. */
export interface Host {
  version: CgroupVersion;
  root: string;
  tools: CgroupTools;
  seccomp: DockerSeccompProfile;
}

/** What a container is made with (see `make`). */
export interface MakePlan {
  /** Its name to runc and its cgroups. */
  runcId: string;
  sandbox: string;
  shape: ContainerShape;
  /** Its first process, and that process's environment. */
  command: { argv: string[]; environment: Record<string, string> };
  /** Its command comes on a descriptor (see `deliveredText`), written before the agent's word. */
  delivers: boolean;
  /** A checkout report is passed to it, and read at its end (see `checkout-report.ts`). */
  reports: boolean;
  /**
   * Its process waits for the agent's word (see SHIM): at the gate hook, before it starts, or in
   * its private shell, where its command is delivered.
   */
  gated: boolean;
}

/** A container made, not yet given its task's command (see `give`). */
export interface MadeContainer extends MakePlan, WarmContainer {
  ids: IdRange;
  cgroup: TaskCgroup;
  runc: Runc;
  limits: CgroupLimits;
  /** Its shim, once started. */
  shim?: Shim;
}

export interface ContainerMakerOptions {
  runtime: RuntimeState;
  idPool: IdPool;
  /** The cgroup every container's is made under. */
  parent: string;
  pidsMax: number;
  /** The size of a container's private `/tmp` in MiB; default its memory, or 64 without one. */
  tmpSizeMiB: number | undefined;
  cgroupOf: (host: Host, path: string) => TaskCgroup;
}

/** Makes native containers, and starts their tasks' processes in them. */
export class ContainerMaker {
  private seccomp: Record<string, unknown> | undefined;

  constructor(private readonly options: ContainerMakerOptions) {}

  /**
   * Makes a container up to the agent's word (see SHIM): its bundle, its sandbox's files, and its
   * shim, which runs runc; a gated one is made, and one whose command is delivered started, at
   * once, the others once the word comes.
   */
  async make(plan: MakePlan, host: Host): Promise<MadeContainer> {
    const { runcId, sandbox, shape } = plan;
    const bundle = join(sandbox, BUNDLE_DIR);
    const runc = this.options.runtime.runc(host.tools.runc);
    const cgroup = this.options.cgroupOf(host, `${this.options.parent}/${runcId}`);
    // First: what an earlier launch of the id left would write into this one's files.
    await this.clearEarlierLaunch(runc, cgroup, runcId);
    // Independent of each other, so done at once: every task's start waits for the slowest only.
    const [workspace, rootFilesystem] = await Promise.all([
      // The sandbox is checked first: a missing one fails with a message, not an ENOENT.
      prepareWorkspace({ sandbox }).then(async (prepared) => {
        // An exit code left by an earlier run in this sandbox would be taken for this one's.
        await rm(join(sandbox, EXIT_CODE_FILE), { force: true });
        await rm(bundle, { recursive: true, force: true });
        await mkdir(bundle, { mode: 0o700 });
        return prepared;
      }),
      this.options.runtime.prepareRootFilesystem(),
    ]);
    const limits: CgroupLimits = {
      cpus: shape.cpus,
      memMiB: shape.memMiB,
      pidsMax: this.options.pidsMax,
    };
    const ids = this.options.idPool.take(runcId);
    try {
      return await this.bundleAndRun(plan, host, {
        bundle,
        workspace,
        rootFilesystem,
        ids,
        limits,
      });
    } catch (error) {
      // Nothing runs with its range once whatever runc made of it is gone (a shim that started
      // and was lost): the next container may have it then.
      await this.clearEarlierLaunch(
        this.options.runtime.runc(host.tools.runc),
        this.options.cgroupOf(host, `${this.options.parent}/${runcId}`),
        runcId,
      ).catch(() => undefined);
      this.options.idPool.free(runcId);
      throw error;
    }
  }

  /** Writes the container's bundle and starts its shim: the second half of {@link make}. */
  private async bundleAndRun(
    plan: MakePlan,
    host: Host,
    made: {
      bundle: string;
      workspace: string;
      rootFilesystem: RootFilesystem;
      ids: IdRange;
      limits: CgroupLimits;
    },
  ): Promise<MadeContainer> {
    const { runcId, shape } = plan;
    const { bundle, workspace, rootFilesystem, ids, limits } = made;
    const runc = this.options.runtime.runc(host.tools.runc);
    const cgroup = this.options.cgroupOf(host, `${this.options.parent}/${runcId}`);
    const networkPidFile = this.options.runtime.networkPidFile(runcId);
    const config = ociConfig({
      ...plan.command,
      ...rootFilesystem,
      workspace,
      network: shape.network,
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
        this.options.tmpSizeMiB ?? (shape.memMiB > 0 ? shape.memMiB : DEFAULT_TMP_SIZE_MIB),
      hostname: HOSTNAME,
      seccomp: this.seccompOf(host),
      // A container whose command is delivered waits in its private shell, no hook.
      ...(plan.gated && !plan.delivers ? { gateHook: gateHook(join(bundle, GATE)) } : {}),
    });
    await Promise.all([
      writeFile(join(bundle, 'config.json'), JSON.stringify(config)),
      // What names it to runc, for a restarted agent that has no record of the task it runs.
      writeBundleRecord(bundle, { runcId, hostId: ids.hostId }),
      // Made here, root's alone: the shim only appends to the one and reads the other (see SHIM).
      plan.reports ? writeFile(join(bundle, CHECKOUT_REPORT), '', { mode: 0o600 }) : undefined,
      plan.delivers ? writeFile(join(bundle, TEXT), '', { mode: 0o600 }) : undefined,
      // The container's root is the range's first id: the workspace becomes its own (a gated
      // one once it is ready, see `give`).
      plan.gated ? undefined : chownTree(workspace, ids.hostId),
    ]);
    const container: MadeContainer = { ...plan, ids, cgroup, runc, limits };
    // Relative to the shim's working directory, the sandbox: a warm container's is renamed.
    container.shim = await spawnShim(
      {
        runc: host.tools.runc,
        stateDir: runc.stateDir,
        bundle: BUNDLE_DIR,
        containerId: runcId,
        exitFile: EXIT_CODE_FILE,
        networkPidFile,
        pidFile: this.options.runtime.pidFile(runcId),
        ...(plan.gated ? { gate: join(BUNDLE_DIR, GATE) } : {}),
        ...(plan.reports ? { checkoutReport: join(BUNDLE_DIR, CHECKOUT_REPORT) } : {}),
        ...(plan.delivers ? { text: join(BUNDLE_DIR, TEXT) } : {}),
      },
      container,
    );
    return container;
  }

  /**
   * Runs the task (its container id) in a container made for it: delivers its command, opens its
   * gate once the workspace is ready (or says go), and waits until its process runs. Its
   * checkpoint; rejects, the container undone, when its process did not start.
   */
  async start(
    made: MadeContainer,
    spec: ContainerSpec,
    containerId: string,
    /** A kill before the word: the container is told no, and its command never starts. */
    stop?: AbortSignal,
  ): Promise<CgroupCheckpoint> {
    const { sandbox, runc, runcId } = made;
    const shim = made.shim!;
    const { pid, leader, exited } = shim;
    const bundle = join(sandbox, BUNDLE_DIR);
    const workspace = workspaceOf(sandbox);
    const delivering = made.delivers
      ? deliveredText(spec.command.value, taskEnvironment(spec), spec.checkout)
      : undefined;
    try {
      if (made.delivers && (delivering === undefined || !spec.command.shell)) {
        // Never so: a warm container is given only what it can run (see deliverableShape).
        throw new Error(`container ${containerId} was given a command it cannot run`);
      }
      // Written before the word: the container reads it once its gate is open.
      if (delivering !== undefined) await writeFile(join(bundle, TEXT), delivering);
    } catch (error) {
      // Its disk full, say: the container is undone before its range can be another's.
      await this.discard(made, containerId, false);
      throw error;
    }
    const timeoutMs = spec.maxCompletionTimeMs;
    let deadline: number | undefined;
    // Its timeout runs from the word that starts its command, recorded beside its bundle first.
    const beforeGo = async () => {
      deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
      await writeBundleRecord(bundle, {
        runcId,
        hostId: made.ids.hostId,
        ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
        ...(deadline === undefined ? {} : { deadline }),
      });
    };
    let unready: { error: unknown } | undefined;
    if (made.gated) {
      unready = await this.openGate(
        spec.ready ?? Promise.resolve(),
        exited,
        shim.process,
        workspace,
        made.ids.hostId,
        // A kill ends the wait for a workspace; one that comes once it is ready finds it running.
        spec.ready === undefined ? undefined : stop,
        beforeGo,
      );
    } else {
      await beforeGo();
      await shim.process.go(GATE_OPEN);
    }
    // A process that waits in its private shell has run nothing until the word it got was go,
    // which the shim records before it passes it on (see SHIM).
    const started =
      (await untilStarted(this.options.runtime.pidFile(runcId), exited)) &&
      (!made.delivers ||
        !made.gated ||
        unready !== undefined ||
        (await wordWasGo(join(bundle, GATE), exited)));
    if (!started || unready !== undefined) {
      await exited;
      // A gate hook still waiting has no shim left to tell it: it is told no, and runc ends.
      const refusal = made.gated ? await refuseAtGate(join(bundle, GATE)) : undefined;
      await this.options.runtime.deleteContainer(runc, runcId).catch(() => undefined);
      await refusal?.close();
      // What holds the task's environment goes with it.
      await rm(join(bundle, 'config.json'), { force: true });
      await rm(join(bundle, TEXT), { force: true });
      if (unready !== undefined) throw notReady(containerId, unready.error);
      const log = (await readFile(join(sandbox, 'stderr'), 'utf8').catch(() => '')).trim();
      throw new ContainerLaunchError(
        'CONTAINER_LAUNCH_FAILED',
        `runc could not start container ${containerId}: ${log.split('\n').pop() ?? 'no message'}`,
      );
    }
    // runc has read the one, and the container holds the other open: they hold the task's
    // environment (secrets), which no file should keep.
    await Promise.all([
      rm(join(bundle, 'config.json'), { force: true }),
      delivering === undefined ? undefined : rm(join(bundle, TEXT), { force: true }),
      // Nothing to check out: no report, so that none is read at the end. Removed once runc has
      // opened it (and the shim, which would make it anew).
      made.reports && spec.checkout === undefined
        ? rm(join(bundle, CHECKOUT_REPORT), { force: true })
        : undefined,
    ]);
    return {
      pid,
      startTime: leader.startTime,
      cgroup: made.cgroup.path,
      hostId: made.ids.hostId,
      ...(runcId === containerId ? {} : { runcId }),
      ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
      ...(deadline === undefined ? {} : { deadline }),
    };
  }

  /**
   * Undoes a container made for no task after all (a warm one discarded, or taken by a task that
   * never launched): its gate told no, runc's container, its cgroup and its id range removed, and
   * its sandbox unless it is a task's now.
   */
  async discard(made: MadeContainer, idKey: string, removeSandbox: boolean): Promise<void> {
    const shim = made.shim;
    if (shim !== undefined) {
      await shim.process.go('');
      await shim.exited;
    }
    const refusal = await refuseAtGate(join(made.sandbox, BUNDLE_DIR, GATE));
    await this.options.runtime.deleteContainer(made.runc, made.runcId).catch(() => undefined);
    await refusal?.close();
    await destroyCgroup(made.cgroup);
    this.options.idPool.free(idKey);
    if (removeSandbox) await rm(made.sandbox, { recursive: true, force: true });
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
    stop: AbortSignal | undefined,
    beforeGo: () => Promise<void>,
  ): Promise<{ error: unknown } | undefined> {
    // A shim that died early has closed its end: what is written then goes nowhere.
    try {
      const stopped = new Promise<'stopped'>((resolve) => {
        if (stop?.aborted === true) resolve('stopped');
        stop?.addEventListener('abort', () => resolve('stopped'), { once: true });
      });
      const first = await Promise.race([ready.then(() => 'ready' as const), exited, stopped]);
      if (first === 'stopped') throw new Error('the task was killed before its command started');
      if (first !== 'ready') {
        await shim.go('');
        return undefined;
      }
      await chownTree(workspace, hostId);
      await beforeGo();
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
    await this.options.runtime.deleteContainer(runc, id);
    if (await cgroup.exists()) await destroyCgroup(cgroup);
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
}
