import {
  createTestDatabase,
  seedStartedRun,
  TEST_DIALECTS,
  type TestDatabase,
} from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordChange } from '../record-changes';
import { JobsRepository, type Job } from './jobs.repository';
import { RepositoriesRepository } from './repositories.repository';
import { RunsRepository, type NewJob } from './runs.repository';

describe.each(TEST_DIALECTS)(`${JobsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let runs: RunsRepository;
  let jobs: JobsRepository;
  let repositoryId: string;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    runs = new RunsRepository(database);
    jobs = new JobsRepository(database);
    const repository = await new RepositoriesRepository(database).create({
      forge: 'github',
      fullName: 'acme/kiln',
      cloneUrl: 'https://github.com/acme/kiln.git',
      defaultBranch: 'main',
    });
    repositoryId = repository.id;
  });
  afterEach(() => database.drop());

  /** A started run with the given jobs; answers them by key. */
  async function startRun(
    planned: NewJob[],
    now = new Date('2026-01-01T00:00:00.000Z'),
  ): Promise<Map<string, Job>> {
    const started = await seedStartedRun(database, planned, { repositoryId, now });
    return new Map(started.jobs.map((j) => [j.key, j]));
  }

  async function oneJob(state: NewJob['state'] = 'queued'): Promise<Job> {
    const job = (await startRun([{ key: 'build', state, plan: { image: 'alpine' } }])).get('build');
    if (job === undefined) throw new Error('job not inserted');
    return job;
  }

  it('reads a job back by id, with its plan parsed', async () => {
    const job = await oneJob();
    expect(job).toMatchObject({
      key: 'build',
      state: 'queued',
      attempt: 1,
      plan: { image: 'alpine' },
      earlierTaskIds: [],
    });
    expect(job.taskId).toBeUndefined();
    expect(await jobs.findById(job.id)).toEqual(job);
    expect(await jobs.findById('missing')).toBeUndefined();
  });

  it('transition moves a job only from the given states (compare-and-set)', async () => {
    const job = await oneJob();
    expect(await jobs.transition(job.id, ['running'], 'success')).toBeUndefined();
    expect((await jobs.findById(job.id))?.state).toBe('queued');

    const running = await jobs.transition(job.id, ['queued'], 'running', { agentId: 'agent-1' });
    expect(running).toMatchObject({ state: 'running', agentId: 'agent-1' });
    expect(await jobs.transition(job.id, ['queued'], 'running')).toBeUndefined();
    expect(await jobs.transition('missing', ['queued'], 'running')).toBeUndefined();
  });

  it('transition with an attempt moves the job only while it is at that attempt', async () => {
    const job = await oneJob();
    expect(await jobs.transition(job.id, ['queued'], 'running', {}, 2)).toBeUndefined();
    expect((await jobs.findById(job.id))?.state).toBe('queued');
    expect(await jobs.transition(job.id, ['queued'], 'running', {}, 1)).toMatchObject({
      state: 'running',
      attempt: 1,
    });
  });

  it('lets exactly one of two concurrent transitions win', async () => {
    const job = await oneJob();
    await jobs.transition(job.id, ['queued'], 'running');
    const results = await Promise.all([
      jobs.transition(job.id, ['running'], 'success', { exitCode: 0 }),
      jobs.transition(job.id, ['running'], 'canceled', { reason: 'canceled by ada' }),
    ]);
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    expect(await jobs.findById(job.id)).toEqual(winners[0]);
  });

  it('records when a job was queued, started and finished; a requeue clears start and end', async () => {
    const job = await oneJob('blocked');
    expect(job.queuedAt).toBeUndefined();
    const t = (minute: number) => new Date(`2026-01-01T00:0${minute}:00.000Z`);

    const queued = await jobs.transition(job.id, ['blocked'], 'queued', { now: t(1) });
    expect(queued).toMatchObject({ queuedAt: t(1) });
    const running = await jobs.transition(job.id, ['queued'], 'running', { now: t(2) });
    expect(running).toMatchObject({ queuedAt: t(1), startedAt: t(2) });
    const failed = await jobs.transition(job.id, ['running'], 'failure', { now: t(3) });
    expect(failed).toMatchObject({ queuedAt: t(1), startedAt: t(2), finishedAt: t(3) });

    const requeued = await jobs.transition(job.id, ['failure'], 'queued', {
      attempt: 2,
      now: t(4),
    });
    expect(requeued).toMatchObject({ attempt: 2, queuedAt: t(4) });
    expect(requeued?.startedAt).toBeUndefined();
    expect(requeued?.finishedAt).toBeUndefined();
  });

  it('records the outcome of a task and clears a value given as null', async () => {
    const job = await oneJob();
    await jobs.transition(job.id, ['queued'], 'running', {
      agentId: 'agent-1',
      statusMessage: 'on agent-1',
    });
    const failed = await jobs.transition(job.id, ['running'], 'failure', {
      exitCode: 137,
      reason: 'oom-killed',
      usage: { cpuSeconds: 1.5, memPeakBytes: 1_048_576 },
      statusMessage: null,
    });
    expect(failed).toMatchObject({
      state: 'failure',
      agentId: 'agent-1',
      exitCode: 137,
      reason: 'oom-killed',
      usage: { cpuSeconds: 1.5, memPeakBytes: 1_048_576 },
    });
    expect(failed?.statusMessage).toBeUndefined();

    const retried = await jobs.transition(job.id, ['failure'], 'queued', {
      agentId: null,
      exitCode: null,
      reason: null,
      usage: null,
    });
    expect(retried).toBeDefined();
    for (const key of ['agentId', 'exitCode', 'reason', 'usage'] as const) {
      expect(retried?.[key]).toBeUndefined();
    }
  });

  it('assigns one task per attempt: a second assignment returns false', async () => {
    const job = await oneJob();
    expect(await jobs.assignTask(job.id, 1, 'task-1', 'agent-1')).toBe(true);
    expect(await jobs.assignTask(job.id, 1, 'task-2', 'agent-1')).toBe(false);
    expect((await jobs.findById(job.id))?.taskId).toBe('task-1');
  });

  it("tells of a job's assigned task, and of no assignment refused", async () => {
    const job = await oneJob();
    const told: RecordChange[] = [];
    const watched = new JobsRepository(database, { changed: (change) => told.push(change) });
    await watched.assignTask(job.id, 1, 'task-1', 'agent-1');
    await watched.assignTask(job.id, 1, 'task-2', 'agent-1');
    expect(told).toEqual([{ kind: 'job', id: job.id, runId: job.runId }]);
  });

  it('assigns exactly one of many concurrent tasks to an attempt', async () => {
    const job = await oneJob();
    const taskIds = ['t-a', 't-b', 't-c', 't-d', 't-e'];
    const results = await Promise.all(taskIds.map((t) => jobs.assignTask(job.id, 1, t, 'agent-1')));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = taskIds[results.indexOf(true)];
    expect((await jobs.findById(job.id))?.taskId).toBe(winner);
  });

  it('assigns a task only to a queued job at the given attempt', async () => {
    const blocked = await oneJob('blocked');
    expect(await jobs.assignTask(blocked.id, 1, 'task-1', 'agent-1')).toBe(false);

    const queued = await oneJob();
    expect(await jobs.assignTask(queued.id, 2, 'task-1', 'agent-1')).toBe(false);
    await jobs.transition(queued.id, ['queued'], 'canceled');
    expect(await jobs.assignTask(queued.id, 1, 'task-1', 'agent-1')).toBe(false);
    expect((await jobs.findById(queued.id))?.taskId).toBeUndefined();
    expect(await jobs.assignTask('missing', 1, 'task-1', 'agent-1')).toBe(false);
  });

  it('releases only the named task of a queued job, so another can be assigned', async () => {
    const job = await oneJob();
    await jobs.assignTask(job.id, 1, 'task-1', 'agent-1');
    expect(await jobs.releaseTask(job.id, 'task-other')).toBe(false);
    expect((await jobs.findById(job.id))?.taskId).toBe('task-1');

    expect(await jobs.releaseTask(job.id, 'task-1')).toBe(true);
    expect((await jobs.findById(job.id))?.taskId).toBeUndefined();
    expect(await jobs.releaseTask(job.id, 'task-1')).toBe(false);
    expect(await jobs.assignTask(job.id, 1, 'task-2', 'agent-1')).toBe(true);
    expect((await jobs.findById(job.id))?.taskId).toBe('task-2');
  });

  it('does not release the task of a job that is no longer queued', async () => {
    const job = await oneJob();
    await jobs.assignTask(job.id, 1, 'task-1', 'agent-1');
    await jobs.transition(job.id, ['queued'], 'running');
    expect(await jobs.releaseTask(job.id, 'task-1')).toBe(false);
    expect((await jobs.findById(job.id))?.taskId).toBe('task-1');
  });

  it('keeps the tasks of earlier attempts, oldest first, when a transition clears the task', async () => {
    const job = await oneJob();
    await jobs.assignTask(job.id, 1, 'task-1', 'agent-1');
    await jobs.transition(job.id, ['queued'], 'running');
    await jobs.transition(job.id, ['running'], 'failure');
    const second = await jobs.transition(job.id, ['failure'], 'queued', {
      attempt: 2,
      taskId: null,
    });
    expect(second).toMatchObject({ attempt: 2, earlierTaskIds: ['task-1'] });
    expect(second?.taskId).toBeUndefined();

    expect(await jobs.assignTask(job.id, 1, 'stale', 'agent-1')).toBe(false);
    expect(await jobs.assignTask(job.id, 2, 'task-2', 'agent-1')).toBe(true);
    await jobs.transition(job.id, ['queued'], 'running');
    await jobs.transition(job.id, ['running'], 'failure');
    const third = await jobs.transition(job.id, ['failure'], 'queued', {
      attempt: 3,
      taskId: null,
    });
    expect(third).toMatchObject({ attempt: 3, earlierTaskIds: ['task-1', 'task-2'] });
    expect(third?.taskId).toBeUndefined();
  });

  it('keeps every attempt with its task, outcome and times; the latest as the job is', async () => {
    const job = await oneJob();
    const at = (second: number): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, second));
    await jobs.assignTask(job.id, 1, 'task-1', 'agent-1');
    await jobs.transition(job.id, ['queued'], 'running', { agentId: 'agent-1', now: at(1) });
    // A task given up (its agent unreachable too long): the attempt is lost, a retry queued.
    await jobs.transition(
      job.id,
      ['running'],
      'queued',
      {
        attempt: 2,
        taskId: null,
        reason: 'AGENT_UNREACHABLE',
        statusMessage: 'retrying: given up',
        attemptEnded: { state: 'lost', message: 'given up' },
        now: at(9),
      },
      1,
    );
    await jobs.assignTask(job.id, 2, 'task-2', 'agent-1');
    const running = await jobs.transition(job.id, ['queued'], 'running', {
      agentId: 'agent-2',
      reason: null,
      statusMessage: null,
      now: at(10),
    });
    expect((await jobs.attempts([running!])).get(job.id)).toEqual([
      {
        attempt: 1,
        taskId: 'task-1',
        state: 'lost',
        reason: 'AGENT_UNREACHABLE',
        statusMessage: 'given up',
        agentId: 'agent-1',
        queuedAt: expect.any(Date) as Date,
        startedAt: at(1),
        finishedAt: at(9),
      },
      {
        attempt: 2,
        taskId: 'task-2',
        state: 'running',
        agentId: 'agent-2',
        queuedAt: at(9),
        startedAt: at(10),
      },
    ]);
    const failed = await jobs.transition(job.id, ['running'], 'failure', {
      exitCode: 3,
      statusMessage: 'exited with code 3',
      now: at(12),
    });
    // A rerun of the failed job keeps its second attempt as it ended.
    const rerun = await jobs.transition(job.id, ['failure'], 'blocked', {
      attempt: 3,
      taskId: null,
      exitCode: null,
    });
    const attempts = (await jobs.attempts([rerun!])).get(job.id);
    expect(attempts?.map((a) => [a.attempt, a.taskId, a.state, a.exitCode])).toEqual([
      [1, 'task-1', 'lost', undefined],
      [2, 'task-2', 'failure', 3],
    ]);
    expect(attempts?.[1]?.finishedAt).toEqual(failed?.finishedAt);
  });

  it('keeps an attempt once: a second end of the same attempt changes nothing', async () => {
    const job = await oneJob();
    await jobs.assignTask(job.id, 1, 'task-1', 'agent-1');
    await jobs.transition(job.id, ['queued'], 'failure', {
      attemptEnded: { state: 'lost', message: 'given up' },
    });
    await jobs.transition(job.id, ['failure'], 'success', {
      attemptEnded: { state: 'success', message: 'exited with code 0' },
    });
    const current = await jobs.findById(job.id);
    expect((await jobs.attempts([current!])).get(job.id)?.map((a) => a.state)).toEqual(['lost']);
    expect((await jobs.attempts([])).size).toBe(0);
  });

  it('adds nothing to the earlier tasks when the cleared attempt had no task', async () => {
    const job = await oneJob();
    const canceled = await jobs.transition(job.id, ['queued'], 'canceled', { taskId: null });
    expect(canceled).toMatchObject({ state: 'canceled', earlierTaskIds: [] });
  });

  it('finds a job by the task of its current attempt only', async () => {
    const job = await oneJob();
    expect(await jobs.findByTaskId('task-1')).toBeUndefined();
    await jobs.assignTask(job.id, 1, 'task-1', 'agent-1');
    expect((await jobs.findByTaskId('task-1'))?.id).toBe(job.id);
    await jobs.transition(job.id, ['queued'], 'failure');
    await jobs.transition(job.id, ['failure'], 'queued', { attempt: 2, taskId: null });
    expect(await jobs.findByTaskId('task-1')).toBeUndefined();
  });

  it('lists the jobs in the given states, first queued first', async () => {
    const early = await startRun(
      [
        { key: 'a', state: 'queued', plan: {} },
        { key: 'b', state: 'blocked', plan: {} },
        { key: 'c', state: 'skipped', plan: {} },
      ],
      new Date('2026-01-01T00:00:00.000Z'),
    );
    const late = await startRun(
      [{ key: 'x', state: 'queued', plan: {} }],
      new Date('2026-01-01T00:01:00.000Z'),
    );
    const id = (jobsByKey: Map<string, Job>, key: string) => jobsByKey.get(key)?.id;

    expect((await jobs.listByState(['queued'])).map((j) => j.id)).toEqual([
      id(early, 'a'),
      id(late, 'x'),
    ]);
    expect((await jobs.listByState(['blocked', 'skipped'])).map((j) => j.key).sort()).toEqual([
      'b',
      'c',
    ]);
    expect(await jobs.listByState(['running'])).toEqual([]);
  });

  it('lists the waiting jobs with run and repository, longest waiting first, of the given repositories', async () => {
    const t = (minute: number) => new Date(`2026-01-01T00:0${minute}:00.000Z`);
    const first = await startRun(
      [
        { key: 'a', state: 'queued', plan: {}, statusMessage: 'needs 8 cpus' },
        { key: 'b', state: 'blocked', plan: {} },
        { key: 'c', state: 'skipped', plan: {} },
      ],
      t(0),
    );
    const a = first.get('a');
    if (a === undefined) throw new Error('job not inserted');
    await jobs.transition(a.id, ['queued'], 'running', { now: t(1) });
    await jobs.transition(a.id, ['running'], 'failure', { now: t(2) });
    await jobs.transition(a.id, ['failure'], 'queued', { attempt: 2, now: t(3) });
    const other = await new RepositoriesRepository(database).create({
      forge: 'gitlab',
      fullName: 'acme/other',
      cloneUrl: 'https://gitlab.com/acme/other.git',
      defaultBranch: 'main',
    });
    const created = await runs.create({
      repositoryId: other.id,
      event: 'push',
      ref: 'refs/heads/main',
      sha: 'b'.repeat(40),
      fromFork: false,
    });
    if (!('run' in created)) throw new Error('expected a new run');
    await runs.start(created.run.id, [{ key: 'x', state: 'queued', plan: {} }], t(1));
    await startRun([{ key: 'done', state: 'skipped', plan: {} }], t(2));

    const all = await jobs.listWaiting();
    expect(all).toEqual([
      {
        jobId: first.get('b')?.id,
        runId: a.runId,
        repositoryId,
        repositoryName: 'acme/kiln',
        runNumber: 1,
        key: 'b',
        state: 'blocked',
        waitingSince: t(0),
      },
      expect.objectContaining({ repositoryName: 'acme/other', runNumber: 1, key: 'x' }),
      {
        jobId: a.id,
        runId: a.runId,
        repositoryId,
        repositoryName: 'acme/kiln',
        runNumber: 1,
        key: 'a',
        state: 'queued',
        waitingSince: t(3),
        statusMessage: 'needs 8 cpus',
      },
    ]);
    expect((await jobs.listWaiting(new Set([other.id]))).map((j) => j.key)).toEqual(['x']);
    expect(await jobs.listWaiting(new Set())).toEqual([]);
  });

  it('sets the status message without changing the state', async () => {
    const job = await oneJob();
    await jobs.setStatusMessage(job.id, 'waiting for an agent with 4 CPUs');
    expect(await jobs.findById(job.id)).toMatchObject({
      state: 'queued',
      statusMessage: 'waiting for an agent with 4 CPUs',
    });
    await jobs.setStatusMessage(job.id, null);
    expect((await jobs.findById(job.id))?.statusMessage).toBeUndefined();
  });
});
