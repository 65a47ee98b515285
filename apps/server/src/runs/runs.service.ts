import { errorMessage, withTimeout } from '@kiln/common';
import { truncateUtf8, WEBHOOK_LIMITS } from '@kiln/scm';
import {
  AccountsRepository,
  JobsRepository,
  PromotionsRepository,
  RepositoriesRepository,
  RunsRepository,
  TERMINAL_JOB_STATES,
  TERMINAL_RUN_STATES,
  type CreateRunResult,
  type Delivery,
  type Job,
  type JobAttempt,
  type NewRun,
  type Repository,
  type Run,
  type RunListOptions,
  type RunPage,
  type RunToCreate,
  RecordingBatches,
} from '@kiln/persistence';
import {
  ConflictException,
  ForbiddenException,
  Injectable,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { AuditLog, type Actor } from '../audit/audit-log';
import type { Principal } from '../auth/principal';
import { BuildFrameworkService } from '../builds/build-framework.service';
import { GitMirror, GitMirrorError } from '../git/git-mirror';
import { PipelineQueues, queuesUnavailable } from './pipeline-queues';
import { RunProgressService } from './run-progress.service';
import { mirrorAuth } from './mirror-auth';
import { SecretBox } from '../secrets/secret-box';

/** How long a new run's trigger may take to be queued before the run is given up. */
const ENQUEUE_TIMEOUT_MS = 3_000;
/**
 * New runs recorded in one transaction at most. A burst of webhooks is recorded a batch at a
 * time: one commit for the runs that arrived while the one before was committing.
 */
const RUNS_PER_TRANSACTION = 200;
/**
 * Transactions of new runs at once. One: on SQLite a second would only wait for the one
 * connection, and on PostgreSQL runs of one repository take their numbers in turn anyway (the
 * repository's counter is locked until the commit); what arrives meanwhile joins the next batch.
 */
const RUN_TRANSACTIONS_AT_ONCE = 1;

export interface RunDetails extends Run {
  /** Each with every attempt it made, oldest first. */
  jobs: (Job & { attempts: JobAttempt[] })[];
  /** A promote run: the run it deploys, and its promotion. */
  promotedRun?: { id: string; number: number };
  promotionId?: string;
}

/**
 * Creates runs (webhooks, manual triggers, schedules, reruns), cancels them, and answers what
 * they look like. Heavy work (reading `.kiln.yml`, compiling) is the trigger worker's.
 */
@Injectable()
export class RunsService {
  private readonly logger = new Logger(RunsService.name);
  private readonly recordings: RecordingBatches<RunToCreate, CreateRunResult>;

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly queues: PipelineQueues,
    private readonly progress: RunProgressService,
    private readonly framework: BuildFrameworkService,
    private readonly mirror: GitMirror,
    private readonly box: SecretBox,
    private readonly promotions: PromotionsRepository,
    private readonly audit: AuditLog,
    private readonly repositories: RepositoriesRepository,
    private readonly accounts: AccountsRepository,
  ) {
    this.recordings = new RecordingBatches(
      (entries: ReadonlyArray<RunToCreate>) => this.runs.createAll(entries),
      { maxSize: RUNS_PER_TRANSACTION, maxInFlight: RUN_TRANSACTIONS_AT_ONCE },
    );
  }

  /**
   * Records a run (and its delivery, if any) and queues its trigger; a redelivery is a no-op.
   * While Redis is away this answers 503 at once and creates nothing: a run recorded now would
   * be queued whenever Redis returns, long after its caller gave up and maybe retried.
   *
   * The runs created at once (a burst of webhooks) are recorded together, each with its
   * delivery, in one transaction of a few statements; a batch that fails is recorded again one
   * run at a time, so a run that cannot be recorded fails alone. Either way a run and its
   * delivery have committed before this resolves.
   */
  async create(input: NewRun, delivery?: Delivery): Promise<CreateRunResult> {
    if (!(await this.queues.ready())) throw queuesUnavailable('no run was created');
    const result = await this.recordings.submit({
      input,
      ...(delivery === undefined ? {} : { delivery }),
    });
    if ('run' in result) await this.queueTrigger(result.run);
    return result;
  }

  /**
   * Queues a new run's trigger within {@link ENQUEUE_TIMEOUT_MS}. Redis lost meanwhile: the run
   * is removed again (and the 503 says so), unless its trigger ran after all. A trigger queued
   * late finds no run and does nothing.
   */
  private async queueTrigger(run: Run): Promise<void> {
    try {
      await withTimeout(this.queues.trigger(run.id), ENQUEUE_TIMEOUT_MS);
    } catch (error) {
      if (!(await this.runs.discardPending(run.id))) return;
      this.logger.warn(
        `run #${run.number} of repository ${run.repositoryId} removed: its trigger could not ` +
          `be queued (${errorMessage(error)})`,
      );
      throw queuesUnavailable('no run was created');
    }
  }

  /**
   * A run of the head of `branch` (or of `sha` on it), started by a person or a schedule: it
   * records the commit's author and message, as a pushed run does, and who started it.
   */
  async createFromBranch(
    repository: Repository,
    event: 'manual' | 'cron',
    branch: string,
    sha: string | undefined,
    starter: { actor: Actor } | { schedule: string },
  ): Promise<Run> {
    const commit = sha ?? (await this.headOf(repository, branch));
    const { author, message } = await this.fromMirror(() =>
      this.mirror.commitInfo(
        repository.id,
        repository.cloneUrl,
        commit,
        mirrorAuth(repository, this.box),
      ),
    );
    const startedBy = 'actor' in starter ? starter.actor.username : `schedule ${starter.schedule}`;
    const result = await this.create({
      repositoryId: repository.id,
      event,
      ref: `refs/heads/${branch}`,
      branch,
      sha: commit,
      fromFork: false,
      ...(author === '' ? {} : { author: author.slice(0, WEBHOOK_LIMITS.authorLength) }),
      ...(message === ''
        ? {}
        : { message: truncateUtf8(message, WEBHOOK_LIMITS.commitMessageBytes) }),
      startedBy,
    });
    if (!('run' in result)) throw new Error('a run without a delivery cannot be a duplicate');
    const run = result.run;
    if ('actor' in starter) {
      await this.audit.record(
        starter.actor,
        'run.started',
        { type: 'run', id: run.id, repositoryId: repository.id },
        `${starter.actor.username} started run #${run.number} of ${repository.fullName} on ${branch}`,
        { number: run.number, branch, sha: commit },
      );
    }
    return run;
  }

  private headOf(repository: Repository, branch: string): Promise<string> {
    return this.fromMirror(() =>
      this.mirror.resolveRef(
        repository.id,
        repository.cloneUrl,
        `refs/heads/${branch}`,
        mirrorAuth(repository, this.box),
      ),
    );
  }

  /** A mirror read on a caller's behalf: what cannot be fetched is the caller's 422. */
  private async fromMirror<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (error instanceof GitMirrorError) throw new UnprocessableEntityException(error.message);
      throw error;
    }
  }

  async get(runId: string): Promise<RunDetails> {
    const run = await this.runs.findById(runId);
    if (run === undefined) throw new NotFoundException(`run ${runId} does not exist`);
    const listed = await this.jobs.listByRun(runId);
    const attempts = await this.jobs.attempts(listed);
    const jobs = listed.map((job) => ({ ...job, attempts: attempts.get(job.id) ?? [] }));
    if (run.promotedRunId === undefined) return { ...run, jobs };
    const [promoted, promotion] = await Promise.all([
      this.runs.findById(run.promotedRunId),
      this.promotions.findByDeployRun(run.id),
    ]);
    return {
      ...run,
      jobs,
      ...(promoted === undefined
        ? {}
        : { promotedRun: { id: promoted.id, number: promoted.number } }),
      ...(promotion === undefined ? {} : { promotionId: promotion.id }),
    };
  }

  async job(jobId: string): Promise<Job> {
    const job = await this.jobs.findById(jobId);
    if (job === undefined) throw new NotFoundException(`job ${jobId} does not exist`);
    return job;
  }

  /** A page of runs, each with its title line only: the whole message is the run's own. */
  async list(repositoryId: string, options: RunListOptions): Promise<RunPage> {
    const page = await this.runs.list(repositoryId, options);
    return {
      ...page,
      runs: page.runs.map((run) =>
        run.message === undefined ? run : { ...run, message: titleLine(run.message) },
      ),
    };
  }

  /**
   * Cancels a run: queued and blocked jobs end at once, running ones are killed (their task's
   * KILLED update finds the job already ended). Canceling an ended run is a 409.
   */
  async cancel(runId: string, why = 'canceled', actor?: Actor): Promise<RunDetails> {
    const run = await this.runs.findById(runId);
    if (run === undefined) throw new NotFoundException(`run ${runId} does not exist`);
    const canceled = await this.runs.transition(runId, ['pending', 'running'], 'canceled');
    if (canceled === undefined) {
      throw new ConflictException(`run #${run.number} has already ended (${run.state})`);
    }
    for (const job of await this.jobs.listByRun(runId)) {
      if (TERMINAL_JOB_STATES.includes(job.state)) continue;
      const ended = await this.jobs.transition(
        job.id,
        ['blocked', 'queued', 'running'],
        'canceled',
        { statusMessage: why },
      );
      if (ended?.taskId !== undefined) this.framework.kill(ended.taskId);
    }
    await this.progress.report(canceled, 'canceled');
    this.logger.log(`run ${runId} canceled: ${why}`);
    // Kiln's own cancels (a superseded pull request run) are recorded too, without an actor.
    const repository = await this.repositories.findById(run.repositoryId);
    const of = `run #${run.number} of ${repository?.fullName ?? run.repositoryId}`;
    await this.audit.record(
      actor,
      'run.canceled',
      { type: 'run', id: run.id, repositoryId: run.repositoryId },
      actor === undefined ? `Kiln canceled ${of}: ${why}` : `${actor.username} canceled ${of}`,
      { number: run.number, reason: why },
    );
    return this.get(runId);
  }

  /**
   * A person's cancel (the API's): a deployment is stopped by release managers only, as its
   * promotion is; any other run by its developers.
   */
  async cancelAs(principal: Principal, runId: string): Promise<RunDetails> {
    const run = await this.runs.findById(runId);
    if (run === undefined) throw new NotFoundException(`run ${runId} does not exist`);
    if (run.event === 'promote' && !principal.isAdmin) {
      const role = await this.accounts.roleOf(run.repositoryId, principal.userId);
      if (role !== 'release-manager') {
        throw new ForbiddenException(
          `run #${run.number} is a deployment to ${run.environment ?? 'an environment'}: ` +
            'canceling it takes the release-manager role',
        );
      }
    }
    return this.cancel(runId, `canceled by ${principal.username}`, principal);
  }

  /** Cancels the unfinished runs of a pull request that a newer push has superseded. */
  async supersede(run: Run): Promise<void> {
    if (run.pullRequest === undefined) return;
    const older = await this.runs.listActiveForPullRequest(
      run.repositoryId,
      run.pullRequest,
      run.id,
    );
    for (const old of older.filter((o) => o.number < run.number)) {
      await this.cancel(old.id, `superseded by run #${run.number}`).catch(() => undefined);
    }
  }

  /** A new run of the same commit and trigger. */
  async rerun(runId: string): Promise<Run> {
    const run = await this.runs.findById(runId);
    if (run === undefined) throw new NotFoundException(`run ${runId} does not exist`);
    await this.refuseDeployment(run);
    const result = await this.create({
      repositoryId: run.repositoryId,
      event: run.event,
      ref: run.ref,
      sha: run.sha,
      fromFork: run.fromFork,
      rerunOf: run.id,
      ...(run.branch === undefined ? {} : { branch: run.branch }),
      ...(run.tag === undefined ? {} : { tag: run.tag }),
      ...(run.message === undefined ? {} : { message: run.message }),
      ...(run.author === undefined ? {} : { author: run.author }),
      ...(run.pullRequest === undefined ? {} : { pullRequest: run.pullRequest }),
      ...(run.changedFiles === undefined ? {} : { changedFiles: run.changedFiles }),
    });
    if (!('run' in result)) throw new Error('a rerun cannot be a duplicate');
    return result.run;
  }

  /**
   * Runs the failed, canceled and skipped jobs of an ended run again, in the same run, each as a
   * new attempt; jobs that succeeded keep their result (GitHub's "re-run failed jobs").
   */
  async rerunFailed(runId: string): Promise<RunDetails> {
    const run = await this.runs.findById(runId);
    if (run === undefined) throw new NotFoundException(`run ${runId} does not exist`);
    await this.refuseDeployment(run);
    if (!TERMINAL_RUN_STATES.includes(run.state) || run.state === 'error') {
      throw new ConflictException(
        run.state === 'error'
          ? `run #${run.number} has no jobs to rerun (its pipeline is invalid)`
          : `run #${run.number} has not ended yet (${run.state})`,
      );
    }
    const jobs = await this.jobs.listByRun(runId);
    // Its jobs are queued at once: while Redis is away that would wait for it, not answer.
    if (!(await this.queues.ready())) throw queuesUnavailable('no job was rerun');
    const again = jobs.filter((job) => job.state !== 'success' && job.attempt > 0);
    const skippedByFailure = jobs.filter(
      (job) => job.state === 'skipped' && job.statusMessage?.startsWith('skipped: needs') === true,
    );
    if (again.length + skippedByFailure.length === 0) {
      throw new ConflictException(`run #${run.number} has no failed jobs`);
    }
    // The jobs first, then the run: a run seen running with all its jobs ended is one to end
    // (DueWork's sweep ends it so), which would end the rerun before its jobs start again.
    for (const job of [...again, ...skippedByFailure]) {
      await this.jobs.transition(job.id, [job.state], 'blocked', {
        attempt: job.attempt + 1,
        taskId: null,
        agentId: null,
        exitCode: null,
        reason: null,
        usage: null,
        statusMessage: null,
      });
    }
    if ((await this.runs.transition(runId, [run.state], 'running')) === undefined) {
      throw new ConflictException(`run #${run.number} changed meanwhile; try again`);
    }
    await this.progress.report({ ...run, state: 'running' }, 'pending');
    await this.progress.advance(runId);
    return this.get(runId);
  }

  /**
   * A deployment happens through its promotion only (policy, approvals, the deploy lock): running
   * a promote run again would deploy past all three.
   */
  private async refuseDeployment(run: Run): Promise<void> {
    if (run.event !== 'promote') return;
    const promoted =
      run.promotedRunId === undefined ? undefined : await this.runs.findById(run.promotedRunId);
    throw new ConflictException(
      `run #${run.number} is a deployment to ${run.environment ?? 'an environment'}: ` +
        (promoted === undefined
          ? 'promote its run again instead'
          : `promote run #${promoted.number} again instead`),
    );
  }
}

/** How much of a commit message a list shows: its first line, at most this long. */
export const RUN_TITLE_LENGTH = 200;

/** The first line of a commit message, as `git log --oneline` shows it, cut to a list's width. */
export function titleLine(message: string): string {
  const first = message.trim().split('\n', 1)[0]?.trimEnd() ?? '';
  return first.length > RUN_TITLE_LENGTH ? `${first.slice(0, RUN_TITLE_LENGTH - 1)}…` : first;
}
