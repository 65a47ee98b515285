import { deferred, errorMessage } from '@kiln/common';
import { AgentEnv } from '@kiln/config';
import {
  isTerminal,
  type AgentLaunch,
  type TaskReason,
  type TaskState,
  type TaskStatus,
} from '@kiln/contracts';
import {
  OUTPUT_FILE_MODE,
  workspaceOf,
  WORKSPACE_MOUNT_PATH,
  type Containerizer,
  type ContainerSpec,
  type LaunchResult,
  type Termination,
  type WorkspaceOwnership,
} from '@kiln/containerizer';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchArtifactInputs } from '../artifacts/artifact-inputs';
import { uploadArtifacts } from '../artifacts/artifact-uploader';
import { LogShipping } from '../logs/log-shipping';
import type { CheckoutBy } from '../workspace/owned-checkout';
import { removeStrays, removeTree } from '../workspace/remove-tree';
import { SourceCache } from '../workspace/source-cache';
import type { StatusUpdateManager } from './status-update-manager';
import type { TaskCheckpoint, TaskStore } from './task-store';

/** How long a task's terminal state waits for its log to reach the server. */
const LOG_END_WAIT_MS = 5_000;
/** How long a task's artifact inputs may take to download, all of them. */
const ARTIFACT_DOWNLOAD_WAIT_MS = 10 * 60_000;
/** How long a succeeded task's artifacts may take to upload, all of them. */
const ARTIFACT_UPLOAD_WAIT_MS = 10 * 60_000;
/** How long a done task's sandbox is kept for its log shipper to finish. */
const LOG_RELEASE_WAIT_MS = 30_000;

/** What a task runner works with: the agent's own parts. */
export interface TaskRunnerParts {
  env: AgentEnv;
  agentId: string;
  /** The agent's data directory: sandboxes, the source cache. */
  dataDir: string;
  /** The agent's containerizers, its first choice first. */
  containerizers: readonly Containerizer[];
  store: TaskStore;
  /** Where statuses go: saved, sent, resent until acknowledged. */
  updates: StatusUpdateManager;
}

/**
 * The life of the tasks on this agent: a LAUNCH prepares the sandbox (checkout, inputs) while its
 * container is made, runs the command, ships the log and artifacts, and reports each state at
 * least once; a KILL stops a task wherever it is; after a restart, `recover` re-attaches to the
 * tasks an earlier run of the agent launched. Talking to the master is not its business: its
 * statuses go through the {@link StatusUpdateManager}.
 */
export class TaskRunner {
  private readonly logger = new Logger(TaskRunner.name);
  private readonly env: AgentEnv;
  private readonly agentId: string;
  private readonly dataDir: string;
  private readonly containerizers: readonly Containerizer[];
  private readonly byName: Map<string, Containerizer>;
  private readonly store: TaskStore;
  private readonly updates: StatusUpdateManager;
  private readonly sources: SourceCache;
  private readonly logs: LogShipping;
  /**
   * Tasks being prepared (checkout, inputs): their containerizer does not know them yet, so a
   * KILL stops them here, and their command never starts.
   */
  private readonly starting = new Map<string, AbortController>();

  constructor(parts: TaskRunnerParts) {
    this.env = parts.env;
    this.agentId = parts.agentId;
    this.dataDir = parts.dataDir;
    this.containerizers = parts.containerizers;
    this.byName = new Map(parts.containerizers.map((c): [string, Containerizer] => [c.name, c]));
    this.store = parts.store;
    this.updates = parts.updates;
    this.sources = new SourceCache(
      join(this.dataDir, 'source-cache'),
      (key, error) =>
        this.logger.warn(
          `source cache of ${key} failed (${errorMessage(error)}): fetching directly`,
        ),
      { maxBytes: parts.env.KILN_AGENT_PACK_CACHE_MB * 1024 * 1024 },
    );
    this.logs = new LogShipping(this.store);
  }

  /**
   * Stops shipping logs, and undoes the containers made for tasks to come; the tasks themselves
   * run on, for the next agent to re-attach to.
   */
  async stop(): Promise<void> {
    await Promise.all([
      this.logs.stop(),
      ...this.containerizers.map((containerizer) => containerizer.close?.()),
    ]);
  }

  async launch({ frameworkId, role, task }: AgentLaunch): Promise<void> {
    const taskId = task.taskId;
    if (this.updates.get(taskId) !== undefined) {
      this.logger.warn(`ignoring a second LAUNCH of task ${taskId}`);
      return;
    }
    // A task with an image needs Docker; one without takes the agent's first choice (cgroups
    // where they work, like DC/OS's default).
    const wanted =
      task.container?.type ??
      (task.container?.image === undefined ? this.containerizers[0]?.name : 'docker') ??
      'process';
    const containerizer = this.byName.get(wanted);
    const sandbox = this.sandboxOf(taskId);
    // The task's files (checkout, inputs, what it makes) go in the workspace, the agent's files
    // beside it: nothing the repository or the build puts there can replace the agent's.
    const workspace = workspaceOf(sandbox);
    const checkpoint: TaskCheckpoint = {
      frameworkId,
      role,
      taskInfo: task,
      state: 'TASK_STAGING',
      containerizer: wanted,
      pending: [],
      workspace,
    };
    this.updates.track(checkpoint);
    if (containerizer === undefined) {
      // Never run a task some other way than it asked for: refuse it with the reason.
      await this.reportUnrun(
        checkpoint,
        'TASK_ERROR',
        'CONTAINERIZER_NOT_SUPPORTED',
        `this agent has no ${wanted} containerizer (it has ${[...this.byName.keys()].join(', ')})` +
          (wanted === 'docker' ? ': a task with an image needs Docker' : ''),
      );
      return;
    }
    if (task.container?.image !== undefined && wanted !== 'docker') {
      await this.reportUnrun(
        checkpoint,
        'TASK_ERROR',
        'CONTAINERIZER_NOT_SUPPORTED',
        `a task with an image needs the docker containerizer, not ${wanted}`,
      );
      return;
    }
    void this.report(taskId, 'TASK_STARTING');
    const starting = new AbortController();
    this.starting.set(taskId, starting);
    // The commit's pack comes while the sandbox and container are made ready (a kill stops it).
    if (task.source !== undefined) this.sources.prefetch(task.source, starting.signal);
    // The container is made while the workspace is prepared; its command waits for the workspace.
    const ready = task.source !== undefined || task.inputs !== undefined ? deferred() : undefined;
    // A containerizer that can checks the commit out in the container, the agent putting only its
    // objects into the workspace: not where inputs come after the checkout (in its way there),
    // nor for a command without a shell (the container's shell checks out).
    const checkout =
      task.source !== undefined &&
      task.inputs === undefined &&
      task.command.shell &&
      containerizer.checksOut === true
        ? { commit: task.source.sha }
        : undefined;
    const spec = this.containerSpec(containerizer, checkpoint, ready?.promise, checkout);
    // A container made ahead of the task takes the sandbox's place, before anything is in it.
    const warm = (await containerizer.takeWarm?.(spec).catch(() => false)) ?? false;
    let launched: Promise<LaunchOutcome> | undefined;
    try {
      try {
        await mkdir(workspace, { recursive: true });
      } catch (error) {
        if (warm) await containerizer.destroy(taskId).catch(() => undefined);
        await this.reportUnrun(
          checkpoint,
          'TASK_FAILED',
          'CONTAINER_LAUNCH_FAILED',
          errorMessage(error),
          'the sandbox could not be made',
        );
        return;
      }
      this.logs.start(checkpoint, this.stdoutOf(taskId));
      // A launch that fails while the workspace is prepared stops the preparation: its failure
      // is the task's end, told at once rather than after a checkout that would be for nothing.
      const launchFailed = new AbortController();
      // Nothing to prepare: launched below, once kills go to the containerizer.
      if (ready !== undefined) {
        launched = this.launchContainer(containerizer, spec).then((outcome) => {
          const { status } = 'error' in outcome ? { status: 'failed' } : outcome.result;
          if (status === 'failed' || status === 'not-supported' || status === 'killed') {
            launchFailed.abort();
          }
          return outcome;
        });
      }
      const unprepared = await this.prepare(
        checkpoint,
        workspace,
        () => {
          // Asked either way: it refuses (nothing is put into the workspace) for a launch refused.
          const ownership = this.ownershipOf(containerizer, taskId, launched !== undefined);
          return checkout === undefined ? ownership : 'container';
        },
        starting.signal,
        launchFailed.signal,
      );
      const stoppedForTheLaunch = launchFailed.signal.aborted && !starting.signal.aborted;
      if (unprepared !== undefined && !stoppedForTheLaunch) {
        // Its container undone first: once its end is told, its resources are offered again.
        if (launched !== undefined) {
          ready?.reject(new Error('the task ended before its command started'));
          await launched;
        }
        // Its container, or the warm one it took, is undone.
        if (launched !== undefined || warm) {
          await containerizer.destroy(taskId).catch(() => undefined);
        }
        await unprepared();
        return;
      }
    } finally {
      // From here on the containerizer has the task: it takes the kills.
      this.starting.delete(taskId);
    }
    ready?.resolve();
    const outcome = await (launched ?? this.launchContainer(containerizer, spec));
    if ('error' in outcome) {
      await this.reportUnrun(
        checkpoint,
        'TASK_FAILED',
        'CONTAINER_LAUNCH_FAILED',
        errorMessage(outcome.error),
        'the container failed to start',
      );
      await containerizer.destroy(taskId).catch(() => undefined);
      return;
    }
    if (outcome.result.status === 'not-supported') {
      await this.reportUnrun(
        checkpoint,
        'TASK_ERROR',
        'CONTAINERIZER_NOT_SUPPORTED',
        outcome.result.reason,
      );
      return;
    }
    if (outcome.result.status === 'killed') {
      const { reason, message } = outcome.result;
      await this.reportUnrun(checkpoint, 'TASK_KILLED', reason, message, 'killed');
      return;
    }
    checkpoint.container = containerizer.checkpoint(taskId);
    void this.report(taskId, 'TASK_RUNNING');
    await this.awaitTermination(containerizer, checkpoint);
  }

  /** The task's container as the containerizer is asked for it, its command held until `ready`. */
  private containerSpec(
    containerizer: Containerizer,
    checkpoint: TaskCheckpoint,
    ready: Promise<void> | undefined,
    checkout?: { commit: string },
  ): ContainerSpec {
    const task = checkpoint.taskInfo;
    const taskId = task.taskId;
    const sandbox = this.sandboxOf(taskId);
    return {
      containerId: taskId,
      command: task.command.shell
        ? { shell: true, value: task.command.value }
        : { shell: false, value: task.command.value, arguments: task.command.arguments ?? [] },
      environment: {
        ...task.command.environment,
        KILN_TASK_ID: taskId,
        // Where the task works (as the task sees it: a container has it mounted, the native
        // one too); the agent's files beside it are none of its business.
        KILN_SANDBOX:
          containerizer.name === 'process' ? workspaceOf(sandbox) : WORKSPACE_MOUNT_PATH,
      },
      sandbox,
      resources: task.resources,
      ...(task.maxCompletionTimeSeconds === undefined
        ? {}
        : { maxCompletionTimeMs: task.maxCompletionTimeSeconds * 1000 }),
      ...(task.container?.image === undefined ? {} : { image: task.container.image }),
      ...(task.container?.network === undefined ? {} : { network: task.container.network }),
      ...(ready === undefined ? {} : { ready }),
      ...(checkout === undefined ? {} : { checkout }),
    };
  }

  /** Launches the task's container; never rejects. */
  private launchContainer(
    containerizer: Containerizer,
    spec: ContainerSpec,
  ): Promise<LaunchOutcome> {
    return containerizer.launch(spec).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
  }

  /**
   * Checks the task's source out (as `checkoutBy()` says: see {@link CheckoutBy}) and
   * fetches its inputs into its workspace. When either fails, or the task is killed
   * (`signal`) meanwhile, what reports its end (once its container is undone); undefined when the
   * workspace is ready. `launchFailed` stops it too, for the launch's failure to be told instead.
   */
  private async prepare(
    checkpoint: TaskCheckpoint,
    workspace: string,
    checkoutBy: () => CheckoutBy | undefined,
    signal: AbortSignal,
    launchFailed: AbortSignal,
  ): Promise<(() => Promise<void>) | undefined> {
    const task = checkpoint.taskInfo;
    const taskId = task.taskId;
    const stop = AbortSignal.any([signal, launchFailed]);
    const unprepared = (reason: TaskReason, error: unknown, what: string) => () =>
      this.reportUnprepared(checkpoint, signal, reason, error, what);
    if (task.source !== undefined) {
      let by: CheckoutBy | undefined;
      try {
        by = checkoutBy();
      } catch (error) {
        // A launch refused at once: its failure, told once its answer has come (in a turn), is
        // what the task ends with, not this.
        await new Promise((resolve) => setImmediate(resolve));
        return unprepared('SOURCE_CHECKOUT_FAILED', error, 'source checkout failed');
      }
      try {
        await this.sources.checkout(workspace, task.source, stop, by);
      } catch (error) {
        return unprepared('SOURCE_CHECKOUT_FAILED', error, 'source checkout failed');
      }
    }
    if (task.inputs !== undefined) {
      let lines: string[];
      try {
        lines = await fetchArtifactInputs(
          workspace,
          task.inputs,
          AbortSignal.any([AbortSignal.timeout(ARTIFACT_DOWNLOAD_WAIT_MS), stop]),
        );
      } catch (error) {
        return unprepared('ARTIFACT_INPUTS_FAILED', error, 'fetching artifacts failed');
      }
      await this.appendOutput(taskId, lines).catch((error: unknown) => {
        this.logger.warn(
          `writing the inputs of ${taskId} to its log failed: ${errorMessage(error)}`,
        );
      });
    }
    return signal.aborted ? () => this.reportKilledBeforeStart(checkpoint) : undefined;
  }

  /**
   * Who checks the task's source out, known once its launch has begun. A containerizer that has
   * users of the task's own has one for each task it launches: with none (its launch refused),
   * nothing is checked out, rather than as the agent.
   */
  private ownershipOf(
    containerizer: Containerizer,
    taskId: string,
    launching: boolean,
  ): WorkspaceOwnership | undefined {
    if (containerizer.workspaceOwner === undefined) return undefined;
    const ownership = launching ? containerizer.workspaceOwner(taskId) : undefined;
    if (ownership === undefined) {
      throw new Error('its container is not being launched: nothing is checked out for it');
    }
    return ownership;
  }

  /** A step of the preparation failed: the task ends failed, or killed if a KILL stopped it. */
  private reportUnprepared(
    checkpoint: TaskCheckpoint,
    signal: AbortSignal,
    reason: TaskReason,
    error: unknown,
    what: string,
  ): Promise<void> {
    return signal.aborted
      ? this.reportKilledBeforeStart(checkpoint)
      : this.reportUnrun(checkpoint, 'TASK_FAILED', reason, errorMessage(error), what);
  }

  private reportKilledBeforeStart(checkpoint: TaskCheckpoint): Promise<void> {
    return this.reportUnrun(
      checkpoint,
      'TASK_KILLED',
      'KILLED_BY_FRAMEWORK',
      'killed before its command started',
      'killed',
    );
  }

  private async awaitTermination(
    containerizer: Containerizer,
    checkpoint: TaskCheckpoint,
  ): Promise<void> {
    const taskId = checkpoint.taskInfo.taskId;
    const termination = await containerizer.wait(taskId);
    if (termination === undefined && !commandMayHaveRun(checkpoint)) {
      // The agent died before the container started (during the checkout, say): nothing of the
      // task ran, so it is dropped, which a framework may launch again (Mesos' TASK_DROPPED).
      await this.reportUnrun(
        checkpoint,
        'TASK_DROPPED',
        'AGENT_RESTARTED',
        'the agent restarted before the command started; it never ran',
      );
    } else if (termination === undefined) {
      await this.reportUnrun(
        checkpoint,
        'TASK_FAILED',
        'AGENT_RESTARTED',
        'the task was gone when the agent restarted',
      );
    } else {
      // A server that sees the task's end has its artifacts: they go first (bounded), then the
      // log, which says what became of them.
      if (termination.state === 'TASK_FINISHED') await this.shipArtifacts(checkpoint);
      const { source } = checkpoint.taskInfo;
      if (termination.reason === 'SOURCE_CHECKOUT_FAILED' && source !== undefined) {
        await this.sources.dropPack(source).catch((error: unknown) => {
          this.logger.warn(`dropping the pack of ${source.sha} failed: ${errorMessage(error)}`);
        });
      }
      // A server that sees the task's end should have its whole log: ship it first (bounded).
      await this.logs.end(taskId, LOG_END_WAIT_MS);
      // Durable before the container goes: what the container leaves to tell its end (an exit
      // file, a sandbox) is what a restart would read, until the checkpoint says it ended.
      await this.reportTermination(taskId, termination);
    }
    await containerizer.destroy(taskId).catch((error: unknown) => {
      this.logger.error(`destroying the container of ${taskId} failed: ${errorMessage(error)}`);
    });
  }

  /** Uploads the artifacts of a succeeded task, writing what became of each into its output. */
  private async shipArtifacts(checkpoint: TaskCheckpoint): Promise<void> {
    const sink = checkpoint.taskInfo.artifacts;
    if (sink === undefined) return;
    const taskId = checkpoint.taskInfo.taskId;
    let lines: string[];
    try {
      const report = await uploadArtifacts(
        // A task an agent from before the workspace launched worked in its sandbox itself.
        checkpoint.workspace ?? this.sandboxOf(taskId),
        sink,
        AbortSignal.timeout(ARTIFACT_UPLOAD_WAIT_MS),
      );
      lines = report.lines;
      if (report.failed > 0) this.logger.warn(`${report.failed} artifacts of ${taskId} failed`);
    } catch (error) {
      lines = [`kiln: artifacts: ${errorMessage(error)}`];
    }
    try {
      await this.appendOutput(taskId, lines);
    } catch (error) {
      this.logger.warn(
        `writing the artifacts of ${taskId} to its log failed: ${errorMessage(error)}`,
      );
    }
  }

  async kill(frameworkId: string, taskId: string): Promise<void> {
    const checkpoint = this.updates.get(taskId);
    if (checkpoint === undefined) {
      // A kill for a task this agent never had (or already forgot): say so, acknowledged like
      // any update, so the framework stops waiting for it.
      this.updates.track({
        frameworkId,
        role: '',
        taskInfo: {
          taskId,
          name: taskId,
          command: { shell: true, value: '' },
          resources: { cpus: 0, mem: 0, disk: 0, ports: [] },
        },
        state: 'TASK_STAGING',
        containerizer: 'none',
        pending: [],
      });
      void this.report(taskId, 'TASK_DROPPED', undefined, {
        message: 'the agent does not know this task',
      });
      return;
    }
    if (isTerminal(checkpoint.state)) return;
    const starting = this.starting.get(taskId);
    if (starting !== undefined) {
      starting.abort();
      return;
    }
    const containerizer = this.byName.get(checkpoint.containerizer);
    await containerizer?.kill(taskId, {
      gracePeriodMs: this.env.KILN_AGENT_KILL_GRACE_MS,
      reason: 'KILLED_BY_FRAMEWORK',
    });
  }

  private reportTermination(taskId: string, termination: Termination): Promise<void> {
    return this.report(taskId, termination.state, termination.reason, {
      message: termination.message,
      ...(termination.exitCode === undefined ? {} : { exitCode: termination.exitCode }),
      ...(termination.usage === undefined ? {} : { usage: finalUsage(termination.usage) }),
    });
  }

  /**
   * Reports a task that ends without its command having run to its end, after writing why into
   * its output and shipping that (bounded), so a user reading the build log sees the reason.
   */
  private async reportUnrun(
    checkpoint: TaskCheckpoint,
    state: TaskState,
    reason: TaskReason,
    message: string,
    what?: string,
  ): Promise<void> {
    const taskId = checkpoint.taskInfo.taskId;
    if (checkpoint.taskInfo.logSink !== undefined) {
      const sandbox = this.sandboxOf(taskId);
      try {
        await mkdir(sandbox, { recursive: true });
        await this.appendOutput(taskId, [
          `kiln: ${what === undefined ? '' : `${what}: `}${message}`,
        ]);
      } catch (error) {
        this.logger.warn(`writing the end of the log of ${taskId} failed: ${errorMessage(error)}`);
      }
      this.logs.start(checkpoint, this.stdoutOf(taskId));
      await this.logs.end(taskId, LOG_END_WAIT_MS);
    }
    await this.report(taskId, state, reason, { message });
  }

  /**
   * Appends the agent's own lines to a task's output. Never through a symbolic link: the task
   * works in its workspace, away from this file, but should a link get here anyway (a task of an
   * agent from before the workspace), it must not make the agent write somewhere else.
   */
  private async appendOutput(taskId: string, lines: readonly string[]): Promise<void> {
    const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fsConstants;
    const file = await open(
      this.stdoutOf(taskId),
      O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW,
      OUTPUT_FILE_MODE,
    );
    try {
      await file.appendFile(lines.map((line) => `${line}\n`).join(''));
    } finally {
      await file.close();
    }
  }

  /** Saves the status and sends it; resolves once it is durable (or its save failed, logged). */
  private report(
    taskId: string,
    state: TaskState,
    reason?: TaskReason,
    extra: Pick<TaskStatus, 'message' | 'exitCode' | 'usage'> = {},
  ): Promise<void> {
    const status: TaskStatus = {
      taskId,
      state,
      source: 'AGENT',
      uuid: randomUUID(),
      timestamp: Date.now() / 1000,
      agentId: this.agentId,
      ...extra,
    };
    if (reason !== undefined) status.reason = reason;
    return this.updates.update(taskId, status).catch((error: unknown) => {
      // A disk that refuses the checkpoint is an agent that cannot keep its promises.
      this.logger.error(`checkpointing ${state} of task ${taskId} failed: ${errorMessage(error)}`);
    });
  }

  // ---- Recovery -------------------------------------------------------------------------------

  /** Picks up the tasks of a previous run of this agent: re-attach, or report what happened. */
  async recover(): Promise<void> {
    const checkpoints = this.store.loadAll((file, error) =>
      this.logger.error(`skipping unreadable task checkpoint ${file}: ${errorMessage(error)}`),
    );
    for (const containerizer of this.containerizers) {
      const mine = checkpoints.filter(
        (c) => c.containerizer === containerizer.name && !isTerminal(c.state),
      );
      await containerizer.recover(
        mine.map((c) => ({
          containerId: c.taskInfo.taskId,
          sandbox: this.sandboxOf(c.taskInfo.taskId),
          ...(c.container === undefined ? {} : { checkpoint: c.container }),
        })),
      );
    }
    // What an agent that died between a task's end and its sandbox's removal left on the disk.
    if (!this.env.KILN_AGENT_KEEP_FAILED_SANDBOXES) {
      const known = new Set(checkpoints.map((c) => c.taskInfo.taskId));
      const removed = await removeStrays(join(this.dataDir, 'sandboxes'), known).catch(
        (error: unknown) => {
          this.logger.warn(`removing sandboxes left behind failed: ${errorMessage(error)}`);
          return [];
        },
      );
      if (removed.length > 0) this.logger.log(`removed ${removed.length} sandboxes left behind`);
    }
    for (const checkpoint of checkpoints) {
      this.updates.track(checkpoint);
      const taskId = checkpoint.taskInfo.taskId;
      // Resumes from the checkpointed cursor; the server ignores what it already has.
      this.logs.start(checkpoint, this.stdoutOf(taskId));
      if (isTerminal(checkpoint.state)) {
        // Its end was reported before its log was complete: the rest follows in the background.
        void this.logs.end(taskId, LOG_END_WAIT_MS);
        continue;
      }
      const containerizer = this.byName.get(checkpoint.containerizer);
      if (containerizer === undefined) {
        void this.reportUnrun(
          checkpoint,
          'TASK_FAILED',
          'AGENT_RESTARTED',
          `the ${checkpoint.containerizer} containerizer is not available after the restart`,
        );
        continue;
      }
      this.logger.log(`recovered task ${taskId} (${checkpoint.state})`);
      void this.awaitTermination(containerizer, checkpoint);
    }
  }

  /**
   * The agent's directory for a task: its output (`stdout`, `stderr`) and the containerizer's
   * files, beside the task's {@link workspaceOf workspace}, which is all of it the task is given.
   */
  private sandboxOf(taskId: string): string {
    return join(this.dataDir, 'sandboxes', taskId);
  }

  private stdoutOf(taskId: string): string {
    return join(this.sandboxOf(taskId), 'stdout');
  }

  /** The framework has the task's final state: its sandbox goes, unless kept for a post-mortem. */
  onTaskDone(checkpoint: TaskCheckpoint): void {
    // The log shipper reads the sandbox: it finishes (bounded) before the sandbox goes.
    void this.logs
      .release(checkpoint.taskInfo.taskId, LOG_RELEASE_WAIT_MS)
      .then(() => this.removeSandbox(checkpoint));
  }

  private removeSandbox(checkpoint: TaskCheckpoint): void {
    const taskId = checkpoint.taskInfo.taskId;
    const failed = checkpoint.state !== 'TASK_FINISHED';
    if (failed && this.env.KILN_AGENT_KEEP_FAILED_SANDBOXES) {
      this.logger.log(`task ${taskId} ended ${checkpoint.state}: keeping its sandbox`);
      return;
    }
    removeTree(this.sandboxOf(taskId)).catch((error: unknown) => {
      this.logger.warn(`removing the sandbox of ${taskId} failed: ${errorMessage(error)}`);
    });
  }
}

/** How a launch ended: what the containerizer answered, or why it failed. */
type LaunchOutcome = { result: LaunchResult } | { error: unknown };

/** What a terminal status says of usage: totals, not the last instant's memory. */
function finalUsage(usage: NonNullable<Termination['usage']>): NonNullable<TaskStatus['usage']> {
  const { cpuSeconds, memPeakBytes } = usage;
  return {
    ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
    ...(memPeakBytes === undefined ? {} : { memPeakBytes }),
  };
}

/**
 * Whether a task's command may have started: once it is reported running, or its container has
 * a checkpoint. Before that, a container the containerizer cannot recover was never launched
 * (the containerizers recover a launched container by its id even without a checkpoint).
 */
function commandMayHaveRun(checkpoint: TaskCheckpoint): boolean {
  return (
    checkpoint.container !== undefined ||
    !['TASK_STAGING', 'TASK_STARTING'].includes(checkpoint.state)
  );
}
