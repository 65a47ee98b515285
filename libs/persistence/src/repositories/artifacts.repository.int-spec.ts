import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactsRepository } from './artifacts.repository';
import { JobsRepository } from './jobs.repository';
import { RepositoriesRepository } from './repositories.repository';
import { RunsRepository } from './runs.repository';

describe.each(TEST_DIALECTS)(`${ArtifactsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let artifacts: ArtifactsRepository;
  let jobId: string;
  const sha = (c: string): string => c.repeat(64);

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    artifacts = new ArtifactsRepository(database);
    const runs = new RunsRepository(database);
    const repository = await new RepositoriesRepository(database).create({
      forge: 'github',
      fullName: 'acme/kiln',
      cloneUrl: 'https://github.com/acme/kiln.git',
      defaultBranch: 'main',
    });
    const created = await runs.create({
      repositoryId: repository.id,
      event: 'push',
      ref: 'refs/heads/main',
      sha: 'a'.repeat(40),
      fromFork: false,
    });
    if (!('run' in created)) throw new Error('expected a new run');
    await runs.start(created.run.id, [{ key: 'build', state: 'queued', plan: {} }], new Date());
    const [job] = await new JobsRepository(database).listByRun(created.run.id);
    if (job === undefined) throw new Error('job not inserted');
    jobId = job.id;
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
});
