import {
  JobsRepository,
  RepositoriesRepository,
  RunsRepository,
  type Repository,
  type Run,
} from '@kiln/persistence';
import { Injectable, NotFoundException } from '@nestjs/common';
import { jobOfLiveTask } from '../runs/live-task';
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
   * The mirror's directory for the task (whose token the caller has checked), and the namespace of
   * it that names the task's commit alone: a token is good for that commit and nothing else.
   */
  async namespaceOf(taskId: string): Promise<{ repositoryDir: string; namespace: string }> {
    const { run, repository } = await this.runOf(taskId);
    const { dir, namespace } = await this.mirror.withCommitNamespace(
      repository.id,
      repository.cloneUrl,
      run.sha,
      mirrorAuth(repository, this.box),
      run.ref,
    );
    return { repositoryDir: dir, namespace };
  }

  /**
   * The task's commit (its run's), in its mirror. Only the current task of a job gets it, and only
   * its own repository's.
   */
  async commitOf(taskId: string): Promise<TaskCommit> {
    const { run, repository } = await this.runOf(taskId);
    const repositoryDir = await this.mirror.withCommit(
      repository.id,
      repository.cloneUrl,
      run.sha,
      mirrorAuth(repository, this.box),
      run.ref,
    );
    return { repositoryDir, sha: run.sha };
  }

  private async runOf(taskId: string): Promise<{ run: Run; repository: Repository }> {
    const job = jobOfLiveTask(await this.jobs.findByTaskId(taskId), taskId);
    const run = await this.runs.findById(job.runId);
    const repository = run && (await this.repositories.findById(run.repositoryId));
    if (run === undefined || repository === undefined) {
      throw new NotFoundException(`task ${taskId} is not the current task of a job`);
    }
    return { run, repository };
  }
}
