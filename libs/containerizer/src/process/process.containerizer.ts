import { errorMessage } from '@kiln/common';
import type { TaskReason } from '@kiln/contracts';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
  openOutputs,
  prepareWorkspace,
} from '../launching';
import { GroupUsage } from './group-usage';
import {
  clockTicksPerSecond,
  hasExited,
  kernelListsChildren,
  listGroupMembers,
  listProcesses,
  readProcMemory,
  readProcStat,
  readProcStatSync,
  type ProcStat,
} from './proc';
import { killMessage, terminationOf, type KillRequest, type LeaderExit } from './termination';
import { environmentProblem, GO_LINE, readRecordedExit, wrapperArguments } from './wrapper';
import { SharedSampler } from '../shared-sampler';

// Their home moved to launching.ts, shared with the cgroup containerizer; still exported from here.
export { DEFAULT_PATH, EXIT_CODE_FILE } from '../launching';

export interface ProcessContainerizerOptions {
  /**
   * A directory of the agent's own that outlives agent restarts (e.g. under `KILN_DATA_DIR`),
   * where a record of every live container is kept so that `recover` can find and destroy the
   * orphans the agent never checkpointed. Created when first needed. One agent per directory.
   */
  runtimeDir: string;
  /** The kill grace period when `kill` is given none, and for timeouts; default 3000 ms. */
  defaultGracePeriodMs?: number;
  /** How often running containers are measured; default 250 ms. */
  sampleIntervalMs?: number;
}

/** What `checkpoint` returns and `recover` takes back. */
export interface ProcessCheckpoint {
  /** The wrapper's pid, which is also the container's process group id. */
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: tells the process from a later one given the same pid. */
  startTime: number;
  maxCompletionTimeMs?: number;
  /** When the timeout fires, in epoch milliseconds: a recovered container keeps its deadline. */
  deadline?: number;
}

const DEFAULT_GRACE_PERIOD_MS = 3_000;
const DEFAULT_SAMPLE_INTERVAL_MS = 250;
/** How often a container's process group is checked for survivors once its leader has ended. */
const GROUP_POLL_MS = 50;
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
  checkpoint?: ProcessCheckpoint;
  /** The wrapper, while the containerizer that launched it runs; none after a recovery. */
  child?: ChildProcess;
  readonly usage: GroupUsage;
  /** The group's members at the last sample: where the next one walks down from. */
  members: readonly number[];
  /** The sample under way, which concurrent callers share. */
  sampling?: Promise<void>;
  kill?: KillRequest & { deadline: number; timer?: NodeJS.Timeout };
  timeout?: NodeJS.Timeout;
  readonly termination: Promise<Termination>;
  terminate(termination: Termination): void;
  final?: Termination;
  destroyed?: Promise<void>;
}

interface RuntimeRecord {
  containerId: string;
  sandbox: string;
  checkpoint: ProcessCheckpoint;
}

/**
 * Runs each task as a plain process group on the agent's host: no isolation and no enforced
 * limits (the resources are the scheduler's bookkeeping only), for hosts where neither cgroups nor
 * Docker can be had. `network: 'none'` and images are therefore not supported.
 *
 * Each container is a process group led by a small `/bin/sh` wrapper (see `wrapper.ts`) in its
 * own session (`detached`), so the agent can signal the whole group and the task survives the
 * agent. The task works in the sandbox's workspace; the wrapper records the command's exit code
 * beside it, in `<sandbox>/.exit_code`, which is how a recovered container's end is told. Limits
 * of a process group, which the cgroup containerizer has not: a process that leaves the group
 * (`setsid`, `setpgid`) escapes kill and destroy; a signal the agent did not send that ends the
 * command alone shows as the exit code a shell reports for it (128 + n), not as a signal; and the
 * task runs as the agent's user on the agent's filesystem, so the workspace keeps a repository's
 * files (and the task's mistakes) off the agent's, but is no wall against a hostile command.
 */
export class ProcessContainerizer implements Containerizer {
  readonly name = 'process' as const;

  private readonly containers = new Map<string, Container>();
  private readonly runtimeDir: string;
  private readonly defaultGracePeriodMs: number;
  private readonly sampler: SharedSampler;
  private readonly ticksPerSecond: number;

  constructor(options: ProcessContainerizerOptions) {
    this.runtimeDir = resolve(options.runtimeDir);
    this.defaultGracePeriodMs = options.defaultGracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS;
    this.sampler = new SharedSampler(options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS, () =>
      this.sampleAll(),
    );
    // Read here, at the agent's start, rather than on the event loop at the first launch.
    this.ticksPerSecond = clockTicksPerSecond();
  }

  async recover(known: readonly RecoverableContainer[]): Promise<string[]> {
    await mkdir(this.runtimeDir, { recursive: true });
    const records = await this.readRuntimeRecords();
    const recovered: string[] = [];
    for (const { containerId, sandbox, checkpoint } of known) {
      const record = records.get(containerId);
      records.delete(containerId);
      if (this.containers.has(containerId)) {
        recovered.push(containerId);
        continue;
      }
      const found = parseCheckpoint(checkpoint) ?? record?.checkpoint;
      if (found === undefined || !CONTAINER_ID_PATTERN.test(containerId)) continue;
      await this.reattach(containerId, sandbox, found);
      recovered.push(containerId);
    }
    for (const orphan of records.values()) {
      if (this.containers.has(orphan.containerId)) continue;
      await this.reattach(orphan.containerId, orphan.sandbox, orphan.checkpoint);
      await this.destroy(orphan.containerId);
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
        reason: 'the process containerizer cannot run images; docker is needed',
      };
    }
    if (spec.network === 'none') {
      return {
        status: 'not-supported',
        reason: 'the process containerizer cannot isolate the network; cgroup or docker is needed',
      };
    }
    const problem = environmentProblem(spec.environment);
    if (problem !== undefined) return { status: 'not-supported', reason: problem };

    const container = this.register(spec.containerId, spec.sandbox);
    try {
      await this.start(container, spec);
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
    if (container.final === undefined) await this.sample(container);
    return (container.final ? container.final.usage : container.usage.usage) ?? {};
  }

  checkpoint(containerId: string): Record<string, unknown> | undefined {
    const checkpoint = this.containers.get(containerId)?.checkpoint;
    return checkpoint === undefined ? undefined : { ...checkpoint };
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
      usage: new GroupUsage(this.ticksPerSecond),
      members: [],
      termination: new Promise<Termination>((resolve) => (terminate = resolve)),
      terminate: (termination) => terminate(termination),
    };
    this.containers.set(id, container);
    return container;
  }

  private async start(container: Container, spec: ContainerSpec): Promise<void> {
    const { sandbox } = spec;
    const workspace = await prepareWorkspace(spec);
    const environment = { ...spec.environment };
    environment.PATH ??= DEFAULT_PATH;
    const argv = spec.command.shell
      ? ['/bin/sh', '-c', spec.command.value]
      : [
          await findExecutable(spec.command.value, environment.PATH, workspace),
          ...spec.command.arguments,
        ];
    const exitCodeFile = join(sandbox, EXIT_CODE_FILE);
    // An exit code left by an earlier run in this sandbox would be taken for this one's.
    await rm(exitCodeFile, { force: true });
    await mkdir(this.runtimeDir, { recursive: true });

    const outputs = await openOutputs(sandbox);
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', wrapperArguments(exitCodeFile, environment, argv), {
        cwd: workspace,
        env: environment,
        // The wrapper waits on this pipe for the agent's go (see wrapper.ts).
        stdio: ['pipe', outputs.stdout, outputs.stderr],
        detached: true,
      });
    } finally {
      outputs.close();
    }
    const pid = child.pid;
    if (pid === undefined) {
      const [error] = (await once(child, 'error')) as [Error];
      throw error;
    }
    // Read before anything awaits, and so synchronously: the wrapper cannot have been reaped yet
    // (that takes the event loop), so its stat is there. A file of /proc, which no disk holds.
    const leader = readProcStatSync(pid);
    // Heard from the spawn on, but acted on once the container runs (`end` ignores it before).
    let exit: LeaderExit | undefined;
    child.once('exit', (code, signal) => {
      exit = code === null ? { signal: signal ?? 'SIGKILL' } : { code };
      void this.end(container, exit);
    });
    if (leader === undefined) {
      signalGroup(pid, 'SIGKILL');
      throw new Error(`/proc/${pid}/stat cannot be read`);
    }
    const timeoutMs = spec.maxCompletionTimeMs;
    const checkpoint: ProcessCheckpoint = {
      pid,
      startTime: leader.startTime,
      ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
      ...(timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs }),
    };
    try {
      await this.writeRuntimeRecord(container, checkpoint);
    } catch (error) {
      await this.signalUnlessReused(checkpoint, 'SIGKILL');
      throw error;
    }
    // Only now: a launch in flight has no checkpoint to give.
    container.checkpoint = checkpoint;
    // Recorded: the command may start. A wrapper already gone (killed) makes this an EPIPE,
    // which its exit reports.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(GO_LINE);
    container.child = child;
    // The first sample, read above anyway: a task that ends before the next one still has usage.
    container.usage.record([{ stat: leader }]);
    this.running(container);
    if (exit !== undefined) void this.end(container, exit);
  }

  /** Watches a container the agent knew of before its restart. */
  private async reattach(id: string, sandbox: string, checkpoint: ProcessCheckpoint) {
    const container = this.register(id, sandbox);
    container.checkpoint = checkpoint;
    container.settleLaunch(true);
    const leader = await readProcStat(checkpoint.pid);
    if (isLeader(leader, checkpoint) && !hasExited(leader)) {
      await this.writeRuntimeRecord(container, checkpoint);
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
      this.signal(container, 'SIGTERM');
    } else if (deadline < container.kill.deadline && container.phase !== 'terminated') {
      container.kill.deadline = deadline;
    } else {
      return;
    }
    const kill = container.kill;
    clearTimeout(kill.timer);
    if (gracePeriodMs <= 0) {
      this.signal(container, 'SIGKILL');
    } else {
      kill.timer = setTimeout(() => this.signal(container, 'SIGKILL'), gracePeriodMs);
      kill.timer.unref();
    }
  }

  /**
   * The leader has ended, so the container ends: whatever it left behind is killed (at once, or
   * when a kill under way reaches its SIGKILL), and once the group is empty the termination is
   * decided. Never rejects: it runs from event handlers.
   */
  private async end(container: Container, exit: LeaderExit): Promise<void> {
    if (container.phase !== 'running') return;
    container.phase = 'ending';
    clearTimeout(container.timeout);
    try {
      await this.untilGroupGone(container);
    } catch {
      // /proc unreadable: nothing more can be learnt about the group; end the container anyway.
    }
    clearTimeout(container.kill?.timer);
    container.usage.ended();
    const termination = terminationOf(exit, container.kill, container.usage.usage);
    container.phase = 'terminated';
    container.final = termination;
    container.terminate(termination);
    this.updateSampler();
  }

  private async untilGroupGone(container: Container): Promise<void> {
    const checkpoint = container.checkpoint;
    if (checkpoint === undefined) return;
    let sigkillSince: number | undefined;
    while (await this.groupAlive(container, checkpoint)) {
      const now = Date.now();
      if (container.kill === undefined || now >= container.kill.deadline) {
        sigkillSince ??= now;
        if (now - sigkillSince > SIGKILL_PATIENCE_MS) return;
        await this.signalUnlessReused(checkpoint, 'SIGKILL');
      }
      await sleep(GROUP_POLL_MS);
    }
  }

  /** Whether any process of the group is still running (zombies have ended already). */
  private async groupAlive(container: Container, checkpoint: ProcessCheckpoint): Promise<boolean> {
    try {
      process.kill(-checkpoint.pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    }
    // Someone is in the group, but zombies count for kill(2) and may wait long for their reaper.
    const leader = await readProcStat(checkpoint.pid);
    if (leader !== undefined && !isLeader(leader, checkpoint)) return false;
    if (await kernelListsChildren()) {
      const members = await listGroupMembers(checkpoint.pid, [
        checkpoint.pid,
        ...container.members,
      ]);
      if (members.some((member) => !hasExited(member))) return true;
    }
    // Only zombies where the walk went, or members it could not reach (orphaned before any sample
    // saw them): only a look at every process tells. Rare, and those found are walked from next.
    const everyMember = (await listProcesses()).filter((p) => p.pgrp === checkpoint.pid);
    container.members = everyMember.map((member) => member.pid);
    return everyMember.some((member) => !hasExited(member));
  }

  /**
   * The processes of the container's group: walked down to from its leader and from the members
   * the last sample saw, or, on a kernel that does not list children, found among every process.
   */
  private async groupMembers(
    container: Container,
    checkpoint: ProcessCheckpoint,
    scan = listProcesses,
  ): Promise<ProcStat[]> {
    if (!(await kernelListsChildren())) {
      return (await scan()).filter((p) => p.pgrp === checkpoint.pid);
    }
    return listGroupMembers(checkpoint.pid, [checkpoint.pid, ...container.members]);
  }

  private signal(container: Container, signal: NodeJS.Signals): void {
    const checkpoint = container.checkpoint;
    if (checkpoint === undefined) return;
    const child = container.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      // The leader is the agent's child and not yet reaped: its pid, the group's id, is its own.
      signalGroup(checkpoint.pid, signal);
    } else {
      void this.signalUnlessReused(checkpoint, signal);
    }
  }

  /**
   * Signals the container's group unless its leader's pid now belongs to another process: then
   * the group has long been empty (a pid is not reused while it names a group with members) and
   * the new process's group may be anyone's.
   */
  private async signalUnlessReused(
    checkpoint: ProcessCheckpoint,
    signal: NodeJS.Signals,
  ): Promise<void> {
    const leader = await readProcStat(checkpoint.pid);
    if (leader !== undefined && leader.startTime !== checkpoint.startTime) return;
    signalGroup(checkpoint.pid, signal);
  }

  private async release(container: Container): Promise<void> {
    try {
      if (await container.launched) {
        this.stop(container, 0, 'KILLED_BY_FRAMEWORK', 'killed when its container was destroyed');
        await container.termination;
        // Should this fail, the next recover takes the record for an orphan's and removes it.
        await rm(this.runtimeRecordPath(container.id), { force: true });
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
    // Where every process must be read, one reading serves the whole round.
    let everyProcess: Promise<ProcStat[]> | undefined;
    const scan = () => (everyProcess ??= listProcesses());
    await Promise.all(live.map((container) => this.sample(container, scan)));
  }

  /** Measures one running container now, or joins its measurement under way. */
  private sample(container: Container, scan = listProcesses): Promise<void> {
    container.sampling ??= this.measure(container, scan)
      .catch(() => undefined)
      .finally(() => (container.sampling = undefined));
    return container.sampling;
  }

  /**
   * Reads the container's own processes into its usage. A recovered container, which is no
   * child of the agent's, is also found ended here, when its leader is.
   */
  private async measure(container: Container, scan: () => Promise<ProcStat[]>): Promise<void> {
    const checkpoint = container.checkpoint;
    if (container.phase !== 'running' || checkpoint === undefined) return;
    const leader = await readProcStat(checkpoint.pid);
    // Another process has the leader's pid: the group it led has been empty for a while.
    const reused = leader !== undefined && !isLeader(leader, checkpoint);
    const members = reused ? [] : await this.groupMembers(container, checkpoint, scan);
    const samples = await Promise.all(
      members.map(async (member) => ({ stat: member, ...(await readProcMemory(member.pid)) })),
    );
    if (container.phase !== 'running') return;
    container.members = members.map((member) => member.pid);
    if (samples.length > 0) container.usage.record(samples);
    if (container.child === undefined && (leader === undefined || reused || hasExited(leader))) {
      const exit: LeaderExit = (await readRecordedExit(container.sandbox)) ?? {
        unknown: 'unrecorded',
      };
      // Not awaited: the group may take a grace period to empty, and sampling goes on.
      void this.end(container, exit);
    }
  }

  private runtimeRecordPath(containerId: string): string {
    return join(this.runtimeDir, `${containerId}.json`);
  }

  /** Written right after the spawn, before the launch resolves: the window for orphans is small. */
  private async writeRuntimeRecord(
    container: Container,
    checkpoint: ProcessCheckpoint,
  ): Promise<void> {
    const record: RuntimeRecord = {
      containerId: container.id,
      sandbox: container.sandbox,
      checkpoint,
    };
    const path = this.runtimeRecordPath(container.id);
    // Written aside and renamed, so a crash never leaves half a record.
    await writeFile(`${path}.tmp`, JSON.stringify(record));
    await rename(`${path}.tmp`, path);
  }

  private async readRuntimeRecords(): Promise<Map<string, RuntimeRecord>> {
    const records = new Map<string, RuntimeRecord>();
    let names: string[];
    try {
      names = await readdir(this.runtimeDir);
    } catch {
      return records;
    }
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        const record = parseRuntimeRecord(
          JSON.parse(await readFile(join(this.runtimeDir, name), 'utf8')),
        );
        if (record !== undefined) records.set(record.containerId, record);
      } catch {
        // Not a record of ours: leave it alone.
      }
    }
    return records;
  }
}

function isLeader(stat: ProcStat | undefined, checkpoint: ProcessCheckpoint): stat is ProcStat {
  return (
    stat !== undefined && stat.pid === checkpoint.pid && stat.startTime === checkpoint.startTime
  );
}

/** Signals process group `pgid`. Errors are ignored: an empty group is not one. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nobody left in the group.
  }
}

function parseCheckpoint(value: unknown): ProcessCheckpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, startTime, maxCompletionTimeMs, deadline } = value as Record<string, unknown>;
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;
  if (!isCount(pid) || !Number.isSafeInteger(startTime)) return undefined;
  return {
    pid,
    startTime: startTime as number,
    ...(typeof maxCompletionTimeMs === 'number' ? { maxCompletionTimeMs } : {}),
    ...(typeof deadline === 'number' ? { deadline } : {}),
  };
}

function parseRuntimeRecord(value: unknown): RuntimeRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { containerId, sandbox, checkpoint } = value as Record<string, unknown>;
  const parsed = parseCheckpoint(checkpoint);
  if (typeof containerId !== 'string' || !CONTAINER_ID_PATTERN.test(containerId)) return undefined;
  if (typeof sandbox !== 'string' || parsed === undefined) return undefined;
  return { containerId, sandbox, checkpoint: parsed };
}
