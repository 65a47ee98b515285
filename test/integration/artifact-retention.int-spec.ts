import {
  AccountsRepository,
  ArtifactsRepository,
  EnvironmentsRepository,
  JobsRepository,
  PromotionsRepository,
  RepositoriesRepository,
  RunsRepository,
  type Repository,
} from '@kiln/persistence';
import {
  createTestDatabase,
  seedStartedRun,
  TEST_DIALECTS,
  type TestDatabase,
} from '@kiln/persistence/testing';
import { BullModule, getQueueToken } from '@nestjs/bullmq';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { QUEUES } from '@kiln/queue';
import type { Queue } from 'bullmq';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ARTIFACT_RETENTION_PATTERN,
  ARTIFACT_RETENTION_STARTUP_DELAY_MS,
  ArtifactRetentionSweeper,
  ArtifactRetentionSchedule,
  ArtifactRetentionWorker,
} from '../../apps/server/src/artifacts/artifact-retention';
import { ArtifactStorage } from '../../apps/server/src/artifacts/artifact-storage';
import { FilesystemArtifactStorage } from '../../apps/server/src/artifacts/filesystem-artifact-storage';
import { startServerApp, type ServerApp } from './support/server-app';

const DAY_MS = 24 * 60 * 60 * 1000;
const T0 = new Date('2026-03-01T12:00:00.000Z');
const days = (n: number): Date => new Date(T0.getTime() + n * DAY_MS);
const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex');

/** A run with artifacts as the sweep sees it: in the database and on disk. */
interface SeededRun {
  id: string;
  number: number;
}

describe.each(TEST_DIALECTS)(`${ArtifactRetentionSweeper.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let dir: string;
  let root: string;
  let repositories: RepositoriesRepository;
  let runs: RunsRepository;
  let jobs: JobsRepository;
  let artifacts: ArtifactsRepository;
  let promotions: PromotionsRepository;
  let storage: FilesystemArtifactStorage;
  let retention: ArtifactRetentionSweeper;
  let repository: Repository;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    dir = mkdtempSync(join(tmpdir(), 'kiln-artifact-retention-'));
    root = join(dir, 'artifacts');
    repositories = new RepositoriesRepository(database);
    runs = new RunsRepository(database);
    jobs = new JobsRepository(database);
    artifacts = new ArtifactsRepository(database);
    promotions = new PromotionsRepository(database);
    storage = new FilesystemArtifactStorage(root);
    retention = new ArtifactRetentionSweeper(repositories, artifacts, promotions, storage, runs);
    repository = await register('acme/widgets');
  });
  afterEach(async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  function register(fullName: string): Promise<Repository> {
    return repositories.create({
      forge: 'github',
      fullName,
      cloneUrl: `https://github.com/${fullName}.git`,
      defaultBranch: 'main',
    });
  }

  /**
   * A run of two jobs that uploaded `files` each at `at` (none: a run without artifacts), ended
   * in success unless `finished` is false.
   */
  async function seedRun(
    at: Date,
    options: { files?: string[]; finished?: boolean; of?: Repository } = {},
  ): Promise<SeededRun> {
    const created = await runs.create(
      {
        repositoryId: (options.of ?? repository).id,
        event: 'push',
        ref: 'refs/heads/main',
        branch: 'main',
        sha: 'a'.repeat(40),
        fromFork: false,
      },
      undefined,
      at,
    );
    if (!('run' in created)) throw new Error('expected a new run');
    const run = created.run;
    const plan = { key: 'build', state: 'queued' as const, plan: {} };
    await runs.start(run.id, [plan, { ...plan, key: 'test' }], at);
    for (const job of await jobs.listByRun(run.id)) {
      for (const name of options.files ?? ['out/app.tar.gz']) {
        const data = `${run.number}/${job.key}/${name}`;
        const key = { runId: run.id, jobId: job.id, attempt: job.attempt, name };
        const stored = await storage.put(key, Readable.from([Buffer.from(data)]), {
          sha256: sha256(data),
          maxBytes: 1024,
        });
        await artifacts.upsert({ ...key, taskId: `task-${job.id}`, ...stored }, at);
      }
    }
    if (options.finished !== false) await runs.transition(run.id, ['running'], 'success');
    return { id: run.id, number: run.number };
  }

  /** The numbers of the repository's runs that have artifacts in the database, newest first. */
  async function withArtifacts(of: Repository = repository): Promise<number[]> {
    return (await artifacts.listRunsWithArtifacts(of.id)).map((run) => run.runNumber);
  }

  const onDisk = (run: SeededRun): boolean => existsSync(join(root, run.id));

  async function setPolicy(policy: { days?: number | null; runs?: number | null }): Promise<void> {
    await repositories.update(repository.id, {
      ...(policy.days === undefined ? {} : { artifactRetentionDays: policy.days }),
      ...(policy.runs === undefined ? {} : { artifactRetentionRuns: policy.runs }),
    });
  }

  it('with `runs: 2`, keeps the artifacts of only the two newest runs that have any', async () => {
    const seeded = [];
    for (let i = 0; i < 4; i++) seeded.push(await seedRun(days(i)));
    const [first, second, third, fourth] = seeded as [SeededRun, SeededRun, SeededRun, SeededRun];
    // The newest run has no artifacts: it is not one of the two.
    await seedRun(days(4), { files: [] });
    await setPolicy({ runs: 2 });

    const swept = await retention.sweep(repository.id, days(5));

    const bytesOf = (run: SeededRun): number =>
      `${run.number}/build/out/app.tar.gz`.length + `${run.number}/test/out/app.tar.gz`.length;
    expect(swept).toEqual({
      repositoryId: repository.id,
      runs: [2, 1],
      artifacts: 4,
      bytes: bytesOf(second) + bytesOf(first),
    });
    expect(await withArtifacts()).toEqual([4, 3]);
    expect([first, second, third, fourth].map(onDisk)).toEqual([false, false, true, true]);
    // The runs say so: a promotion of them would deploy nothing, and is refused.
    const marks = await Promise.all(
      [first, second, third].map(async (run) => (await runs.findById(run.id))?.artifactsDeletedAt),
    );
    expect(marks).toEqual([days(5), days(5), undefined]);
    // Nothing more to do.
    expect((await retention.sweep(repository.id, days(5))).runs).toEqual([]);
  });

  it('never deletes the artifacts of a run in use by a promotion, even beyond the count', async () => {
    const seeded = [];
    for (let i = 0; i < 4; i++) seeded.push(await seedRun(days(i)));
    const [first, second, third, fourth] = seeded as [SeededRun, SeededRun, SeededRun, SeededRun];
    const user = await new AccountsRepository(database).createUser({
      username: 'release-manager',
      passwordHash: 'x',
      isAdmin: false,
    });
    const environments = new EnvironmentsRepository(database);
    const policy = {
      previousId: null,
      requiredApprovals: 0,
      allowedBranches: null,
      approvalTimeoutMinutes: 60,
    };
    const production = await environments.save(repository.id, 'production', policy);
    const staging = await environments.save(repository.id, 'staging', policy);
    const request = {
      repositoryId: repository.id,
      rollback: false,
      requestedBy: user.id,
      requiredApprovals: 0,
    };
    // #1 is what runs in production now; #2 awaits approval for staging.
    const deployed = await promotions.create({
      ...request,
      environmentId: production.id,
      runId: first.id,
      state: 'queued',
    });
    expect(await promotions.startDeploying(deployed)).toBe(true);
    expect(await promotions.finishDeploying(deployed, 'deployed')).toBe(true);
    await promotions.create({
      ...request,
      environmentId: staging.id,
      runId: second.id,
      state: 'awaiting-approval',
      requiredApprovals: 1,
    });
    await setPolicy({ runs: 1 });

    expect((await retention.sweep(repository.id, days(5))).runs).toEqual([3]);
    expect(await withArtifacts()).toEqual([4, 2, 1]);
    expect([first, second, third, fourth].map(onDisk)).toEqual([true, true, false, true]);
  });

  it('with `days: 7`, deletes the artifacts of runs whose newest artifact is older', async () => {
    const first = await seedRun(T0);
    const second = await seedRun(days(0.5));
    const third = await seedRun(days(3));
    await setPolicy({ days: 7 });

    expect((await retention.sweep(repository.id, days(7))).runs).toEqual([]);
    expect((await retention.sweep(repository.id, days(8))).runs).toEqual([2, 1]);
    expect(await withArtifacts()).toEqual([3]);
    expect([first, second, third].map(onDisk)).toEqual([false, false, true]);
  });

  it('applies both measures when both are set: either one lets a run go', async () => {
    await seedRun(T0);
    await seedRun(days(1));
    await seedRun(days(4));
    await seedRun(days(9));
    await setPolicy({ days: 7, runs: 3 });

    // The count alone would delete #1; the age deletes #2 as well, one of the newest three.
    expect((await retention.sweep(repository.id, days(10))).runs).toEqual([2, 1]);
    // And the count deletes #3, which is younger than 7 days.
    await setPolicy({ runs: 1 });
    expect((await retention.sweep(repository.id, days(10))).runs).toEqual([3]);
    expect(await withArtifacts()).toEqual([4]);
  });

  it('leaves an unfinished run alone: its jobs may still upload', async () => {
    const running = await seedRun(T0, { finished: false });
    await seedRun(days(1));
    await setPolicy({ runs: 1, days: 1 });

    expect((await retention.sweep(repository.id, days(30))).runs).toEqual([2]);
    expect(await withArtifacts()).toEqual([1]);
    expect(onDisk(running)).toBe(true);
  });

  it('deletes nothing without a policy, or once it is cleared', async () => {
    const seeded = [await seedRun(T0), await seedRun(days(1)), await seedRun(days(2))];

    expect(await retention.sweep(repository.id, days(365))).toEqual({
      repositoryId: repository.id,
      runs: [],
      artifacts: 0,
      bytes: 0,
    });
    expect(await retention.sweepAll(days(365))).toEqual([]);
    await setPolicy({ days: 1, runs: 1 });
    await setPolicy({ days: null, runs: null });
    expect((await retention.sweep(repository.id, days(365))).runs).toEqual([]);
    expect(await withArtifacts()).toEqual([3, 2, 1]);
    expect(seeded.map(onDisk)).toEqual([true, true, true]);
  });

  it('sweeps every repository that has a policy, and only those', async () => {
    const other = await register('acme/gadgets');
    await seedRun(T0);
    await seedRun(days(1));
    await seedRun(T0, { of: other });
    await seedRun(days(1), { of: other });
    await repositories.update(other.id, { artifactRetentionRuns: 1 });

    const swept = await retention.sweepAll(days(2));

    expect(swept.map((s) => [s.repositoryId, s.runs])).toEqual([[other.id, [1]]]);
    expect(await withArtifacts(other)).toEqual([2]);
    expect(await withArtifacts()).toEqual([2, 1]);
  });
});

describe('scheduled artifact retention (BullMQ on a real Redis)', () => {
  const REDIS_URL = process.env.KILN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  let database: TestDatabase;
  let dir: string;
  let app: INestApplicationContext | undefined;
  let cleanup: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    database = await createTestDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'kiln-artifact-retention-'));
  });
  afterEach(async () => {
    await cleanup?.();
    await app?.close();
    app = cleanup = undefined;
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers an hourly sweep and one shortly after start, which the worker runs', async () => {
    const repositories = new RepositoriesRepository(database);
    const runs = new RunsRepository(database);
    const artifacts = new ArtifactsRepository(database);
    const storage = new FilesystemArtifactStorage(join(dir, 'artifacts'));
    const first = await seedStartedRun(database, ['build']);
    const { repositoryId } = first;
    const second = await seedStartedRun(database, ['build'], { repositoryId });
    for (const seeded of [first, second]) {
      const key = { runId: seeded.run.id, jobId: seeded.jobs[0]!.id, attempt: 1, name: 'a' };
      const stored = await storage.put(key, Readable.from([Buffer.from('a')]), {
        sha256: sha256('a'),
        maxBytes: 10,
      });
      await artifacts.upsert({ ...key, taskId: 't', ...stored });
      await runs.transition(seeded.run.id, ['running'], 'success');
    }
    await repositories.update(repositoryId, { artifactRetentionRuns: 1 });

    const { hostname, port } = new URL(REDIS_URL);
    const moduleRef = await Test.createTestingModule({
      imports: [
        BullModule.forRoot({
          connection: { host: hostname, port: Number(port || 6379) },
          prefix: `test-${randomUUID()}`,
        }),
        BullModule.registerQueue({ name: QUEUES.artifactRetention }),
      ],
      providers: [
        ArtifactRetentionSweeper,
        ArtifactRetentionSchedule,
        ArtifactRetentionWorker,
        { provide: RepositoriesRepository, useValue: repositories },
        { provide: ArtifactsRepository, useValue: artifacts },
        { provide: PromotionsRepository, useValue: new PromotionsRepository(database) },
        { provide: ArtifactStorage, useValue: storage },
        { provide: RunsRepository, useValue: runs },
      ],
    }).compile();
    app = await moduleRef.init();
    const queue = app.get<Queue>(getQueueToken(QUEUES.artifactRetention));
    cleanup = () => queue.obliterate({ force: true });

    expect(await queue.getJobSchedulers()).toMatchObject([
      { key: 'hourly', name: 'sweep', pattern: ARTIFACT_RETENTION_PATTERN, tz: 'UTC' },
    ]);
    const startup = await queue.getJob('startup');
    expect(startup?.opts.delay).toBe(ARTIFACT_RETENTION_STARTUP_DELAY_MS);
    // A second start (or a second server) adds neither again.
    await app.get(ArtifactRetentionSchedule).onApplicationBootstrap();
    expect(await queue.getJobSchedulers()).toHaveLength(1);
    expect(await queue.getDelayedCount()).toBe(2);

    // Run the startup sweep now rather than in a minute.
    await startup!.promote();
    const deadline = Date.now() + 10_000;
    while ((await artifacts.listRunsWithArtifacts(repositoryId)).length > 1) {
      if (Date.now() > deadline) throw new Error('the startup sweep did not run');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await artifacts.listRunsWithArtifacts(repositoryId)).map((r) => r.runNumber)).toEqual([
      2,
    ]);
  });
});

describe('PATCH /api/v1/repositories/:id: artifact retention', () => {
  const API_TOKEN = 'artifact-retention-int-api-token-0123';
  let server: ServerApp;
  let id: string;

  const call = (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: API_TOKEN } });
    const res = await call('POST', '/repositories', {
      forge: 'github',
      fullName: 'acme/retained',
      cloneUrl: 'https://github.com/acme/retained.git',
    });
    expect(res.status).toBe(201);
    id = ((await res.json()) as { id: string }).id;
  }, 60_000);
  afterAll(() => server?.close());

  it('shows no policy at first, sets each measure, and clears them with null', async () => {
    expect(await (await call('GET', `/repositories/${id}`)).json()).toMatchObject({
      artifactRetention: {},
    });
    let res = await call('PATCH', `/repositories/${id}`, { artifactRetentionRuns: 20 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { artifactRetention: unknown }).artifactRetention).toEqual({
      runs: 20,
    });
    res = await call('PATCH', `/repositories/${id}`, { artifactRetentionDays: 30 });
    expect(((await res.json()) as { artifactRetention: unknown }).artifactRetention).toEqual({
      days: 30,
      runs: 20,
    });
    res = await call('PATCH', `/repositories/${id}`, { artifactRetentionRuns: null });
    expect(((await res.json()) as { artifactRetention: unknown }).artifactRetention).toEqual({
      days: 30,
    });
    res = await call('PATCH', `/repositories/${id}`, { artifactRetentionDays: null });
    expect(((await res.json()) as { artifactRetention: unknown }).artifactRetention).toEqual({});
  });

  it('refuses what is not a positive integer', async () => {
    for (const body of [
      { artifactRetentionDays: 0 },
      { artifactRetentionDays: 1.5 },
      { artifactRetentionDays: '7' },
      { artifactRetentionRuns: -1 },
      { artifactRetentionRuns: 10_000_000 },
    ]) {
      const res = await call('PATCH', `/repositories/${id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(await (await call('GET', `/repositories/${id}`)).json()).toMatchObject({
      artifactRetention: {},
    });
  });
});
