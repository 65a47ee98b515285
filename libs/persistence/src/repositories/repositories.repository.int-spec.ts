import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuplicateRepositoryError, RepositoriesRepository } from './repositories.repository';

describe.each(TEST_DIALECTS)(`${RepositoriesRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let repositories: RepositoriesRepository;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    repositories = new RepositoriesRepository(database);
  });
  afterEach(() => database.drop());

  const kiln = {
    forge: 'github',
    fullName: 'acme/kiln',
    cloneUrl: 'https://github.com/acme/kiln.git',
    defaultBranch: 'main',
  } as const;

  it('stores a repository and reads it back by id and by name', async () => {
    const created = await repositories.create(kiln, new Date('2026-01-02T03:04:05.678Z'));
    expect(created).toMatchObject({ ...kiln, createdAt: new Date('2026-01-02T03:04:05.678Z') });
    expect(await repositories.findById(created.id)).toEqual(created);
    expect(await repositories.findByName('github', 'acme/kiln')).toEqual(created);
    expect(await repositories.findByName('gitlab', 'acme/kiln')).toBeUndefined();
  });

  it('refuses a second registration of the same forge repository, even concurrently', async () => {
    const results = await Promise.allSettled([
      repositories.create(kiln),
      repositories.create(kiln),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const [rejected] = results.filter((r) => r.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(DuplicateRepositoryError);
    expect(await repositories.list()).toHaveLength(1);
  });

  it('allows the same name on another forge', async () => {
    await repositories.create(kiln);
    await repositories.create({ ...kiln, forge: 'gitea' });
    expect((await repositories.list()).map((r) => r.forge)).toEqual(['gitea', 'github']);
  });

  it('starts every test on an empty database of its own', async () => {
    expect(await repositories.list()).toEqual([]);
  });
});
