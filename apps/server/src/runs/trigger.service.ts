import { errorMessage, RecentKeys } from '@kiln/common';
import {
  JobsRepository,
  RepositoriesRepository,
  RepositorySecretsRepository,
  RunsRepository,
  type NewJob,
  type Repository,
  type Run,
} from '@kiln/persistence';
import {
  formatProblem,
  PipelineConfigError,
  type TriggerContext,
  type TriggerEvent,
} from '@kiln/pipeline';
import { Injectable, Logger } from '@nestjs/common';
import { CommitPacks } from '../git/commit-pack';
import { GitContentRefused, GitMirror } from '../git/git-mirror';
import { SecretBox } from '../secrets/secret-box';
import { secretAvailable } from '../secrets/secret-scope';
import { skippedPlan } from './job-plan';
import { mirrorAuth } from './mirror-auth';
import { PipelineCompiler } from './pipeline-compiler';
import { PipelineQueues } from './pipeline-queues';
import { RunProgressService } from './run-progress.service';
import { RunsService } from './runs.service';

export const PIPELINE_FILE = '.kiln.yml';

/** How many commits read ahead are remembered: a burst of one commit's webhooks reads it once. */
const READ_AHEADS_REMEMBERED = 1_024;

/** A failure worth retrying (the forge or the network); anything else ends the run in `error`. */
export class TransientTriggerError extends Error {}

/**
 * Turns a pending run into jobs: reads `.kiln.yml` at the run's exact commit from the
 * repository's mirror, compiles it for the run's trigger, stores the jobs and queues the ready
 * ones. A file that does not compile ends the run in `error` with every problem at its
 * `line:column`; nothing here throws a user's mistake back at the queue.
 */
@Injectable()
export class TriggerService {
  private readonly logger = new Logger(TriggerService.name);
  /** `<repository>/<sha>` of the commits read ahead lately. */
  private readonly readAheads = new RecentKeys(READ_AHEADS_REMEMBERED);

  constructor(
    private readonly runs: RunsRepository,
    private readonly jobs: JobsRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly secrets: RepositorySecretsRepository,
    private readonly mirror: GitMirror,
    private readonly box: SecretBox,
    private readonly queues: PipelineQueues,
    private readonly progress: RunProgressService,
    private readonly runsService: RunsService,
    private readonly packs: CommitPacks,
    private readonly compiler: PipelineCompiler,
  ) {}

  /**
   * Starts fetching a new run's commit into the mirror as soon as its webhook is accepted, so
   * that its trigger, queued meanwhile, finds the commit there or on its way (the mirror fetches
   * into a repository one fetch at a time, and fetches nothing it has). Never rejects: the
   * trigger meets a failure again, and says so.
   */
  readAhead(repository: Repository, run: Run): void {
    if (!this.readAheads.add(`${repository.id}/${run.sha}`)) return;
    this.runCommitInMirror(repository, run).catch(() => undefined);
  }

  /** `lastAttempt`: a transient failure now ends the run instead of asking for a retry. */
  async start(runId: string, lastAttempt: boolean): Promise<void> {
    const run = await this.runs.findById(runId);
    if (run?.state !== 'pending') return;
    const repository = await this.repositories.findById(run.repositoryId);
    if (repository === undefined) return;
    // Bytes: the compiler refuses a file that is not UTF-8 instead of running a garbled one.
    let source: Uint8Array | undefined;
    try {
      source = await this.mirror.readBytes(
        repository.id,
        repository.cloneUrl,
        run.sha,
        PIPELINE_FILE,
        mirrorAuth(repository, this.box),
        run.ref,
      );
    } catch (error) {
      // The forge may be down or the push not replicated yet: the queue retries with backoff.
      // Content over a limit is refused the same way every time: the run ends now.
      if (!lastAttempt && !(error instanceof GitContentRefused)) {
        throw new TransientTriggerError(errorMessage(error));
      }
      return this.fail(run, [
        `${PIPELINE_FILE}: cannot read it at ${run.sha}: ${errorMessage(error)}`,
      ]);
    }
    if (source === undefined) {
      return this.fail(run, [`${PIPELINE_FILE}: the commit ${run.sha} has no ${PIPELINE_FILE}`]);
    }
    let compiled;
    try {
      compiled = await this.compiler.compile(source, contextOf(run), PIPELINE_FILE);
    } catch (error) {
      if (error instanceof PipelineConfigError) {
        return this.fail(
          run,
          error.problems.map((p) => formatProblem(PIPELINE_FILE, p)),
        );
      }
      throw error;
    }
    if (run.event === 'promote' && ('skippedPipeline' in compiled || compiled.jobs.length === 0)) {
      // A deployment that deploys nothing would read as a success: say what is missing.
      return this.fail(run, [
        `${PIPELINE_FILE}: no job runs on event promote to environment ${run.environment ?? '(none)'}` +
          `: give the deploy jobs \`when: { event: promote, environment: ${run.environment ?? '…'} }\``,
      ]);
    }
    if ('skippedPipeline' in compiled) {
      this.logger.log(`run ${run.id}: ${compiled.skippedPipeline}`);
      if (await this.runs.start(run.id, [])) await this.progress.advance(run.id);
      return;
    }
    const wanted = [...new Set(compiled.jobs.flatMap((job) => job.secrets))];
    const defined = await this.secrets.sealedValues(repository.id, wanted);
    const missing = compiled.jobs.flatMap((job) =>
      job.secrets.flatMap((name) => {
        const secret = defined.get(name);
        const where = `${PIPELINE_FILE}: jobs.${job.name}.secrets: ${name}`;
        if (secret === undefined) return [`${where} is not a secret of ${repository.fullName}`];
        if (secretAvailable(secret, run.environment)) return [];
        return [`${where} is only for deployments to ${(secret.environments ?? []).join(', ')}`];
      }),
    );
    if (missing.length > 0) return this.fail(run, [...new Set(missing)]);

    const jobs: NewJob[] = [
      ...compiled.jobs.map((job): NewJob => ({
        key: job.key,
        state: job.needs.length === 0 ? 'queued' : 'blocked',
        plan: job,
      })),
      ...compiled.skipped.map((skipped): NewJob => ({
        key: skipped.key,
        state: 'skipped',
        plan: skippedPlan(skipped),
        statusMessage: `skipped: ${skipped.reason}`,
      })),
    ];
    if (!(await this.runs.start(run.id, jobs))) return;
    // The agents of its jobs download the commit as one pack: made now, while they are offered.
    if (compiled.jobs.length > 0) this.preparePack(repository, run);
    await this.progress.report(run, 'pending');
    for (const job of await this.jobs.listByRun(run.id)) {
      if (job.state === 'queued') await this.queues.build(job.id, job.attempt);
    }
    if (run.pullRequest !== undefined && repository.autoCancelPullRequests) {
      await this.runsService.supersede(run);
    }
    // A run whose jobs were all skipped by `when` is done already.
    if (compiled.jobs.length === 0) await this.progress.advance(run.id);
  }

  /** Has the run's commit packed for its agents, who will meet (and report) a failure again. */
  private preparePack(repository: Repository, run: Run): void {
    this.runCommitInMirror(repository, run)
      .then((dir) => this.packs.packOf(dir, run.sha))
      .catch((error: unknown) =>
        this.logger.warn(`run ${run.id}: cannot pack ${run.sha} yet: ${errorMessage(error)}`),
      );
  }

  /** The repository's mirror, holding the run's commit (fetched as the run's ref names it). */
  private runCommitInMirror(repository: Repository, run: Run): Promise<string> {
    return this.mirror.withCommit(
      repository.id,
      repository.cloneUrl,
      run.sha,
      mirrorAuth(repository, this.box),
      run.ref,
    );
  }

  /**
   * Ends a run whose trigger failed for good on something unexpected (a database outage, a bug):
   * better an `error` that says so than a run pending for ever.
   */
  async abandon(runId: string, why: string): Promise<void> {
    const run = await this.runs.findById(runId);
    if (run?.state === 'pending') await this.fail(run, [`Kiln could not start the run: ${why}`]);
  }

  private async fail(run: Run, errors: string[]): Promise<void> {
    const failed = await this.runs.transition(run.id, ['pending'], 'error', { errors });
    if (failed !== undefined) await this.progress.report(failed, 'error');
  }
}

function contextOf(run: Run): TriggerContext {
  const event: TriggerEvent = run.event;
  return {
    event,
    ...(run.branch === undefined ? {} : { branch: run.branch }),
    ...(run.tag === undefined ? {} : { tag: run.tag }),
    ...(run.changedFiles === undefined ? {} : { changedFiles: run.changedFiles }),
    ...(run.environment === undefined ? {} : { environment: run.environment }),
  };
}
