import {
  CONTAINER_ID_PATTERN,
  type Containerizer,
  type ContainerSpec,
  type LaunchResult,
  type RecoverableContainer,
  type Termination,
} from '../containerizer';
import {
  assertValidSpec,
  DEFAULT_PATH,
  findExecutable,
  openOutputs,
  prepareWorkspace,
  type Outputs,
} from '../launching';
import { LifecycleContainerizer } from '../lifecycle/lifecycle-containerizer';
import { ContainerLifecycle, type LiveContainer } from '../lifecycle/container-lifecycle';
import { terminationOf, type LeaderExit } from '../lifecycle/termination';
import { ExitJournal, type RecordedEnd } from './exit-journal';
import { GroupUsage } from './group-usage';
import {
  clockTicksPerSecond,
  hasExited,
  listProcesses,
  readProcMemory,
  parseProcStat,
  readProcStat,
  type ProcStat,
} from './proc';
import { groupMembers, isLeader, signalUnlessReused, untilGroupGone } from './process-group';
import { parseCheckpoint, RuntimeRecords, type ProcessCheckpoint } from './runtime-records';
import { environmentProblem, GO_LINE, readRecordedExit, wrapperArguments } from './wrapper';
import { heardOfNoMore, sharedLauncher, type LaunchedProcess } from '@kiln/common';

// Their home moved to launching.ts, shared with the cgroup containerizer; still exported from here.
export { DEFAULT_PATH, EXIT_CODE_FILE } from '../launching';
export type { ProcessCheckpoint } from './runtime-records';

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
  /** Launches given one exit file before the next is opened; default 10,000. */
  launchesPerExitFile?: number;
}

const DEFAULT_GRACE_PERIOD_MS = 3_000;
const DEFAULT_SAMPLE_INTERVAL_MS = 250;

/** A wrapper spawned: its container recorded (or not), and its exit once heard. */
interface Spawned {
  recorded: Promise<{ wrapper: LaunchedProcess; leader: ProcStat; checkpoint: ProcessCheckpoint }>;
  exit: () => LeaderExit | undefined;
}

interface ProcessContainer extends LiveContainer<ProcessCheckpoint> {
  /** The wrapper, while the containerizer that launched it runs; none after a recovery. */
  wrapper?: LaunchedProcess;
  /** The exit file its wrapper was given, from the launch on (the checkpoint has it later). */
  exitFile?: string;
  readonly usage: GroupUsage;
  /** The group's members at the last sample: where the next one walks down from. */
  members: readonly number[];
  /** The sample under way, which concurrent callers share. */
  sampling?: Promise<void>;
}

/**
 * Runs each task as a plain process group on the agent's host: no isolation and no enforced
 * limits (the resources are the scheduler's bookkeeping only), for hosts where neither cgroups nor
 * Docker can be had. `network: 'none'` and images are therefore not supported.
 *
 * Each container is a process group led by a small `/bin/sh` wrapper (see `wrapper.ts`) in its
 * own session (`detached`), so the agent can signal the whole group and the task survives the
 * agent. The task works in the sandbox's workspace; the wrapper records the command's exit code
 * in an exit file of the agent's (see `exit-journal.ts`), which is how a recovered container's
 * end is told. Limits of a process group, which the cgroup containerizer has not: a process that
 * leaves the group (`setsid`, `setpgid`) escapes kill and destroy; a signal the agent did not send
 * that ends the command alone shows as the exit code a shell reports for it (128 + n), not as a
 * signal; and the task runs as the agent's user on the agent's filesystem, so the workspace keeps
 * a repository's files (and the task's mistakes) off the agent's, but is no wall against a hostile
 * command.
 */
export class ProcessContainerizer
  extends LifecycleContainerizer<ProcessContainer, LeaderExit>
  implements Containerizer
{
  readonly name = 'process' as const;

  private readonly records: RuntimeRecords;
  private readonly exits: ExitJournal;
  private readonly ticksPerSecond: number;
  private readonly launcher = sharedLauncher();
  protected readonly containers: ContainerLifecycle<ProcessContainer, LeaderExit>;

  constructor(options: ProcessContainerizerOptions) {
    super();
    this.records = new RuntimeRecords(options.runtimeDir);
    this.exits = new ExitJournal(this.records.dir, options.launchesPerExitFile);
    // Read here, at the agent's start, rather than on the event loop at the first launch.
    this.ticksPerSecond = clockTicksPerSecond();
    this.containers = new ContainerLifecycle<ProcessContainer, LeaderExit>(
      {
        create: (base) => ({ ...base, usage: new GroupUsage(this.ticksPerSecond), members: [] }),
        refusal: (spec) => refusal(spec),
        start: (container, spec) => this.start(container, spec),
        signal: (container, signal) => this.signal(container, signal),
        ended: (container, exit) => this.ended(container, exit),
        measure: (container) => this.sample(container),
        usage: (container) => container.usage.usage,
        sample: (running) => this.sampleAll(running),
        unheld: (container) => heardOfNoMore(container.wrapper),
        release: (container) => this.release(container),
      },
      {
        defaultGracePeriodMs: options.defaultGracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS,
        sampleIntervalMs: options.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS,
      },
    );
  }

  async recover(known: readonly RecoverableContainer[]): Promise<string[]> {
    // Recovery comes first at an agent's start: the launcher starts beside it, not at a launch.
    this.launcher.warm();
    await this.records.make();
    const records = await this.records.readAll();
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
      if (await this.reattach(containerId, sandbox, found)) recovered.push(containerId);
    }
    const orphans = [...records.values()].filter((o) => !this.containers.has(o.containerId));
    for (const orphan of orphans) {
      await this.reattach(orphan.containerId, orphan.sandbox, orphan.checkpoint);
    }
    for (const orphan of orphans) await this.destroy(orphan.containerId);
    // Every container found again holds its exit file by now: the others' files go.
    await this.exits.removeUnheld();
    return recovered;
  }

  private async start(container: ProcessContainer, spec: ContainerSpec): Promise<LaunchResult> {
    const { sandbox } = spec;
    const environment = { ...spec.environment };
    environment.PATH ??= DEFAULT_PATH;
    // Independent of each other, so done at once: each is a round trip through libuv's pool that
    // the launch waits for. The workspace's failure, which says what is wrong with the sandbox,
    // is the one told.
    const [prepared, opened, recorded] = await Promise.allSettled([
      prepareWorkspace(spec),
      openOutputs(sandbox),
      // The exit files are in the records' directory.
      this.records.make().then(() => this.exits.prepare()),
    ]);
    if (
      prepared.status === 'rejected' ||
      opened.status === 'rejected' ||
      recorded.status === 'rejected'
    ) {
      if (opened.status === 'fulfilled') opened.value.close();
      const failed = [prepared, opened, recorded].find((result) => result.status === 'rejected');
      throw (failed as PromiseRejectedResult).reason;
    }
    const workspace = prepared.value;
    const outputs = opened.value;
    let argv: string[];
    try {
      argv = spec.command.shell
        ? ['/bin/sh', '-c', spec.command.value]
        : [
            await findExecutable(spec.command.value, environment.PATH, workspace),
            ...spec.command.arguments,
          ];
    } catch (error) {
      outputs.close();
      throw error;
    }
    // Its descriptor stays open until the wrapper has its own copy (see spawnWrapper).
    const exitFile = this.exits.take(container.id);
    container.exitFile = exitFile.name;
    // A launch that fails leaves nothing running: nothing holds its exit file.
    const giveBack = async (error: unknown): Promise<never> => {
      container.exitFile = undefined;
      await this.exits.release(container.id, exitFile.name);
      throw error;
    };
    const task = { workspace, environment, argv };
    const spawned = this.spawnWrapper(container, spec, task, outputs, exitFile);
    const { wrapper, leader, checkpoint } = await spawned.recorded.catch(giveBack);
    // Only now: a launch in flight has no checkpoint to give.
    container.checkpoint = checkpoint;
    // Recorded: the command may start, and does, once the line is in its pipe, even if the agent
    // dies right after the launch. A wrapper already gone (killed) takes it as EPIPE, and its
    // exit says so. Should the launcher be lost meanwhile, whether the line got there is not
    // known: the container is watched from outside, as a recovered one, and its exit line says
    // whether the command ran (a go never written: 'unstarted') and how it ended.
    container.wrapper = wrapper;
    await wrapper.go(GO_LINE);
    // The first sample, read above anyway: a task that ends before the next one still has usage.
    container.usage.record([{ stat: leader }]);
    this.containers.running(container);
    const exit = spawned.exit();
    if (exit !== undefined) void this.containers.end(container, exit);
    return { status: 'launched' };
  }

  /**
   * Spawns the wrapper (from the launcher, see launcher.ts), then records the container (it waits
   * for its go meanwhile). `recorded` rejects, with nothing left running, when either fails;
   * `exit` is the wrapper's exit once heard, which the lifecycle's `end` ignores until the
   * container runs. The outputs and the exit file are let go once the wrapper has its own copies.
   */
  private spawnWrapper(
    container: ProcessContainer,
    spec: ContainerSpec,
    task: { workspace: string; environment: Record<string, string>; argv: string[] },
    outputs: Outputs,
    exitFile: { name: string; fd: number; handedOver: () => void },
  ): Spawned {
    const launched = this.launcher
      .spawn({
        file: '/bin/sh',
        args: wrapperArguments(container.id, task.environment, task.argv),
        cwd: task.workspace,
        env: task.environment,
        // The wrapper waits on its standard input for the agent's go, and writes its exit line to
        // its descriptor 3.
        input: 'pipe',
        outputs: [outputs.stdout, outputs.stderr, exitFile.fd],
      })
      .finally(() => {
        // The wrapper has its own copies now (or never will).
        exitFile.handedOver();
        outputs.close();
      });
    let exit: LeaderExit | undefined;
    const recorded = (async () => {
      const wrapper = await launched;
      const pid = wrapper.pid;
      // Read by the launcher before it could reap the wrapper: the wrapper's own.
      const leader = wrapper.stat === undefined ? undefined : parseProcStat(wrapper.stat);
      void wrapper.exited.then((ended) => {
        exit = ended;
        void this.containers.end(container, ended);
      });
      if (leader === undefined) {
        await wrapper.signal('SIGKILL');
        throw new Error(`/proc/${pid}/stat cannot be read`);
      }
      const timeoutMs = spec.maxCompletionTimeMs;
      const checkpoint: ProcessCheckpoint = {
        pid,
        startTime: leader.startTime,
        exits: exitFile.name,
        ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
        ...(timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs }),
      };
      try {
        // Written right after the spawn, before the launch resolves: the window for orphans is
        // small.
        await this.records.write({ containerId: container.id, sandbox: spec.sandbox, checkpoint });
      } catch (error) {
        if (!(await wrapper.signal('SIGKILL'))) await signalUnlessReused(checkpoint, 'SIGKILL');
        throw error;
      }
      return { wrapper, leader, checkpoint };
    })();
    return { recorded, exit: () => exit };
  }

  /**
   * Watches a container the agent knew of before its restart; false, forgetting it, if its
   * command never started.
   */
  private async reattach(
    id: string,
    sandbox: string,
    checkpoint: ProcessCheckpoint,
  ): Promise<boolean> {
    const leader = await readProcStat(checkpoint.pid);
    const alive = isLeader(leader, checkpoint) && !hasExited(leader);
    const end = alive ? undefined : await this.recordedExit(id, sandbox, checkpoint);
    if (end !== undefined && 'unstarted' in end) {
      // Its agent died between recording it and the go: the wrapper never ran the command, and
      // said so. Not recovered, so that the task is told its command never ran.
      await this.records.remove(id);
      return false;
    }
    const container = this.containers.register(id, sandbox);
    container.checkpoint = checkpoint;
    container.settleLaunch(true);
    if (checkpoint.exits !== undefined) {
      container.exitFile = checkpoint.exits;
      this.exits.hold(id, checkpoint.exits);
    }
    if (alive) {
      await this.records.write({ containerId: id, sandbox, checkpoint });
      this.containers.running(container);
    } else {
      await this.containers.endFound(container, end ?? { unknown: 'vanished' });
    }
    return true;
  }

  /** How the wrapper says the command ended (or that it never started), if it has. */
  private recordedExit(
    id: string,
    sandbox: string,
    checkpoint: ProcessCheckpoint,
  ): Promise<RecordedEnd | undefined> {
    // A wrapper of an agent from before the exit files wrote to the sandbox.
    return checkpoint.exits === undefined
      ? readRecordedExit(sandbox)
      : this.exits.read(checkpoint.exits, id, checkpoint.pid);
  }

  private async release(container: ProcessContainer): Promise<void> {
    try {
      // Should this fail, the next recover takes the record for an orphan's and removes it.
      await this.records.remove(container.id);
    } finally {
      if (container.exitFile !== undefined) {
        await this.exits.release(container.id, container.exitFile);
      }
    }
  }

  /**
   * The leader has ended, so the container ends: whatever it left behind is killed (at once, or
   * when a kill under way reaches its SIGKILL), and once the group is empty the termination is
   * decided.
   */
  private async ended(container: ProcessContainer, exit: LeaderExit): Promise<Termination> {
    const checkpoint = container.checkpoint;
    try {
      if (checkpoint !== undefined) await untilGroupGone(container, checkpoint);
    } catch {
      // /proc unreadable: nothing more can be learnt about the group; end the container anyway.
    }
    container.usage.ended();
    return terminationOf(exit, container.kill, container.usage.usage);
  }

  private signal(container: ProcessContainer, signal: NodeJS.Signals): void {
    const checkpoint = container.checkpoint;
    if (checkpoint === undefined) return;
    const wrapper = container.wrapper;
    // While the leader is the launcher's child and unreaped, its pid (the group's id) is its own: the
    // launcher, which reaps it, signals the group; otherwise its start time is checked.
    void (wrapper === undefined ? Promise.resolve(false) : wrapper.signal(signal)).then((sent) =>
      sent ? undefined : signalUnlessReused(checkpoint, signal),
    );
  }

  private async sampleAll(live: readonly ProcessContainer[]): Promise<void> {
    // Where every process must be read, one reading serves the whole round.
    let everyProcess: Promise<ProcStat[]> | undefined;
    const scan = () => (everyProcess ??= listProcesses());
    await Promise.all(live.map((container) => this.sample(container, scan)));
  }

  /** Measures one running container now, or joins its measurement under way. */
  private sample(container: ProcessContainer, scan = listProcesses): Promise<void> {
    container.sampling ??= this.measure(container, scan)
      .catch(() => undefined)
      .finally(() => (container.sampling = undefined));
    return container.sampling;
  }

  /**
   * Reads the container's own processes into its usage. A recovered container, which is no
   * child of the agent's, is also found ended here, when its leader is.
   */
  private async measure(
    container: ProcessContainer,
    scan: () => Promise<ProcStat[]>,
  ): Promise<void> {
    const checkpoint = container.checkpoint;
    if (container.phase !== 'running' || checkpoint === undefined) return;
    const leader = await readProcStat(checkpoint.pid);
    // Another process has the leader's pid: the group it led has been empty for a while.
    const reused = leader !== undefined && !isLeader(leader, checkpoint);
    const members = reused ? [] : await groupMembers(container, checkpoint, scan);
    const samples = await Promise.all(
      members.map(async (member) => ({ stat: member, ...(await readProcMemory(member.pid)) })),
    );
    if (container.phase !== 'running') return;
    container.members = members.map((member) => member.pid);
    if (samples.length > 0) container.usage.record(samples);
    if (heardOfNoMore(container.wrapper) && (leader === undefined || reused || hasExited(leader))) {
      const exit: LeaderExit = (await this.recordedExit(
        container.id,
        container.sandbox,
        checkpoint,
      )) ?? {
        unknown: 'unrecorded',
      };
      // Not awaited: the group may take a grace period to empty, and sampling goes on.
      void this.containers.end(container, exit);
    }
  }
}

/** Why this containerizer cannot run a valid spec, if it cannot; throws for an invalid one. */
function refusal(spec: ContainerSpec): string | undefined {
  assertValidSpec(spec);
  if (spec.image !== undefined) {
    return 'the process containerizer cannot run images; docker is needed';
  }
  if (spec.network === 'none') {
    return 'the process containerizer cannot isolate the network; cgroup or docker is needed';
  }
  return environmentProblem(spec.environment);
}
