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

  it('finds a repository by its name in any case, and refuses it again in another case', async () => {
    const created = await repositories.create({ ...kiln, fullName: 'Acme/Kiln' });

    expect(await repositories.findByName('github', 'acme/KILN')).toEqual(created);
    await expect(repositories.create(kiln)).rejects.toThrow(
      new DuplicateRepositoryError('github', 'Acme/Kiln'),
    );
    expect(await repositories.list()).toHaveLength(1);
  });

  it('allows the same name on another forge', async () => {
    await repositories.create(kiln);
    await repositories.create({ ...kiln, forge: 'gitea' });
    expect((await repositories.list()).map((r) => r.forge)).toEqual(['gitea', 'github']);
  });

  it('stores every optional field, and turns auto-cancel of pull requests on by default', async () => {
    const full = await repositories.create({
      ...kiln,
      sealedWebhookSecret: 'sealed-hook',
      sealedForgeToken: 'sealed-token',
      apiUrl: 'https://ghe.acme.dev/api/v3',
      autoCancelPullRequests: false,
    });
    expect(await repositories.findById(full.id)).toMatchObject({
      sealedWebhookSecret: 'sealed-hook',
      sealedForgeToken: 'sealed-token',
      apiUrl: 'https://ghe.acme.dev/api/v3',
      autoCancelPullRequests: false,
    });

    const plain = await repositories.create({ ...kiln, fullName: 'acme/plain' });
    const found = await repositories.findById(plain.id);
    expect(found?.autoCancelPullRequests).toBe(true);
    expect(found).not.toHaveProperty('sealedWebhookSecret');
    expect(found).not.toHaveProperty('sealedForgeToken');
    expect(found).not.toHaveProperty('apiUrl');
  });

  it('updates only the given fields, and null clears the forge token and API URL', async () => {
    const created = await repositories.create({
      ...kiln,
      sealedForgeToken: 'sealed-token',
      apiUrl: 'https://ghe.acme.dev/api/v3',
    });
    const renamed = await repositories.update(created.id, {
      defaultBranch: 'trunk',
      autoCancelPullRequests: false,
    });
    expect(renamed).toEqual({ ...created, defaultBranch: 'trunk', autoCancelPullRequests: false });

    const cleared = await repositories.update(created.id, { sealedForgeToken: null, apiUrl: null });
    expect(cleared).not.toHaveProperty('sealedForgeToken');
    expect(cleared).not.toHaveProperty('apiUrl');
    expect(cleared).toMatchObject({ defaultBranch: 'trunk', autoCancelPullRequests: false });

    const replaced = await repositories.update(created.id, {
      sealedForgeToken: 'sealed-token-2',
      autoCancelPullRequests: true,
    });
    expect(replaced).toMatchObject({
      sealedForgeToken: 'sealed-token-2',
      autoCancelPullRequests: true,
    });
    expect(await repositories.findById(created.id)).toEqual(replaced);
  });

  it('answers undefined when updating a repository that does not exist', async () => {
    expect(await repositories.update('missing', { defaultBranch: 'trunk' })).toBeUndefined();
    expect(await repositories.update('missing', {})).toBeUndefined();
  });

  it('sets and replaces the sealed webhook secret', async () => {
    const created = await repositories.create(kiln);
    await repositories.setWebhookSecret(created.id, 'sealed-1');
    expect((await repositories.findById(created.id))?.sealedWebhookSecret).toBe('sealed-1');
    await repositories.setWebhookSecret(created.id, 'sealed-2');
    expect(await repositories.findById(created.id)).toEqual({
      ...created,
      sealedWebhookSecret: 'sealed-2',
    });
  });

  it('deletes a repository, answering whether there was one, and frees its name', async () => {
    const created = await repositories.create(kiln);
    const other = await repositories.create({ ...kiln, fullName: 'acme/other' });
    expect(await repositories.delete(created.id)).toBe(true);
    expect(await repositories.delete(created.id)).toBe(false);
    expect(await repositories.findById(created.id)).toBeUndefined();
    expect(await repositories.list()).toEqual([other]);
    await expect(repositories.create(kiln)).resolves.toMatchObject({ fullName: 'acme/kiln' });
  });

  it('starts every test on an empty database of its own', async () => {
    expect(await repositories.list()).toEqual([]);
  });
});
