import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RepositoriesRepository } from './repositories.repository';
import { RepositorySecretsRepository } from './repository-secrets.repository';

describe.each(TEST_DIALECTS)(`${RepositorySecretsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let repositories: RepositoriesRepository;
  let secrets: RepositorySecretsRepository;
  let repositoryId: string;
  let otherRepositoryId: string;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    repositories = new RepositoriesRepository(database);
    secrets = new RepositorySecretsRepository(database);
    const base = { forge: 'github', cloneUrl: 'https://x/y.git', defaultBranch: 'main' } as const;
    repositoryId = (await repositories.create({ ...base, fullName: 'acme/kiln' })).id;
    otherRepositoryId = (await repositories.create({ ...base, fullName: 'acme/other' })).id;
  });
  afterEach(() => database.drop());

  it('creates a secret, then replaces it, answering whether it existed', async () => {
    const created = new Date('2026-01-01T00:00:00.000Z');
    const replaced = new Date('2026-01-02T00:00:00.000Z');
    expect(await secrets.put(repositoryId, 'NPM_TOKEN', 'sealed-1', undefined, created)).toBe(
      false,
    );
    expect(await secrets.put(repositoryId, 'NPM_TOKEN', 'sealed-2', undefined, replaced)).toBe(
      true,
    );

    expect(await secrets.list(repositoryId)).toEqual([
      { name: 'NPM_TOKEN', createdAt: created, updatedAt: replaced },
    ]);
    expect(await secrets.sealedValues(repositoryId, ['NPM_TOKEN'])).toEqual(
      new Map([['NPM_TOKEN', { sealedValue: 'sealed-2' }]]),
    );
  });

  it('keeps the secrets of each repository apart', async () => {
    expect(await secrets.put(repositoryId, 'TOKEN', 'mine')).toBe(false);
    expect(await secrets.put(otherRepositoryId, 'TOKEN', 'theirs')).toBe(false);
    expect(await secrets.sealedValues(repositoryId, ['TOKEN'])).toEqual(
      new Map([['TOKEN', { sealedValue: 'mine' }]]),
    );
    expect(await secrets.sealedValues(otherRepositoryId, ['TOKEN'])).toEqual(
      new Map([['TOKEN', { sealedValue: 'theirs' }]]),
    );
  });

  it('lists names and times by name, never the values', async () => {
    await secrets.put(repositoryId, 'ZETA', 'sealed-z');
    await secrets.put(repositoryId, 'ALPHA', 'sealed-a');
    await secrets.put(otherRepositoryId, 'OTHER', 'sealed-o');

    const listed = await secrets.list(repositoryId);
    expect(listed.map((s) => s.name)).toEqual(['ALPHA', 'ZETA']);
    for (const secret of listed) {
      expect(Object.keys(secret).sort()).toEqual(['createdAt', 'name', 'updatedAt']);
    }
    expect(JSON.stringify(listed)).not.toContain('sealed-');
    expect(await secrets.list('missing')).toEqual([]);
  });

  it('answers the sealed values of only the named secrets that exist', async () => {
    await secrets.put(repositoryId, 'A', 'sealed-a');
    await secrets.put(repositoryId, 'B', 'sealed-b');
    await secrets.put(repositoryId, 'C', 'sealed-c');

    expect(await secrets.sealedValues(repositoryId, ['A', 'C', 'MISSING'])).toEqual(
      new Map([
        ['A', { sealedValue: 'sealed-a' }],
        ['C', { sealedValue: 'sealed-c' }],
      ]),
    );
    expect(await secrets.sealedValues(repositoryId, [])).toEqual(new Map());
    expect(await secrets.sealedValues(otherRepositoryId, ['A'])).toEqual(new Map());
  });

  it('keeps the environments a secret is limited to, and clears them when it is put without', async () => {
    await secrets.put(repositoryId, 'DEPLOY_TOKEN', 'sealed-d', ['production', 'staging']);
    expect(await secrets.sealedValues(repositoryId, ['DEPLOY_TOKEN'])).toEqual(
      new Map([
        ['DEPLOY_TOKEN', { sealedValue: 'sealed-d', environments: ['production', 'staging'] }],
      ]),
    );
    expect((await secrets.list(repositoryId))[0]?.environments).toEqual(['production', 'staging']);
    await secrets.put(repositoryId, 'DEPLOY_TOKEN', 'sealed-e');
    expect(await secrets.sealedValues(repositoryId, ['DEPLOY_TOKEN'])).toEqual(
      new Map([['DEPLOY_TOKEN', { sealedValue: 'sealed-e' }]]),
    );
  });

  it('deletes a secret, answering whether there was one', async () => {
    await secrets.put(repositoryId, 'A', 'sealed-a');
    await secrets.put(repositoryId, 'B', 'sealed-b');
    expect(await secrets.delete(repositoryId, 'A')).toBe(true);
    expect(await secrets.delete(repositoryId, 'A')).toBe(false);
    expect(await secrets.delete(otherRepositoryId, 'B')).toBe(false);
    expect((await secrets.list(repositoryId)).map((s) => s.name)).toEqual(['B']);
    expect(await secrets.put(repositoryId, 'A', 'sealed-a2')).toBe(false);
  });

  it('deletes the secrets of a repository with the repository', async () => {
    await secrets.put(repositoryId, 'A', 'sealed-a');
    await secrets.put(otherRepositoryId, 'A', 'sealed-o');
    expect(await repositories.delete(repositoryId)).toBe(true);

    const rows = await database.db.selectFrom('repository_secrets').selectAll().execute();
    expect(rows.map((r) => [r.repository_id, r.name])).toEqual([[otherRepositoryId, 'A']]);
  });
});
