import { strict } from '@kiln/common/testing';
import type { TaskReason, TaskState, TaskStatus } from '@kiln/contracts';
import {
  ArtifactsRepository,
  JobsRepository,
  RepositoriesRepository,
  type Repository,
  RepositorySecretsRepository,
  RunsRepository,
  TERMINAL_JOB_STATES,
  type Job,
  type JobChanges,
  type JobState,
  type Run,
  type RunState,
  type SealedSecret,
  type UnitOfWork,
} from '@kiln/persistence';
import type { PlanJob } from '@kiln/pipeline';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { TaskTokens } from '../logs/task-tokens';
import { SecretBox } from '../secrets/secret-box';
import { ServerUrl } from '../server-url';
import { JobSecrets } from './job-secrets';
import { PipelineQueues } from './pipeline-queues';
import { RunProgressService } from './run-progress.service';

/**
 * A unit of work without a database: inside `together`, after-commit effects wait for the test
 * (as they would for the commit); outside, they run at once.
 */
class FakeUnit {
  inUnit = false;
  readonly deferred: (() => Promise<void> | void)[] = [];

  async afterCommit(effect: () => Promise<void> | void): Promise<void> {
    if (this.inUnit) this.deferred.push(effect);
    else await effect();
  }

  async commit(): Promise<void> {
    this.inUnit = false;
    for (const effect of this.deferred.splice(0)) await effect();
  }
}

/** The jobs table in memory, with the compare-and-set semantics of JobsRepository. */
class FakeJobs {
  readonly rows = new Map<string, Job>();
  /** The attempts transitions said ended, in order. */
  readonly endedAttempts: { jobId: string; attempt: number; state: string; message: string }[] = [];

  add(job: Job): void {
    this.rows.set(job.id, structuredClone(job));
  }

  get(id: string): Job {
    const job = this.rows.get(id);
    if (job === undefined) throw new Error(`no job ${id}`);
    return structuredClone(job);
  }

  findById(id: string): Promise<Job | undefined> {
    return Promise.resolve(this.rows.has(id) ? this.get(id) : undefined);
  }

  findByTaskId(taskId: string): Promise<Job | undefined> {
    const job = [...this.rows.values()].find((j) => j.taskId === taskId);
    return Promise.resolve(job && structuredClone(job));
  }

  listByRun(runId: string): Promise<Job[]> {
    return Promise.resolve(
      [...this.rows.values()].filter((j) => j.runId === runId).map((j) => structuredClone(j)),
    );
  }

  transition(
    id: string,
    from: readonly JobState[],
    to: JobState,
    changes: JobChanges = {},
    attempt?: number,
  ): Promise<Job | undefined> {
    const job = this.rows.get(id);
    if (job === undefined || !from.includes(job.state)) return Promise.resolve(undefined);
    if (attempt !== undefined && job.attempt !== attempt) return Promise.resolve(undefined);
    const now = changes.now ?? new Date();
    if (changes.attemptEnded !== undefined) {
      this.endedAttempts.push({ jobId: id, attempt: job.attempt, ...changes.attemptEnded });
    }
    job.state = to;
    if (changes.attempt !== undefined) job.attempt = changes.attempt;
    if (changes.taskId === null && job.taskId !== undefined) job.earlierTaskIds.push(job.taskId);
    setOptional(job, 'taskId', changes.taskId);
    setOptional(job, 'agentId', changes.agentId);
    setOptional(job, 'statusMessage', changes.statusMessage);
    setOptional(job, 'exitCode', changes.exitCode);
    setOptional(job, 'reason', changes.reason);
    setOptional(job, 'usage', changes.usage);
    if (to === 'queued') {
      job.queuedAt = now;
      delete job.startedAt;
      delete job.finishedAt;
    }
    if (to === 'running') job.startedAt = now;
    if (TERMINAL_JOB_STATES.includes(to)) job.finishedAt = now;
    return Promise.resolve(this.get(id));
  }

  assignTask(id: string, attempt: number, taskId: string, agentId: string): Promise<boolean> {
    const job = this.rows.get(id);
    const ok =
      job !== undefined &&
      job.attempt === attempt &&
      job.state === 'queued' &&
      job.taskId === undefined;
    if (ok) {
      job.taskId = taskId;
      job.agentId = agentId;
    }
    return Promise.resolve(ok);
  }

  setStatusMessage(id: string, message: string | null): Promise<void> {
    const job = this.rows.get(id);
    if (job !== undefined) setOptional(job, 'statusMessage', message);
    return Promise.resolve();
  }

  releaseTask(id: string, taskId: string): Promise<boolean> {
    const job = this.rows.get(id);
    const ok = job !== undefined && job.taskId === taskId && job.state === 'queued';
    if (ok) {
      delete job.taskId;
      delete job.agentId;
    }
    return Promise.resolve(ok);
  }
}

function setOptional<K extends keyof Job>(job: Job, key: K, value: Job[K] | null | undefined) {
  if (value === null) delete job[key];
  else if (value !== undefined) job[key] = value;
}

/** The runs table in memory: `findById` and the compare-and-set `transition`. */
class FakeRuns {
  readonly rows = new Map<string, Run>();

  findById(id: string): Promise<Run | undefined> {
    const run = this.rows.get(id);
    return Promise.resolve(run && structuredClone(run));
  }

  transition(id: string, from: readonly RunState[], to: RunState): Promise<Run | undefined> {
    const run = this.rows.get(id);
    if (run === undefined || !from.includes(run.state)) return Promise.resolve(undefined);
    run.state = to;
    return Promise.resolve(structuredClone(run));
  }
}

function plan(key: string, overrides: Partial<PlanJob> = {}): PlanJob {
  return {
    key,
    name: key,
    steps: [{ name: 'test', run: 'true' }],
    env: {},
    resources: { cpus: 1, mem: 256 },
    needs: [],
    timeoutSeconds: 600,
    retry: 0,
    allowFailure: false,
    secrets: [],
    artifacts: [],
    ...overrides,
  };
}

const RUN_ID = 'run-1';

describe(RunProgressService.name, () => {
  let runs: FakeRuns;
  let jobs: FakeJobs;
  let sealedSecrets: Map<string, SealedSecret>;
  let queues: {
    build: ReturnType<typeof vi.fn<PipelineQueues['build']>>;
    status: ReturnType<typeof vi.fn<PipelineQueues['status']>>;
  };
  let box: SecretBox;
  let unit: FakeUnit;
  let service: RunProgressService;

  beforeEach(() => {
    runs = new FakeRuns();
    jobs = new FakeJobs();
    sealedSecrets = new Map();
    queues = {
      build: vi.fn<PipelineQueues['build']>().mockResolvedValue(undefined),
      status: vi.fn<PipelineQueues['status']>().mockResolvedValue(undefined),
    };
    box = new SecretBox(Buffer.alloc(32, 1));
    unit = new FakeUnit();
    const secrets = {
      sealedValues: (_repositoryId: string, names: readonly string[]) =>
        Promise.resolve(new Map([...sealedSecrets].filter(([name]) => names.includes(name)))),
    };
    service = new RunProgressService(
      strict<RunsRepository>('RunsRepository', runs),
      strict<JobsRepository>('JobsRepository', jobs),
      strict<RepositoriesRepository>('RepositoriesRepository', {
        // A repository with a forge token: its runs' states are reported.
        findById: (id: string) =>
          Promise.resolve({ id, sealedForgeToken: 'sealed' } as unknown as Repository),
      }),
      new JobSecrets(
        strict<RepositorySecretsRepository>('RepositorySecretsRepository', secrets),
        box,
      ),
      strict<PipelineQueues>('PipelineQueues', queues),
      new TaskTokens(box),
      new ServerUrl('http://kiln.test'),
      strict<ArtifactsRepository>('ArtifactsRepository', {}),
      strict<UnitOfWork>('UnitOfWork', unit),
    );
    runs.rows.set(RUN_ID, {
      id: RUN_ID,
      repositoryId: 'repo-1',
      number: 1,
      state: 'running',
      event: 'push',
      ref: 'refs/heads/main',
      branch: 'main',
      sha: 'a'.repeat(40),
      fromFork: false,
      createdAt: new Date(),
    });
  });

  /** A running job `key` (with a task) or a blocked one, of the run. */
  function addJob(key: string, state: JobState, overrides: Partial<PlanJob> = {}): Job {
    const job: Job = {
      id: `job-${key}`,
      runId: RUN_ID,
      key,
      state,
      plan: plan(key, overrides),
      attempt: 1,
      earlierTaskIds: [],
      createdAt: new Date(),
      ...(state === 'running' ? { taskId: `task-${key}-1`, startedAt: new Date() } : {}),
    };
    jobs.add(job);
    return job;
  }

  /** a → b, a → c, with a running. */
  function fanOut(a: Partial<PlanJob> = {}): void {
    addJob('a', 'running', a);
    addJob('b', 'blocked', { needs: ['a'] });
    addJob('c', 'blocked', { needs: ['a'] });
  }

  function status(taskId: string, state: TaskState, reason?: TaskReason): TaskStatus {
    return {
      taskId,
      state,
      source: 'AGENT',
      timestamp: 1_700_000_000,
      ...(reason === undefined ? {} : { reason }),
      ...(state === 'TASK_FAILED' ? { exitCode: 1, message: 'exited with code 1' } : {}),
    };
  }

  /** Launches job `id`'s queued attempt as task `taskId` and reports it running. */
  async function launch(id: string, taskId: string): Promise<void> {
    const job = jobs.get(id);
    expect(await service.claimLaunch(id, job.attempt, taskId, 'agent-1')).toBe(true);
    expect(
      await service.taskStarted({ ...status(taskId, 'TASK_RUNNING'), agentId: 'agent-1' }),
    ).toBe(true);
  }

  it("queues every dependant once when their only need's task finishes", async () => {
    fanOut();

    await service.taskEnded(status('task-a-1', 'TASK_FINISHED'));

    expect(jobs.get('job-a')).toMatchObject({
      state: 'success',
      statusMessage: 'exited with code 0',
    });
    expect(jobs.get('job-b').state).toBe('queued');
    expect(jobs.get('job-c').state).toBe('queued');
    expect(queues.build.mock.calls).toEqual([
      ['job-b', 1],
      ['job-c', 1],
    ]);
    expect(runs.rows.get(RUN_ID)?.state).toBe('running');
    expect(queues.status).not.toHaveBeenCalled();
  });

  it('recorded with other updates, queues the dependants only once the job has committed', async () => {
    fanOut();
    unit.inUnit = true;

    await service.taskEnded(status('task-a-1', 'TASK_FINISHED'));
    // Advancing the run before the commit could miss another job ending in another transaction.
    expect(jobs.get('job-a').state).toBe('success');
    expect(jobs.get('job-b').state).toBe('blocked');
    expect(queues.build).not.toHaveBeenCalled();

    await unit.commit();
    expect(jobs.get('job-b').state).toBe('queued');
    expect(queues.build.mock.calls).toEqual([
      ['job-b', 1],
      ['job-c', 1],
    ]);
  });

  it('recorded with other updates, queues a retry only once it has committed', async () => {
    addJob('a', 'running', { retry: 1 });
    unit.inUnit = true;

    await service.taskEnded(status('task-a-1', 'TASK_FAILED'));
    expect(jobs.get('job-a')).toMatchObject({ state: 'queued', attempt: 2 });
    expect(queues.build).not.toHaveBeenCalled();

    await unit.commit();
    expect(queues.build).toHaveBeenCalledExactlyOnceWith('job-a', 2);
  });

  it('skips the dependants of a failed job, naming it, and fails the run', async () => {
    fanOut();

    await service.taskEnded(status('task-a-1', 'TASK_FAILED'));

    expect(jobs.get('job-a')).toMatchObject({ state: 'failure', exitCode: 1 });
    for (const id of ['job-b', 'job-c']) {
      expect(jobs.get(id)).toMatchObject({
        state: 'skipped',
        statusMessage: 'skipped: needs a, which ended failure',
      });
    }
    expect(queues.build).not.toHaveBeenCalled();
    expect(runs.rows.get(RUN_ID)?.state).toBe('failure');
    expect(queues.status).toHaveBeenCalledExactlyOnceWith(RUN_ID, 'failure');
  });

  it('runs the dependants of a failed need that allows failure, and the run succeeds', async () => {
    fanOut({ allowFailure: true });

    await service.taskEnded(status('task-a-1', 'TASK_FAILED'));
    expect(jobs.get('job-a').state).toBe('failure');
    expect(queues.build.mock.calls).toEqual([
      ['job-b', 1],
      ['job-c', 1],
    ]);

    await launch('job-b', 'task-b-1');
    await launch('job-c', 'task-c-1');
    await service.taskEnded(status('task-b-1', 'TASK_FINISHED'));
    expect(runs.rows.get(RUN_ID)?.state).toBe('running');
    await service.taskEnded(status('task-c-1', 'TASK_FINISHED'));

    expect(runs.rows.get(RUN_ID)?.state).toBe('success');
    expect(queues.status).toHaveBeenLastCalledWith(RUN_ID, 'success');
  });

  it('turns a first failure with retry: 1 into a second attempt, and the second into failure', async () => {
    fanOut({ retry: 1 });

    await service.taskEnded(status('task-a-1', 'TASK_FAILED'));

    const retried = jobs.get('job-a');
    expect(retried).toMatchObject({
      state: 'queued',
      attempt: 2,
      earlierTaskIds: ['task-a-1'],
      statusMessage: 'retrying: exited with code 1',
    });
    expect(retried.taskId).toBeUndefined();
    expect(queues.build.mock.calls).toEqual([['job-a', 2]]);
    expect(jobs.get('job-b').state).toBe('blocked');

    await launch('job-a', 'task-a-2');
    await service.taskEnded(status('task-a-2', 'TASK_FAILED'));

    expect(jobs.get('job-a')).toMatchObject({ state: 'failure', attempt: 2 });
    expect(jobs.get('job-b').state).toBe('skipped');
    expect(queues.build).toHaveBeenCalledTimes(1);
    expect(runs.rows.get(RUN_ID)?.state).toBe('failure');
  });

  it('keeps a job running while its agent is unreachable; the task ending on its return ends it', async () => {
    fanOut({ retry: 1 });

    const keep = await service.taskUnreachable(
      { ...status('task-a-1', 'TASK_UNREACHABLE', 'AGENT_UNREACHABLE'), agentId: 'agent-1' },
      new Date('2026-01-01T00:05:00.000Z'),
    );

    expect(keep).toBe(true);
    expect(jobs.get('job-a')).toMatchObject({
      state: 'running',
      attempt: 1,
      taskId: 'task-a-1',
      statusMessage:
        'agent agent-1 is unreachable; waiting for it until 2026-01-01T00:05:00.000Z, then the task is given up as lost',
    });
    expect(queues.build).not.toHaveBeenCalled();

    // The agent is back: the job runs on, then the task's own end is the job's.
    expect(await service.taskStarted(status('task-a-1', 'TASK_RUNNING'))).toBe(true);
    expect(jobs.get('job-a').statusMessage).toBeUndefined();
    await service.taskEnded(status('task-a-1', 'TASK_FINISHED'));

    expect(jobs.get('job-a')).toMatchObject({ state: 'success', attempt: 1 });
    expect(jobs.endedAttempts).toEqual([
      { jobId: 'job-a', attempt: 1, state: 'success', message: 'exited with code 0' },
    ]);
    expect(queues.build.mock.calls).toEqual([
      ['job-b', 1],
      ['job-c', 1],
    ]);
  });

  it('ends a given-up attempt as lost and retries; the late end of its task changes nothing', async () => {
    fanOut({ retry: 1 });

    await service.taskGivenUp('task-a-1', 'agent agent-1 unreachable for more than 60 s');

    expect(jobs.get('job-a')).toMatchObject({
      state: 'queued',
      attempt: 2,
      reason: 'AGENT_UNREACHABLE',
      earlierTaskIds: ['task-a-1'],
    });
    expect(jobs.endedAttempts).toEqual([
      {
        jobId: 'job-a',
        attempt: 1,
        state: 'lost',
        message: 'agent agent-1 unreachable for more than 60 s (AGENT_UNREACHABLE)',
      },
    ]);
    expect(queues.build.mock.calls).toEqual([['job-a', 2]]);

    // The old agent returns: its task, replaced, is to be killed and its end is not the job's.
    expect(await service.taskStarted(status('task-a-1', 'TASK_RUNNING'))).toBe(false);
    await service.taskEnded(status('task-a-1', 'TASK_FINISHED'));
    expect(jobs.get('job-a')).toMatchObject({ state: 'queued', attempt: 2 });
    expect(jobs.endedAttempts).toHaveLength(1);
  });

  it('answers false to an unreachable task whose job has ended, so it is killed on return', async () => {
    addJob('a', 'running');
    await service.taskEnded(status('task-a-1', 'TASK_KILLED', 'KILLED_BY_FRAMEWORK'));

    expect(await service.taskUnreachable(status('task-a-1', 'TASK_UNREACHABLE'), new Date())).toBe(
      false,
    );
    expect(jobs.get('job-a').state).toBe('canceled');
  });

  it('changes nothing on a duplicate terminal update', async () => {
    fanOut();
    await service.taskEnded(status('task-a-1', 'TASK_FINISHED'));
    const before = structuredClone([...jobs.rows.values()]);

    await service.taskEnded(status('task-a-1', 'TASK_FINISHED'));
    await service.taskEnded(status('task-a-1', 'TASK_FAILED'));

    expect([...jobs.rows.values()]).toEqual(before);
    expect(queues.build).toHaveBeenCalledTimes(2);
    expect(queues.build).toHaveBeenCalledWith('job-b', 1);
    expect(queues.build).toHaveBeenCalledWith('job-c', 1);
  });

  it('fails a job whose task was killed for its timeout, saying after how long', async () => {
    addJob('a', 'running', { timeoutSeconds: 90 });

    await service.taskEnded(status('task-a-1', 'TASK_KILLED', 'TIMEOUT'));

    expect(jobs.get('job-a')).toMatchObject({
      state: 'failure',
      statusMessage: 'timed out after 90 s',
      reason: 'TIMEOUT',
    });
    expect(runs.rows.get(RUN_ID)?.state).toBe('failure');
  });

  it('cancels a job whose task the framework killed, and its dependants never run', async () => {
    fanOut();

    await service.taskEnded(status('task-a-1', 'TASK_KILLED', 'KILLED_BY_FRAMEWORK'));

    expect(jobs.get('job-a')).toMatchObject({ state: 'canceled', statusMessage: 'canceled' });
    expect(jobs.get('job-b')).toMatchObject({
      state: 'skipped',
      statusMessage: 'skipped: needs a, which ended canceled',
    });
    expect(queues.build).not.toHaveBeenCalled();
    expect(runs.rows.get(RUN_ID)?.state).toBe('canceled');
  });

  it('answers false to a task starting for a job already canceled, so it is killed', async () => {
    addJob('a', 'queued');
    expect(await service.claimLaunch('job-a', 1, 'task-a-1', 'agent-1')).toBe(true);
    await jobs.transition('job-a', ['queued'], 'canceled', { statusMessage: 'canceled' });

    expect(await service.taskStarted(status('task-a-1', 'TASK_RUNNING'))).toBe(false);
    expect(jobs.get('job-a').state).toBe('canceled');
  });

  it('moves a queued job to running when its task starts, and reports the run running', async () => {
    addJob('a', 'queued');

    await launch('job-a', 'task-a-1');

    expect(jobs.get('job-a')).toMatchObject({ state: 'running', agentId: 'agent-1' });
    expect(queues.status).toHaveBeenCalledExactlyOnceWith(RUN_ID, 'running');
  });

  it('releases the claimed task of a queued job the cluster does not know and queues it again', async () => {
    addJob('a', 'queued');
    expect(await service.claimLaunch('job-a', 1, 'task-a-1', 'agent-1')).toBe(true);

    await service.taskUnknown('task-a-1');

    const job = jobs.get('job-a');
    expect(job.state).toBe('queued');
    expect(job.taskId).toBeUndefined();
    expect(queues.build).toHaveBeenCalledExactlyOnceWith('job-a', 1);
    expect(await service.claimLaunch('job-a', 1, 'task-a-1b', 'agent-1')).toBe(true);
  });

  it('launches the same attempt again when its task was dropped before its command ran', async () => {
    addJob('a', 'queued');
    expect(await service.claimLaunch('job-a', 1, 'task-a-1', 'agent-1')).toBe(true);

    await service.taskEnded(status('task-a-1', 'TASK_DROPPED'));

    const job = jobs.get('job-a');
    expect(job).toMatchObject({ state: 'queued', attempt: 1 });
    expect(job.taskId).toBeUndefined();
    expect(queues.build).toHaveBeenCalledExactlyOnceWith('job-a', 1);
    expect(runs.rows.get(RUN_ID)?.state).not.toBe('failure');
  });

  it('fails a running job whose task the cluster does not know', async () => {
    addJob('a', 'running');

    await service.taskUnknown('task-a-1');

    expect(jobs.get('job-a')).toMatchObject({
      state: 'failure',
      statusMessage: 'the cluster no longer knows the task (RECONCILIATION)',
    });
    expect(queues.build).not.toHaveBeenCalled();
    expect(runs.rows.get(RUN_ID)?.state).toBe('failure');
  });
});
