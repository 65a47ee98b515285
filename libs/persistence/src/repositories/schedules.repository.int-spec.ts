import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RepositoriesRepository } from './repositories.repository';
import { DuplicateScheduleError, SchedulesRepository } from './schedules.repository';

describe.each(TEST_DIALECTS)(`${SchedulesRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let repositories: RepositoriesRepository;
  let schedules: SchedulesRepository;
  let repositoryId: string;
  let otherRepositoryId: string;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    repositories = new RepositoriesRepository(database);
    schedules = new SchedulesRepository(database);
    const base = { forge: 'github', cloneUrl: 'https://x/y.git', defaultBranch: 'main' } as const;
    repositoryId = (await repositories.create({ ...base, fullName: 'acme/kiln' })).id;
    otherRepositoryId = (await repositories.create({ ...base, fullName: 'acme/other' })).id;
  });
  afterEach(() => database.drop());

  const nightly = { name: 'nightly', cron: '0 3 * * *', branch: 'main' };

  it('stores a schedule and reads it back by id', async () => {
    const now = new Date('2026-01-02T03:04:05.678Z');
    const created = await schedules.create({ ...nightly, repositoryId }, now);
    expect(created).toEqual({ ...nightly, repositoryId, id: created.id, createdAt: now });
    expect(await schedules.findById(created.id)).toEqual(created);
    expect(await schedules.findById('missing')).toBeUndefined();
  });

  it('refuses a second schedule of the same name in a repository, allows it in another', async () => {
    await schedules.create({ ...nightly, repositoryId });
    await expect(
      schedules.create({ ...nightly, cron: '0 4 * * *', repositoryId }),
    ).rejects.toBeInstanceOf(DuplicateScheduleError);
    await schedules.create({ ...nightly, repositoryId: otherRepositoryId });

    const mine = await schedules.list(repositoryId);
    expect(mine.map((s) => s.cron)).toEqual(['0 3 * * *']);
    expect(await schedules.list()).toHaveLength(2);
  });

  it('lists the schedules of one repository or of all, by name', async () => {
    await schedules.create({ ...nightly, name: 'weekly', repositoryId });
    await schedules.create({ ...nightly, name: 'hourly', repositoryId: otherRepositoryId });
    await schedules.create({ ...nightly, name: 'daily', repositoryId });

    expect((await schedules.list(repositoryId)).map((s) => s.name)).toEqual(['daily', 'weekly']);
    expect((await schedules.list()).map((s) => s.name)).toEqual(['daily', 'hourly', 'weekly']);
    expect(await schedules.list('missing')).toEqual([]);
  });

  it('deletes a schedule, answering whether there was one, and frees its name', async () => {
    const created = await schedules.create({ ...nightly, repositoryId });
    expect(await schedules.delete(created.id)).toBe(true);
    expect(await schedules.delete(created.id)).toBe(false);
    expect(await schedules.findById(created.id)).toBeUndefined();
    await expect(schedules.create({ ...nightly, repositoryId })).resolves.toMatchObject(nightly);
  });

  it('deletes the schedules of a repository with the repository', async () => {
    await schedules.create({ ...nightly, repositoryId });
    const kept = await schedules.create({ ...nightly, repositoryId: otherRepositoryId });
    await repositories.delete(repositoryId);
    expect(await schedules.list()).toEqual([kept]);
  });
});
