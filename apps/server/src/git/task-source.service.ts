import { JobsRepository, RepositoriesRepository, RunsRepository } from '@kiln/persistence';
import { Injectable, NotFoundException } from '@nestjs/common';
import { mirrorAuth } from '../runs/mirror-auth';
import { SecretBox } from '../secrets/secret-box';
import { GitMirror } from './git-mirror';

/** A task's commit, and the mirror that holds it. */
export interface TaskCommit {
  repositoryDir: string;
  sha: string;
}

/** Which mirror a task fetches its commit from: its job's run's repository, holding the commit. */
@Injectable()
export class TaskSource {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly runs: RunsRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly mirror: GitMirror,
    private readonly box: SecretBox,
  ) {}

  /**
   * The mirror's directory for the task (whose token the caller has checked). Only the current
   * task of a job gets it, and only its own repository's: a token is good for nothing else.
   */
  async repositoryDir(taskId: string): Promise<string> {
    return (await this.commitOf(taskId)).repositoryDir;
  }

  /** The task's commit (its run's), in its mirror; for the caller as {@link repositoryDir}. */
  async commitOf(taskId: string): Promise<TaskCommit> {
    const job = await this.jobs.findByTaskId(taskId);
    const run = job && (await this.runs.findById(job.runId));
    const repository = run && (await this.repositories.findById(run.repositoryId));
    if (run === undefined || repository === undefined) {
      throw new NotFoundException(`task ${taskId} is not the current task of a job`);
    }
    const repositoryDir = await this.mirror.withCommit(
      repository.id,
      repository.cloneUrl,
      run.sha,
      mirrorAuth(repository, this.box),
      run.ref,
    );
    return { repositoryDir, sha: run.sha };
  }
}
