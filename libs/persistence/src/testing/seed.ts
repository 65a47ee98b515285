import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { JobsRepository, type Job } from '../repositories/jobs.repository';
import { RepositoriesRepository } from '../repositories/repositories.repository';
import { RunsRepository, type NewJob, type Run } from '../repositories/runs.repository';

/**
 * A started push run with the given jobs (queued jobs with an empty plan when given keys), of a
 * new GitHub repository unless one is named: what a test of jobs needs around them.
 */
export async function seedStartedRun(
  database: DatabaseConnection,
  planned: readonly (NewJob | string)[],
  options: { repositoryId?: string; now?: Date } = {},
): Promise<{ repositoryId: string; run: Run; jobs: Job[] }> {
  const repositoryId =
    options.repositoryId ??
    (
      await new RepositoriesRepository(database).create({
        forge: 'github',
        fullName: `acme/seeded-${randomUUID().slice(0, 8)}`,
        cloneUrl: 'https://github.com/acme/seeded.git',
        defaultBranch: 'main',
      })
    ).id;
  const runs = new RunsRepository(database);
  const created = await runs.create({
    repositoryId,
    event: 'push',
    ref: 'refs/heads/main',
    sha: 'a'.repeat(40),
    fromFork: false,
  });
  if (!('run' in created)) throw new Error('expected a new run');
  const jobs = planned.map((job) =>
    typeof job === 'string' ? { key: job, state: 'queued' as const, plan: {} } : job,
  );
  if (!(await runs.start(created.run.id, jobs, options.now)))
    throw new Error('the run did not start');
  return {
    repositoryId,
    run: created.run,
    jobs: await new JobsRepository(database).listByRun(created.run.id),
  };
}
