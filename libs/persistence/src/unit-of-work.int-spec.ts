import {
  createTestDatabase,
  seedStartedRun,
  TEST_DIALECTS,
  type TestDatabase,
} from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordChange } from './record-changes';
import { JobsRepository, type Job } from './repositories/jobs.repository';
import { UnitOfWork } from './unit-of-work';

describe.each(TEST_DIALECTS)(`${UnitOfWork.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let jobs: JobsRepository;
  let unit: UnitOfWork;
  let changes: RecordChange[];

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    changes = [];
    jobs = new JobsRepository(database, { changed: (change) => changes.push(change) });
    unit = new UnitOfWork(database);
  });
  afterEach(() => database.drop());

  /** Queued jobs `a`, `b`… of one started run. */
  async function queuedJobs(...keys: string[]): Promise<Job[]> {
    return (await seedStartedRun(database, keys)).jobs;
  }

  it('commits every piece at once and leaves their after-commit effects to the caller', async () => {
    const [a, b] = await queuedJobs('a', 'b');
    if (a === undefined || b === undefined) throw new Error('jobs not inserted');
    const effects: string[] = [];
    const written = await unit.together(
      [a, b].map((job) => async () => {
        const running = await jobs.transition(job.id, ['queued'], 'running');
        await unit.afterCommit(() => {
          effects.push(job.key);
        });
        return running?.state;
      }),
    );
    expect(written.map((w) => w.value)).toEqual(['running', 'running']);
    expect((await jobs.findById(a.id))?.state).toBe('running');
    // Live pages and the pieces' own effects wait for the caller, after the commit.
    expect(changes).toEqual([]);
    expect(effects).toEqual([]);
    await written[1]?.finish();
    expect(effects).toEqual(['b']);
    expect(changes).toEqual([expect.objectContaining({ id: b.id, state: 'running' })]);
  });

  it('commits nothing when one piece fails, once every piece has stopped', async () => {
    const [a, b] = await queuedJobs('a', 'b');
    if (a === undefined || b === undefined) throw new Error('jobs not inserted');
    let laterWrite = false;
    await expect(
      unit.together([
        async () => {
          await jobs.transition(a.id, ['queued'], 'running');
          throw new Error('the database went away');
        },
        async () => {
          await jobs.setStatusMessage(b.id, 'first');
          await jobs.setStatusMessage(b.id, 'second');
          laterWrite = true;
        },
      ]),
    ).rejects.toThrow('the database went away');
    expect(laterWrite).toBe(true);
    expect(await jobs.findById(a.id)).toMatchObject({ state: 'queued' });
    expect((await jobs.findById(b.id))?.statusMessage).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('runs an after-commit effect at once outside a unit', async () => {
    const [a] = await queuedJobs('a');
    if (a === undefined) throw new Error('job not inserted');
    let ran = false;
    await unit.afterCommit(() => {
      ran = true;
    });
    expect(ran).toBe(true);
    await jobs.transition(a.id, ['queued'], 'running');
    expect(changes).toEqual([expect.objectContaining({ id: a.id, state: 'running' })]);
  });
});
