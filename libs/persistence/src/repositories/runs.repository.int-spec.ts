import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordChange } from '../record-changes';
import { JobsRepository } from './jobs.repository';
import { RepositoriesRepository } from './repositories.repository';
import {
  type RunListOptions,
  RunsRepository,
  type CreateRunResult,
  type Delivery,
  type NewJob,
  type NewRun,
  type Run,
} from './runs.repository';

function runOf(result: CreateRunResult): Run {
  if (!('run' in result)) {
    throw new Error(`expected a new run, got a duplicate of ${String(result.duplicateOf)}`);
  }
  return result.run;
}

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe.each(TEST_DIALECTS)(`${RunsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let runs: RunsRepository;
  let jobs: JobsRepository;
  let repositoryId: string;
  let otherRepositoryId: string;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    runs = new RunsRepository(database);
    jobs = new JobsRepository(database);
    const repositories = new RepositoriesRepository(database);
    const base = { forge: 'github', cloneUrl: 'https://x/y.git', defaultBranch: 'main' } as const;
    repositoryId = (await repositories.create({ ...base, fullName: 'acme/kiln' })).id;
    otherRepositoryId = (await repositories.create({ ...base, fullName: 'acme/other' })).id;
  });
  afterEach(() => database.drop());

  function push(overrides: Partial<NewRun> = {}): NewRun {
    return {
      repositoryId,
      event: 'push',
      ref: 'refs/heads/main',
      branch: 'main',
      sha: SHA,
      fromFork: false,
      ...overrides,
    };
  }

  async function create(overrides: Partial<NewRun> = {}, now?: Date): Promise<Run> {
    return runOf(await runs.create(push(overrides), undefined, now));
  }

  async function countRuns(): Promise<number> {
    const row = await database.db
      .selectFrom('runs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async function jobKeys(runId: string): Promise<string[]> {
    return (await jobs.listByRun(runId)).map((j) => j.key);
  }

  const delivery: Delivery = { forge: 'github', deliveryId: 'd-1', event: 'push' };

  it('stores a pending run with every field and reads it back by id and by number', async () => {
    const now = new Date('2026-03-04T05:06:07.089Z');
    const created = runOf(
      await runs.create(
        {
          repositoryId,
          event: 'pull_request',
          ref: 'refs/pull/7/head',
          branch: 'feature',
          sha: SHA,
          message: 'Fix the kiln',
          author: 'ada',
          pullRequest: 7,
          fromFork: true,
          changedFiles: ['src/a.ts', 'README.md'],
          rerunOf: 'earlier-run',
        },
        undefined,
        now,
      ),
    );
    expect(created).toEqual({
      id: created.id,
      repositoryId,
      number: 1,
      state: 'pending',
      event: 'pull_request',
      ref: 'refs/pull/7/head',
      branch: 'feature',
      sha: SHA,
      message: 'Fix the kiln',
      author: 'ada',
      pullRequest: 7,
      fromFork: true,
      changedFiles: ['src/a.ts', 'README.md'],
      rerunOf: 'earlier-run',
      createdAt: now,
    });
    expect(await runs.findById(created.id)).toEqual(created);
    expect(await runs.findByNumber(repositoryId, 1)).toEqual(created);
    expect(await runs.findByNumber(otherRepositoryId, 1)).toBeUndefined();
    expect(await runs.findById('missing')).toBeUndefined();
  });

  it('leaves optional fields absent rather than undefined or null', async () => {
    const created = await create({ branch: undefined, tag: 'v1.0.0', event: 'tag' });
    const found = await runs.findById(created.id);
    expect(found).toBeDefined();
    expect(Object.keys(found ?? {}).sort()).toEqual(
      [
        'createdAt',
        'event',
        'fromFork',
        'id',
        'number',
        'ref',
        'repositoryId',
        'sha',
        'state',
        'tag',
      ].sort(),
    );
    expect(found).toMatchObject({ tag: 'v1.0.0', fromFork: false });
  });

  it('numbers runs 1, 2, 3 per repository, independently of other repositories', async () => {
    const a1 = await create();
    const a2 = await create();
    const b1 = await create({ repositoryId: otherRepositoryId });
    const a3 = await create();
    const b2 = await create({ repositoryId: otherRepositoryId });
    expect([a1.number, a2.number, a3.number]).toEqual([1, 2, 3]);
    expect([b1.number, b2.number]).toEqual([1, 2]);
  });

  it('gives 20 concurrent runs of one repository 20 distinct consecutive numbers', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => runs.create(push())));
    const numbers = results.map((r) => runOf(r).number).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await countRuns()).toBe(20);
    expect((await create()).number).toBe(21);
  });

  it('answers a delivery seen before with the run it created then, and creates nothing', async () => {
    const first = runOf(await runs.create(push(), delivery));
    const again = await runs.create(push({ sha: 'f'.repeat(40) }), delivery);
    expect(again).toEqual({ duplicateOf: first.id });
    expect(await countRuns()).toBe(1);
    // The redelivery did not use up a number either.
    expect((await create()).number).toBe(2);
  });

  it('creates a batch of runs in one go, numbered per repository in the order given', async () => {
    const told: RecordChange[] = [];
    const watched = new RunsRepository(database, { changed: (change) => told.push(change) });
    await create();
    const results = await watched.createAll([
      { input: push({ sha: 'a'.repeat(40) }), delivery: { ...delivery, deliveryId: 'd-a' } },
      { input: push({ repositoryId: otherRepositoryId }) },
      { input: push({ sha: 'b'.repeat(40) }) },
      { input: push({ sha: 'c'.repeat(40) }), delivery: { ...delivery, deliveryId: 'd-c' } },
    ]);
    const created = results.map(runOf);
    expect(created.map((run) => [run.sha[0], run.number])).toEqual([
      ['a', 2],
      ['0', 1],
      ['b', 3],
      ['c', 4],
    ]);
    expect(await runs.findById(created[3]?.id ?? '')).toEqual(created[3]);
    expect(told.map((change) => change.id)).toEqual(created.map((run) => run.id));
    expect(await runs.create(push(), { ...delivery, deliveryId: 'd-c' })).toEqual({
      duplicateOf: created[3]?.id,
    });
  });

  it('answers a delivery given twice in a batch, or seen before it, with the run it created', async () => {
    const before = runOf(await runs.create(push(), { ...delivery, deliveryId: 'd-before' }));
    const results = await runs.createAll([
      { input: push(), delivery },
      { input: push(), delivery: { ...delivery, deliveryId: 'd-before' } },
      { input: push(), delivery: { ...delivery, deliveryId: 'd-new' } },
      { input: push(), delivery },
    ]);
    const first = runOf(results[0] ?? { duplicateOf: undefined });
    expect(results.slice(1)).toEqual([
      { duplicateOf: before.id },
      { run: expect.objectContaining({ number: 3 }) as unknown },
      { duplicateOf: first.id },
    ]);
    expect(first.number).toBe(2);
    expect(await countRuns()).toBe(3);
  });

  it('records two batches at once that share deliveries, one run for each delivery', async () => {
    // As two servers could, given the same deliveries in opposite orders.
    const ids = Array.from({ length: 200 }, (_, i) => `d-${String(i).padStart(3, '0')}`);
    const batch = (order: string[]) =>
      order.map((deliveryId) => ({ input: push(), delivery: { ...delivery, deliveryId } }));
    const [forward, backward] = await Promise.all([
      runs.createAll(batch(ids)),
      runs.createAll(batch([...ids].reverse())),
    ]);
    const created = [...(forward ?? []), ...(backward ?? [])].filter((r) => 'run' in r);
    expect(created).toHaveLength(200);
    expect(await countRuns()).toBe(200);
  });

  it('records nothing of a batch when one of its runs cannot be recorded', async () => {
    const gone = '00000000-0000-4000-8000-000000000000';
    await expect(
      runs.createAll([
        { input: push(), delivery },
        { input: push({ repositoryId: gone }), delivery: { ...delivery, deliveryId: 'd-gone' } },
      ]),
    ).rejects.toThrow();
    expect(await countRuns()).toBe(0);
    // Its delivery was not recorded either: the forge's retry creates the run.
    expect(runOf(await runs.create(push(), delivery)).number).toBe(1);
  });

  it('discards a pending run with its delivery, so the delivery creates it anew', async () => {
    const delivery: Delivery = { forge: 'github', deliveryId: 'd-discard', event: 'push' };
    const first = runOf(await runs.create(push(), delivery));
    expect(await runs.discardPending(first.id)).toBe(true);
    expect(await runs.findById(first.id)).toBeUndefined();
    const again = runOf(await runs.create(push(), delivery));
    expect(again.id).not.toBe(first.id);

    // A run that moved on stays, and so does its delivery.
    await runs.start(again.id, []);
    expect(await runs.discardPending(again.id)).toBe(false);
    expect(await runs.findById(again.id)).toMatchObject({ state: 'running' });
    expect(await runs.create(push(), delivery)).toEqual({ duplicateOf: again.id });
  });

  it('tells deliveries apart by forge and delivery id', async () => {
    const first = runOf(await runs.create(push(), delivery));
    const otherForge = runOf(await runs.create(push(), { ...delivery, forge: 'gitea' }));
    const otherId = runOf(await runs.create(push(), { ...delivery, deliveryId: 'd-2' }));
    expect(new Set([first.id, otherForge.id, otherId.id]).size).toBe(3);
    expect(await countRuns()).toBe(3);
  });

  it('creates exactly one run when the same delivery arrives twice at once', async () => {
    const results = await Promise.all([
      runs.create(push(), delivery),
      runs.create(push(), delivery),
      runs.create(push(), delivery),
    ]);
    const created = results.filter((r) => 'run' in r).map(runOf);
    expect(created).toHaveLength(1);
    const [run] = created;
    expect(results.filter((r) => !('run' in r))).toEqual([
      { duplicateOf: run?.id },
      { duplicateOf: run?.id },
    ]);
    expect(await countRuns()).toBe(1);
  });

  it('lists runs newest first, a page at a time, with next pointing at the older page', async () => {
    for (let i = 0; i < 5; i++) await create();
    await create({ repositoryId: otherRepositoryId });

    const first = await runs.list(repositoryId, { limit: 2 });
    expect(first.runs.map((r) => r.number)).toEqual([5, 4]);
    expect(first.next).toBe(4);
    const second = await runs.list(repositoryId, { limit: 2, before: first.next });
    expect(second.runs.map((r) => r.number)).toEqual([3, 2]);
    expect(second.next).toBe(2);
    const last = await runs.list(repositoryId, { limit: 2, before: second.next });
    expect(last).toEqual({ runs: [expect.objectContaining({ number: 1 })] });
    expect('next' in last).toBe(false);

    const exact = await runs.list(repositoryId, { limit: 5 });
    expect(exact.runs).toHaveLength(5);
    expect('next' in exact).toBe(false);
  });

  it('filters a list by branch, event, state and author, all of them at once', async () => {
    await create({ branch: 'main', author: 'ada' }); // 1
    await create({ branch: 'dev', author: 'ada' }); // 2
    await create({ branch: 'main', author: 'bob', event: 'pull_request', pullRequest: 7 }); // 3
    await create({ branch: 'main', author: 'ada' }); // 4
    const first = await runs.list(repositoryId, { limit: 10 });
    await runs.transition(first.runs[0]!.id, ['pending'], 'running');
    const numbers = async (options: Omit<RunListOptions, 'limit'>): Promise<number[]> =>
      (await runs.list(repositoryId, { limit: 10, ...options })).runs.map((r) => r.number);
    expect(await numbers({ branch: 'main' })).toEqual([4, 3, 1]);
    expect(await numbers({ event: 'pull_request' })).toEqual([3]);
    expect(await numbers({ author: 'ada', branch: 'main' })).toEqual([4, 1]);
    expect(await numbers({ state: 'running' })).toEqual([4]);
    expect(await numbers({ branch: 'main', before: 4, author: 'ada' })).toEqual([1]);
    expect(await numbers({ branch: 'nope' })).toEqual([]);
  });

  it('lists runs in the given states, oldest first', async () => {
    const older = await create({}, new Date('2026-01-01T00:00:00.000Z'));
    const newer = await create({}, new Date('2026-01-02T00:00:00.000Z'));
    const done = await create({}, new Date('2026-01-03T00:00:00.000Z'));
    await runs.transition(older.id, ['pending'], 'running');
    await runs.transition(done.id, ['pending'], 'success');
    expect((await runs.listByState(['pending', 'running'])).map((r) => r.id)).toEqual([
      older.id,
      newer.id,
    ]);
    expect((await runs.listByState(['success'])).map((r) => r.id)).toEqual([done.id]);
  });

  it('transition moves a run only from the given states, recording when it started and ended', async () => {
    const run = await create();
    const startedAt = new Date('2026-02-01T10:00:00.000Z');
    const finishedAt = new Date('2026-02-01T10:05:00.000Z');

    expect(await runs.transition(run.id, ['running'], 'success')).toBeUndefined();
    const running = await runs.transition(run.id, ['pending'], 'running', { now: startedAt });
    expect(running).toMatchObject({ state: 'running', startedAt });
    expect(running?.finishedAt).toBeUndefined();

    const failed = await runs.transition(run.id, ['running'], 'failure', { now: finishedAt });
    expect(failed).toMatchObject({ state: 'failure', startedAt, finishedAt });
    expect(await runs.findById(run.id)).toEqual(failed);

    expect(await runs.transition(run.id, ['pending', 'running'], 'canceled')).toBeUndefined();
    expect((await runs.findById(run.id))?.state).toBe('failure');
    expect(await runs.transition('missing', ['pending'], 'running')).toBeUndefined();
  });

  it('keeps the first start time when a run becomes running again, and clears its end', async () => {
    const run = await create();
    const first = new Date('2026-02-01T10:00:00.000Z');
    await runs.transition(run.id, ['pending'], 'running', { now: first });
    await runs.transition(run.id, ['running'], 'failure', {
      now: new Date('2026-02-01T10:01:00Z'),
    });
    const again = await runs.transition(run.id, ['failure'], 'running', {
      now: new Date('2026-02-01T11:00:00.000Z'),
    });
    expect(again).toMatchObject({ state: 'running', startedAt: first });
    expect(again?.finishedAt).toBeUndefined();
  });

  it('records the errors of a run that could not be compiled', async () => {
    const run = await create();
    const errored = await runs.transition(run.id, ['pending'], 'error', {
      errors: ['3:5 unknown key "stpes"', '9:1 no jobs'],
    });
    expect(errored).toMatchObject({
      state: 'error',
      errors: ['3:5 unknown key "stpes"', '9:1 no jobs'],
    });
    expect(errored?.finishedAt).toBeInstanceOf(Date);
    expect(errored?.startedAt).toBeUndefined();
  });

  it('lets exactly one of two concurrent transitions from running win', async () => {
    const run = await create();
    await runs.transition(run.id, ['pending'], 'running');
    const [success, canceled] = await Promise.all([
      runs.transition(run.id, ['running'], 'success'),
      runs.transition(run.id, ['running'], 'canceled'),
    ]);
    const winners = [success, canceled].filter((r) => r !== undefined);
    expect(winners).toHaveLength(1);
    const stored = await runs.findById(run.id);
    expect(stored?.state).toBe(winners[0]?.state);
    expect(['success', 'canceled']).toContain(stored?.state);
  });

  it('start sets a pending run running and inserts its jobs in one step', async () => {
    const run = await create();
    const now = new Date('2026-02-02T12:00:00.000Z');
    const planned: NewJob[] = [
      { key: 'build', state: 'queued', plan: { image: 'node:22', steps: ['npm ci'] } },
      { key: 'deploy', state: 'blocked', plan: { needs: ['build'] }, statusMessage: 'waits' },
      { key: 'docs', state: 'skipped', plan: {}, statusMessage: 'when: branch' },
    ];
    expect(await runs.start(run.id, planned, now)).toBe(true);

    expect(await runs.findById(run.id)).toMatchObject({ state: 'running', startedAt: now });
    const stored = await jobs.listByRun(run.id);
    expect(stored.map((j) => [j.key, j.state, j.attempt])).toEqual([
      ['build', 'queued', 1],
      ['deploy', 'blocked', 1],
      ['docs', 'skipped', 0],
    ]);
    const [build, deploy, docs] = stored;
    expect(build).toMatchObject({
      runId: run.id,
      plan: { image: 'node:22', steps: ['npm ci'] },
      earlierTaskIds: [],
      createdAt: now,
      queuedAt: now,
    });
    expect(build?.finishedAt).toBeUndefined();
    expect(deploy).toMatchObject({ statusMessage: 'waits' });
    expect(deploy?.queuedAt).toBeUndefined();
    expect(docs).toMatchObject({ statusMessage: 'when: branch', finishedAt: now });
  });

  it('start of a run that is not pending returns false and inserts nothing', async () => {
    const run = await create();
    expect(await runs.start(run.id, [{ key: 'a', state: 'queued', plan: {} }])).toBe(true);
    expect(await runs.start(run.id, [{ key: 'b', state: 'queued', plan: {} }])).toBe(false);
    expect(await jobKeys(run.id)).toEqual(['a']);

    const canceled = await create();
    await runs.transition(canceled.id, ['pending'], 'canceled');
    expect(await runs.start(canceled.id, [{ key: 'a', state: 'queued', plan: {} }])).toBe(false);
    expect(await jobKeys(canceled.id)).toEqual([]);
    expect((await runs.findById(canceled.id))?.state).toBe('canceled');
  });

  it('starts a run once when two starts race', async () => {
    const run = await create();
    const results = await Promise.all([
      runs.start(run.id, [{ key: 'first', state: 'queued', plan: {} }]),
      runs.start(run.id, [{ key: 'second', state: 'queued', plan: {} }]),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await jobKeys(run.id)).toEqual([results[0] ? 'first' : 'second']);
  });

  it('start leaves the run pending and inserts no job when a job cannot be inserted', async () => {
    const run = await create();
    const duplicateKeys: NewJob[] = [
      { key: 'build', state: 'queued', plan: {} },
      { key: 'build', state: 'queued', plan: {} },
    ];
    await expect(runs.start(run.id, duplicateKeys)).rejects.toThrow();
    expect((await runs.findById(run.id))?.state).toBe('pending');
    expect(await jobKeys(run.id)).toEqual([]);
    expect(await runs.start(run.id, [{ key: 'build', state: 'queued', plan: {} }])).toBe(true);
  });

  it('lists the unfinished runs of a pull request but the one given', async () => {
    const pending = await create({ pullRequest: 7 });
    const running = await create({ pullRequest: 7 });
    await runs.transition(running.id, ['pending'], 'running');
    const finished = await create({ pullRequest: 7 });
    await runs.transition(finished.id, ['pending'], 'success');
    await create({ pullRequest: 8 });
    await create();
    await create({ repositoryId: otherRepositoryId, pullRequest: 7 });
    const newest = await create({ pullRequest: 7 });

    const active = await runs.listActiveForPullRequest(repositoryId, 7, newest.id);
    expect(active.map((r) => r.id).sort()).toEqual([pending.id, running.id].sort());
    expect(await runs.listActiveForPullRequest(repositoryId, 9, newest.id)).toEqual([]);
  });

  it('deletes a repository with its runs and deliveries', async () => {
    const run = runOf(await runs.create(push(), delivery));
    await new RepositoriesRepository(database).delete(repositoryId);
    expect(await runs.findById(run.id)).toBeUndefined();
    const deliveries = await database.db.selectFrom('webhook_deliveries').selectAll().execute();
    expect(deliveries).toEqual([]);
  });
});
