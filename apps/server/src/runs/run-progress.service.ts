import { errorMessage } from '@kiln/common';
import type { ArtifactInputFile, ReconcileTask, TaskInfo, TaskStatus } from '@kiln/contracts';
import {
  ArtifactsRepository,
  JobsRepository,
  RepositoriesRepository,
  RunsRepository,
  TERMINAL_JOB_STATES,
  TERMINAL_RUN_STATES,
  UnitOfWork,
  type Job,
  type JobState,
  type Run,
  type RunState,
} from '@kiln/persistence';
import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { BuildOutcomes, type Recorded } from '../builds/build-outcomes';
import { buildTask, newTaskId, type BuildContext } from '../builds/build-task';
import { TaskTokens } from '../logs/task-tokens';
import { ServerUrl } from '../server-url';
import { planOf } from './job-plan';
import { JobSecrets } from './job-secrets';
import { PipelineQueues } from './pipeline-queues';

/**
 * The state machines of runs and jobs, driven by what happens to their tasks. A job ends with its
 * task (success, failure, or a retry as a new attempt); then its dependants are queued when every
 * need succeeded (or failed but may) and skipped otherwise; the run ends when all its jobs have.
 * Every transition is a compare-and-set in the database, so duplicate or concurrent events (an
 * update delivered twice, two jobs ending at once) change things once.
 *
 * Task updates may be recorded together in one transaction (`recordTogether`): then only the
 * job's own writes are in it, and what follows them (queueing a job, advancing the run, reporting)
 * waits for the commit. Advancing reads the other jobs of the run; before the commit it could miss
 * a job that ended beside it in another transaction, and neither would move the run on.
 */
@Injectable()
export class RunProgressService extends BuildOutcomes {
  private readonly logger = new Logger(RunProgressService.name);

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly jobSecrets: JobSecrets,
    private readonly queues: PipelineQueues,
    private readonly tokens: TaskTokens,
    private readonly serverUrl: ServerUrl,
    private readonly artifacts: ArtifactsRepository,
    private readonly unit: UnitOfWork,
  ) {
    super();
  }

  recordTogether<T>(recordings: ReadonlyArray<() => Promise<T>>): Promise<Recorded<T>[]> {
    return this.unit.together(recordings);
  }

  /** Runs `effect` once the task update's writes have committed: at once, unless batched. */
  private afterCommit(effect: () => Promise<void>): Promise<void> {
    return this.unit.afterCommit(effect);
  }

  // ---- Launching ------------------------------------------------------------------------------

  async prepareLaunch(jobId: string, attempt: number): Promise<TaskInfo | undefined> {
    const job = await this.jobs.findById(jobId);
    if (job?.state !== 'queued' || job.attempt !== attempt || job.taskId !== undefined) {
      return undefined;
    }
    const run = await this.runs.findById(job.runId);
    const repository = run && (await this.repositories.findById(run.repositoryId));
    if (run === undefined || repository === undefined) return undefined;
    const plan = planOf(job);
    const taskId = newTaskId(job.id, attempt, randomBytes(3).toString('hex'));
    return buildTask({
      repository: { id: repository.id, fullName: repository.fullName },
      run: {
        id: run.id,
        number: run.number,
        event: run.event,
        ref: run.ref,
        sha: run.sha,
        ...(run.branch === undefined ? {} : { branch: run.branch }),
        ...(run.tag === undefined ? {} : { tag: run.tag }),
        ...(run.pullRequest === undefined ? {} : { pullRequest: run.pullRequest }),
      },
      job: { id: job.id, attempt, plan },
      secrets: await this.jobSecrets.of(run, plan.secrets),
      taskId,
      logSink: {
        url: this.serverUrl.resolve(`/api/v1/tasks/${taskId}/logs`),
        token: this.tokens.logToken(taskId),
      },
      source: {
        url: this.serverUrl.resolve(`/api/v1/tasks/${taskId}/source.git`),
        packUrl: this.serverUrl.resolve(`/api/v1/tasks/${taskId}/source.pack`),
        token: this.tokens.logToken(taskId),
      },
      artifactSink: {
        url: this.serverUrl.resolve(`/api/v1/tasks/${taskId}/artifacts`),
        token: this.tokens.logToken(taskId),
      },
      stepNonce: this.tokens.stepNonce(taskId),
      ...(await this.promotionOf(run, taskId)),
    });
  }

  /**
   * What a `promote` run's task gets beyond a build's: where it deploys, which run, and that
   * run's artifacts to fetch into its workspace (each job's latest attempt; where two jobs kept
   * the same name, the later job's wins, as its files would have overwritten the earlier's).
   */
  private async promotionOf(
    run: Run,
    taskId: string,
  ): Promise<Pick<BuildContext, 'promotion' | 'inputs'>> {
    if (run.environment === undefined || run.promotedRunId === undefined) return {};
    const promoted = await this.runs.findById(run.promotedRunId);
    if (promoted === undefined) return {};
    const byName = new Map<string, ArtifactInputFile>();
    for (const artifact of await this.artifacts.listByRun(promoted.id)) {
      const path = artifact.name.split('/').map(encodeURIComponent).join('/');
      byName.set(artifact.name, {
        name: artifact.name,
        sha256: artifact.sha256,
        size: artifact.size,
        url: this.serverUrl.resolve(`/api/v1/tasks/${taskId}/inputs/${artifact.jobId}/${path}`),
      });
    }
    return {
      promotion: {
        environment: run.environment,
        promotedRun: { id: promoted.id, number: promoted.number },
      },
      ...(byName.size === 0
        ? {}
        : { inputs: { token: this.tokens.logToken(taskId), files: [...byName.values()] } }),
    };
  }

  claimLaunch(jobId: string, attempt: number, taskId: string, agentId: string): Promise<boolean> {
    return this.jobs.assignTask(jobId, attempt, taskId, agentId);
  }

  async releaseLaunch(jobId: string, taskId: string): Promise<void> {
    await this.jobs.releaseTask(jobId, taskId);
  }

  async unplaceable(jobId: string, attempt: number, reason: string): Promise<void> {
    const job = await this.jobs.transition(
      jobId,
      ['queued'],
      'failure',
      {
        statusMessage: `cannot run on this cluster: ${reason}`,
        reason: 'UNPLACEABLE',
        attemptEnded: { state: 'failure', message: `cannot run on this cluster: ${reason}` },
      },
      attempt,
    );
    if (job !== undefined) await this.advance(job.runId);
  }

  async waiting(jobId: string, reason: string): Promise<void> {
    await this.jobs.setStatusMessage(jobId, reason);
  }

  // ---- Task updates ---------------------------------------------------------------------------

  async taskStarted(status: TaskStatus): Promise<boolean> {
    const job = await this.jobs.findByTaskId(status.taskId);
    if (job === undefined) return false;
    if (TERMINAL_JOB_STATES.includes(job.state)) return false;
    if (job.state === 'queued' && status.state === 'TASK_RUNNING') {
      const started = await this.jobs.transition(job.id, ['queued'], 'running', {
        agentId: status.agentId ?? null,
        statusMessage: null,
      });
      if (started !== undefined) await this.afterCommit(() => this.reportStarted(started));
    } else if (job.state === 'running' && job.statusMessage !== undefined) {
      // Its agent is back (the message said it was unreachable): the job simply runs.
      await this.jobs.setStatusMessage(job.id, null);
    }
    return true;
  }

  async taskUnreachable(status: TaskStatus, givenUpAt: Date): Promise<boolean> {
    const job = await this.jobs.findByTaskId(status.taskId);
    if (job === undefined || TERMINAL_JOB_STATES.includes(job.state)) return false;
    await this.jobs.setStatusMessage(
      job.id,
      `agent ${status.agentId ?? '(unknown)'} is unreachable; waiting for it until ` +
        `${givenUpAt.toISOString()}, then the task is given up as lost`,
    );
    return true;
  }

  async taskGivenUp(taskId: string, message: string): Promise<void> {
    await this.taskEnded({
      taskId,
      state: 'TASK_LOST',
      source: 'MASTER',
      reason: 'AGENT_UNREACHABLE',
      message,
      timestamp: Date.now() / 1000,
    });
  }

  async taskEnded(status: TaskStatus): Promise<void> {
    const job = await this.jobs.findByTaskId(status.taskId);
    if (job === undefined || TERMINAL_JOB_STATES.includes(job.state)) return;
    if (status.state === 'TASK_DROPPED' && job.state === 'queued') {
      // The task never ran its command (its agent restarted before the container started): the
      // same attempt is launched again as a new task, as for a launch the cluster never heard of.
      if (await this.jobs.releaseTask(job.id, status.taskId)) {
        await this.afterCommit(() => this.queues.build(job.id, job.attempt));
      }
      return;
    }
    const { state, lost, message } = outcomeOf(status, planOf(job).timeoutSeconds);
    const details = {
      statusMessage: message,
      exitCode: status.exitCode ?? null,
      reason: status.reason ?? null,
      usage: status.usage ?? null,
      ...(status.agentId === undefined ? {} : { agentId: status.agentId }),
      attemptEnded: { state: lost ? ('lost' as const) : state, message },
    };
    if (state === 'failure' && job.attempt <= planOf(job).retry) {
      // `retry: N` gives N more attempts, each a new task (and log) of the same job.
      const next = job.attempt + 1;
      const retried = await this.jobs.transition(
        job.id,
        ['queued', 'running'],
        'queued',
        { ...details, attempt: next, taskId: null, statusMessage: `retrying: ${message}` },
        job.attempt,
      );
      if (retried !== undefined) await this.afterCommit(() => this.queues.build(job.id, next));
      return;
    }
    const ended = await this.jobs.transition(job.id, ['queued', 'running'], state, details);
    if (ended !== undefined) await this.afterCommit(() => this.advance(job.runId));
  }

  async taskUnknown(taskId: string): Promise<void> {
    const job = await this.jobs.findByTaskId(taskId);
    if (job === undefined || TERMINAL_JOB_STATES.includes(job.state)) return;
    if (job.state === 'queued') {
      // Claimed but never launched (the server died in between): launch it now.
      if (await this.jobs.releaseTask(job.id, taskId)) {
        await this.afterCommit(() => this.queues.build(job.id, job.attempt));
      }
      return;
    }
    await this.taskEnded({
      taskId,
      state: 'TASK_LOST',
      source: 'MASTER',
      reason: 'RECONCILIATION',
      message: 'the cluster no longer knows the task',
      timestamp: Date.now() / 1000,
    });
  }

  async activeTasks(): Promise<ReconcileTask[]> {
    const jobs = await this.jobs.listByState(['queued', 'running']);
    return jobs.flatMap(({ taskId, agentId }) => {
      if (taskId === undefined) return [];
      return [agentId === undefined ? { taskId } : { taskId, agentId }];
    });
  }

  // ---- The DAG --------------------------------------------------------------------------------

  /**
   * Moves a run on after one of its jobs ended: queues the jobs whose needs are now all met,
   * skips those with a failed need, and ends the run when every job has.
   */
  async advance(runId: string): Promise<void> {
    for (;;) {
      const jobs = await this.jobs.listByRun(runId);
      const byKey = new Map(jobs.map((job) => [job.key, job]));
      let changed = false;
      for (const job of jobs) {
        if (job.state !== 'blocked') continue;
        const needs = planOf(job).needs.map((key) => byKey.get(key));
        if (needs.some((need) => need !== undefined && !TERMINAL_JOB_STATES.includes(need.state))) {
          continue;
        }
        const blocker = needs.find(
          (need) =>
            need !== undefined &&
            need.state !== 'success' &&
            !(need.state === 'failure' && planOf(need).allowFailure),
        );
        if (blocker === undefined) {
          const queued = await this.jobs.transition(job.id, ['blocked'], 'queued', {
            statusMessage: null,
          });
          if (queued !== undefined) await this.queues.build(queued.id, queued.attempt);
        } else {
          await this.jobs.transition(job.id, ['blocked'], 'skipped', {
            statusMessage: `skipped: needs ${blocker.key}, which ended ${blocker.state}`,
          });
        }
        changed = true;
      }
      if (!changed) {
        await this.finishIfDone(runId, jobs);
        return;
      }
    }
  }

  private async finishIfDone(runId: string, jobs: Job[]): Promise<void> {
    if (jobs.some((job) => !TERMINAL_JOB_STATES.includes(job.state))) return;
    const outcome: RunState = jobs.some(
      (job) => job.state === 'failure' && !planOf(job).allowFailure,
    )
      ? 'failure'
      : jobs.some((job) => job.state === 'canceled')
        ? 'canceled'
        : 'success';
    const run = await this.runs.transition(runId, ['running'], outcome);
    if (run !== undefined) await this.report(run, outcome);
  }

  /** Every start says `running`; the status worker reports it once (it drops repeats). */
  private async reportStarted(job: Job): Promise<void> {
    const run = await this.runs.findById(job.runId);
    if (run?.state === 'running') await this.report(run, 'running');
  }

  /**
   * Tells those waiting on a run's state: the promotion a `promote` run deploys, when it ends,
   * and the forge (a commit status). A lost status is worth a log line, not a failure.
   */
  async report(run: Run, state: 'pending' | RunState): Promise<void> {
    if (run.event === 'promote' && TERMINAL_RUN_STATES.includes(state)) {
      await this.queues.deployEnded(run.id).catch((error: unknown) => {
        // The promotions' startup reconciliation ends it then.
        this.logger.warn(`cannot queue the end of deploy run ${run.id}: ${errorMessage(error)}`);
      });
    }
    // A repository without a forge token or API URL has nowhere to report to.
    const repository = await this.repositories.findById(run.repositoryId);
    if (repository?.sealedForgeToken === undefined && repository?.apiUrl === undefined) return;
    await this.queues.status(run.id, state).catch((error: unknown) => {
      this.logger.warn(`cannot queue the ${state} status of run ${run.id}: ${errorMessage(error)}`);
    });
  }
}

/**
 * What a terminal task status means for its job; `lost`: nobody knows how the task ended (its
 * agent lost it or was given up), which fails the attempt like a failure does.
 */
function outcomeOf(
  status: TaskStatus,
  timeoutSeconds: number,
): {
  state: Extract<JobState, 'success' | 'failure' | 'canceled'>;
  lost: boolean;
  message: string;
} {
  switch (status.state) {
    case 'TASK_FINISHED':
      return { state: 'success', lost: false, message: 'exited with code 0' };
    case 'TASK_KILLED':
      if (status.reason === 'TIMEOUT') {
        return { state: 'failure', lost: false, message: `timed out after ${timeoutSeconds} s` };
      }
      return status.reason === 'KILLED_BY_FRAMEWORK'
        ? { state: 'canceled', lost: false, message: 'canceled' }
        : { state: 'failure', lost: false, message: status.message ?? 'killed' };
    default: {
      const why = status.message ?? status.state;
      return {
        state: 'failure',
        lost: ['TASK_LOST', 'TASK_GONE', 'TASK_DROPPED'].includes(status.state),
        message: status.reason === undefined ? why : `${why} (${status.reason})`,
      };
    }
  }
}
