import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountsRepository, DuplicateUserError } from './accounts.repository';
import { RepositoriesRepository } from './repositories.repository';

describe.each(TEST_DIALECTS)(`${AccountsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let accounts: AccountsRepository;
  let repositories: RepositoriesRepository;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    accounts = new AccountsRepository(database);
    repositories = new RepositoriesRepository(database);
  });
  afterEach(() => database.drop());

  const repo = (name: string) =>
    repositories.create({
      forge: 'github',
      fullName: `acme/${name}`,
      cloneUrl: `https://github.com/acme/${name}.git`,
      defaultBranch: 'main',
    });

  it('creates users with unique names, even when two sign up at once', async () => {
    const results = await Promise.allSettled([
      accounts.createUser({ username: 'ada', passwordHash: 'h1', isAdmin: false }),
      accounts.createUser({ username: 'ada', passwordHash: 'h2', isAdmin: true }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r) => r.status === 'rejected')?.reason).toBeInstanceOf(DuplicateUserError);
    expect(await accounts.countUsers()).toBe(1);
    const login = await accounts.findLogin('ada');
    expect(login?.user.username).toBe('ada');
    expect(await accounts.findLogin('bob')).toBeUndefined();
  });

  it('finds a token’s owner by its digest only, and forgets a deleted token', async () => {
    const ada = await accounts.createUser({ username: 'ada', passwordHash: 'h', isAdmin: true });
    const token = await accounts.createToken(ada.id, 'cli', 'digest-1');
    expect(await accounts.userOfToken('digest-1')).toMatchObject({ id: ada.id, isAdmin: true });
    expect(await accounts.userOfToken('digest-2')).toBeUndefined();
    const [listed] = await accounts.listTokens(ada.id);
    expect(listed).toMatchObject({ id: token.id, name: 'cli' });
    expect(listed?.lastUsedAt).toBeInstanceOf(Date);
    expect(await accounts.deleteToken('someone-else', token.id)).toBe(false);
    expect(await accounts.deleteToken(ada.id, token.id)).toBe(true);
    expect(await accounts.userOfToken('digest-1')).toBeUndefined();
  });

  it('refuses a disabled user’s tokens and ends their sessions, until enabled again', async () => {
    const ada = await accounts.createUser({ username: 'ada', passwordHash: 'h', isAdmin: false });
    await accounts.createToken(ada.id, 'cli', 'digest-1');
    const session = {
      idHash: 's1',
      userId: ada.id,
      csrfToken: 'c1',
      expiresAt: new Date(Date.now() + 3_600_000),
    };
    await accounts.createSession(session);
    const at = new Date('2026-01-01T00:00:00Z');
    expect((await accounts.setDisabled(ada.id, true, at))?.disabledAt).toEqual(at);
    expect(await accounts.userOfToken('digest-1')).toBeUndefined();
    expect(await accounts.findSession('s1')).toBeUndefined();
    expect((await accounts.findLogin('ada'))?.user.disabledAt).toEqual(at);

    const enabled = await accounts.setDisabled(ada.id, false);
    expect(enabled?.disabledAt).toBeUndefined();
    expect(await accounts.userOfToken('digest-1')).toMatchObject({ id: ada.id });
    // The session ended for good: enabling does not bring it back.
    expect(await accounts.findSession('s1')).toBeUndefined();
    expect(
      await accounts.setDisabled('00000000-0000-4000-8000-000000000000', true),
    ).toBeUndefined();
  });

  it('ends a session at its expiry and at sign-out', async () => {
    const ada = await accounts.createUser({ username: 'ada', passwordHash: 'h', isAdmin: false });
    const now = new Date('2026-01-01T00:00:00Z');
    await accounts.createSession(
      {
        idHash: 's1',
        userId: ada.id,
        csrfToken: 'c1',
        expiresAt: new Date('2026-01-01T01:00:00Z'),
      },
      now,
    );
    expect(await accounts.findSession('s1', now)).toMatchObject({
      csrfToken: 'c1',
      user: { id: ada.id },
    });
    expect(await accounts.findSession('s1', new Date('2026-01-01T02:00:00Z'))).toBeUndefined();
    await accounts.deleteSession('s1');
    expect(await accounts.findSession('s1', now)).toBeUndefined();
  });

  it('keeps one role per user and repository, and lists members and visible repositories', async () => {
    const [a, b] = [await repo('a'), await repo('b')];
    const ada = await accounts.createUser({ username: 'ada', passwordHash: 'h', isAdmin: false });
    await accounts.setRole(a.id, ada.id, 'viewer');
    await accounts.setRole(a.id, ada.id, 'developer');
    expect(await accounts.roleOf(a.id, ada.id)).toBe('developer');
    expect(await accounts.roleOf(b.id, ada.id)).toBeUndefined();
    expect(await accounts.members(a.id)).toEqual([
      { repositoryId: a.id, userId: ada.id, username: 'ada', role: 'developer' },
    ]);
    expect(await accounts.repositoriesOf(ada.id)).toEqual(new Set([a.id]));
    expect(await accounts.removeRole(a.id, ada.id)).toBe(true);
    expect(await accounts.removeRole(a.id, ada.id)).toBe(false);
  });

  it('drops roles with their repository', async () => {
    const a = await repo('a');
    const ada = await accounts.createUser({ username: 'ada', passwordHash: 'h', isAdmin: false });
    await accounts.setRole(a.id, ada.id, 'viewer');
    await repositories.delete(a.id);
    expect(await accounts.repositoriesOf(ada.id)).toEqual(new Set());
  });
});
