import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactsRepository } from './artifacts.repository';
import { JobsRepository } from './jobs.repository';
import { RepositoriesRepository } from './repositories.repository';
import { RunsRepository } from './runs.repository';

describe.each(TEST_DIALECTS)(`${ArtifactsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let artifacts: ArtifactsRepository;
  let runs: RunsRepository;
  let repositoryId: string;
  let runId: string;
  let jobId: string;
  const sha = (c: string): string => c.repeat(64);

  /** A started run of the repository with a job per key; its id and its jobs' ids. */
  async function startRun(
    inRepository: string,
    keys: string[] = ['build'],
  ): Promise<{ runId: string; jobIds: string[] }> {
    const created = await runs.create({
      repositoryId: inRepository,
      event: 'push',
      ref: 'refs/heads/main',
      sha: 'a'.repeat(40),
      fromFork: false,
    });
    if (!('run' in created)) throw new Error('expected a new run');
    const jobs = keys.map((key) => ({ key, state: 'queued' as const, plan: {} }));
    await runs.start(created.run.id, jobs, new Date());
    const inserted = await new JobsRepository(database).listByRun(created.run.id);
    if (inserted.length !== keys.length) throw new Error('jobs not inserted');
    return { runId: created.run.id, jobIds: inserted.map((job) => job.id) };
  }

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    artifacts = new ArtifactsRepository(database);
    runs = new RunsRepository(database);
    const repository = await new RepositoriesRepository(database).create({
      forge: 'github',
      fullName: 'acme/kiln',
      cloneUrl: 'https://github.com/acme/kiln.git',
      defaultBranch: 'main',
    });
    repositoryId = repository.id;
    const started = await startRun(repositoryId);
    runId = started.runId;
    jobId = started.jobIds[0]!;
  });
  afterEach(() => database.drop());

  it("lists an attempt's artifacts by name, sizes past 4 GiB intact", async () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const big = 5 * 1024 ** 3;
    await artifacts.upsert(
      { jobId, attempt: 1, taskId: 't1', name: 'out/z.bin', size: big, sha256: sha('b') },
      at,
    );
    await artifacts.upsert(
      { jobId, attempt: 1, taskId: 't1', name: 'out/a.txt', size: 6, sha256: sha('a') },
      at,
    );
    await artifacts.upsert(
      { jobId, attempt: 2, taskId: 't2', name: 'out/a.txt', size: 7, sha256: sha('c') },
      at,
    );
    expect(await artifacts.list(jobId, 1)).toEqual([
      {
        jobId,
        attempt: 1,
        taskId: 't1',
        name: 'out/a.txt',
        size: 6,
        sha256: sha('a'),
        createdAt: at,
      },
      {
        jobId,
        attempt: 1,
        taskId: 't1',
        name: 'out/z.bin',
        size: big,
        sha256: sha('b'),
        createdAt: at,
      },
    ]);
    expect((await artifacts.list(jobId, 2)).map((a) => a.sha256)).toEqual([sha('c')]);
    expect(await artifacts.list(jobId, 3)).toEqual([]);
  });

  it('keeps one artifact per (job, attempt, name): a resend replaces it', async () => {
    await artifacts.upsert({
      jobId,
      attempt: 1,
      taskId: 't1',
      name: 'a',
      size: 1,
      sha256: sha('a'),
    });
    await artifacts.upsert({
      jobId,
      attempt: 1,
      taskId: 't1b',
      name: 'a',
      size: 2,
      sha256: sha('b'),
    });
    expect(await artifacts.find(jobId, 1, 'a')).toMatchObject({
      taskId: 't1b',
      size: 2,
      sha256: sha('b'),
    });
    expect(await artifacts.list(jobId, 1)).toHaveLength(1);
    expect(await artifacts.find(jobId, 1, 'b')).toBeUndefined();
  });

  it('lists the runs with artifacts, newest first: count, bytes and newest time of each', async () => {
    const t1 = new Date('2026-01-01T00:00:00.000Z');
    const t2 = new Date('2026-01-02T00:00:00.000Z');
    const t3 = new Date('2026-01-03T00:00:00.000Z');
    const big = 5 * 1024 ** 3;
    // Run #1: two attempts of one job, of which the second is the newest.
    await artifacts.upsert(
      { jobId, attempt: 1, taskId: 't1', name: 'a', size: 3, sha256: sha('a') },
      t1,
    );
    await artifacts.upsert(
      { jobId, attempt: 2, taskId: 't2', name: 'a', size: 4, sha256: sha('b') },
      t2,
    );
    await runs.transition(runId, ['running'], 'success');
    // Run #2: none. Run #3: two jobs, past 4 GiB together, still running.
    await startRun(repositoryId);
    const third = await startRun(repositoryId, ['build', 'test']);
    for (const [i, id] of third.jobIds.entries()) {
      await artifacts.upsert(
        { jobId: id, attempt: 1, taskId: `t${i}`, name: 'x', size: big, sha256: sha('c') },
        t3,
      );
    }
    // Another repository's run: not listed.
    const other = await new RepositoriesRepository(database).create({
      forge: 'github',
      fullName: 'acme/other',
      cloneUrl: 'https://github.com/acme/other.git',
      defaultBranch: 'main',
    });
    const elsewhere = await startRun(other.id);
    await artifacts.upsert(
      {
        jobId: elsewhere.jobIds[0]!,
        attempt: 1,
        taskId: 'o',
        name: 'x',
        size: 1,
        sha256: sha('d'),
      },
      t3,
    );

    expect(await artifacts.listRunsWithArtifacts(repositoryId)).toEqual([
      {
        runId: third.runId,
        runNumber: 3,
        runState: 'running',
        count: 2,
        size: 2 * big,
        newestAt: t3,
      },
      { runId, runNumber: 1, runState: 'success', count: 2, size: 7, newestAt: t2 },
    ]);
  });

  it('deletes the artifacts of one run, of every job and attempt, and nothing else', async () => {
    const two = await startRun(repositoryId, ['build', 'test']);
    const other = await startRun(repositoryId);
    const artifact = { taskId: 't', name: 'a', size: 1, sha256: sha('a') };
    await artifacts.upsert({ ...artifact, jobId: two.jobIds[0]!, attempt: 1 });
    await artifacts.upsert({ ...artifact, jobId: two.jobIds[0]!, attempt: 2 });
    await artifacts.upsert({ ...artifact, jobId: two.jobIds[1]!, attempt: 1 });
    await artifacts.upsert({ ...artifact, jobId: other.jobIds[0]!, attempt: 1 });

    expect(await artifacts.deleteByRun(two.runId)).toBe(3);
    expect(await artifacts.list(two.jobIds[0]!, 1)).toEqual([]);
    expect(await artifacts.list(two.jobIds[0]!, 2)).toEqual([]);
    expect(await artifacts.list(two.jobIds[1]!, 1)).toEqual([]);
    expect(await artifacts.list(other.jobIds[0]!, 1)).toHaveLength(1);
    expect((await artifacts.listRunsWithArtifacts(repositoryId)).map((r) => r.runId)).toEqual([
      other.runId,
    ]);
    expect(await artifacts.deleteByRun(two.runId)).toBe(0);
  });
});
