import {
  JobsRepository,
  RepositorySecretsRepository,
  RunsRepository,
  type Job,
} from '@kiln/persistence';
import {
  createTestDatabase,
  seedStartedRun,
  TEST_DIALECTS,
  type TestDatabase,
} from '@kiln/persistence/testing';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunLogTasks } from './run-log-tasks';
import { SecretBox } from '../secrets/secret-box';
import { JobSecrets } from './job-secrets';

describe.each(TEST_DIALECTS)(`${RunLogTasks.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let jobs: JobsRepository;
  let logTasks: RunLogTasks;
  let job: Job;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    jobs = new JobsRepository(database);
    const secrets = new JobSecrets(
      new RepositorySecretsRepository(database),
      new SecretBox(randomBytes(32)),
    );
    logTasks = new RunLogTasks(jobs, new RunsRepository(database), secrets);
    const [build] = (await seedStartedRun(database, ['build'])).jobs;
    if (build === undefined) throw new Error('job not inserted');
    job = build;
  });
  afterEach(() => database.drop());

  it('names a queued attempt that has no task yet, and no task for it', async () => {
    expect(await logTasks.ofJob(job.id)).toEqual({ attempt: 1, taskIds: new Map(), ended: false });
    expect(await logTasks.ofJob('no-such-job')).toBeUndefined();
  });

  it('gives each attempt its own task when an earlier attempt ended before it launched one', async () => {
    // Attempt 1 is canceled while it waits; a rerun launches attempt 2, which fails; attempt 3
    // waits for its task.
    await jobs.transition(job.id, ['queued'], 'canceled', {
      attemptEnded: { state: 'canceled', message: 'canceled while queued' },
    });
    await jobs.transition(job.id, ['canceled'], 'queued', { attempt: 2, taskId: null });
    await jobs.assignTask(job.id, 2, 'task-2', 'agent-1');
    await jobs.transition(job.id, ['queued'], 'running');
    await jobs.transition(job.id, ['running'], 'failure');
    await jobs.transition(job.id, ['failure'], 'queued', { attempt: 3, taskId: null });

    expect(await logTasks.ofJob(job.id)).toEqual({
      attempt: 3,
      taskIds: new Map([[2, 'task-2']]),
      ended: false,
    });
  });
});
