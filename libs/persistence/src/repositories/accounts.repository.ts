import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { DatabaseConnection } from '../connect';
import { DATABASE } from '../database.token';
import type { RepositoryRole } from '../schema';

export interface User {
  id: string;
  username: string;
  isAdmin: boolean;
  createdAt: Date;
  /** When an administrator disabled the user; absent while they may sign in. */
  disabledAt?: Date;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt?: Date;
}

export interface Membership {
  repositoryId: string;
  userId: string;
  username: string;
  role: RepositoryRole;
}

export class DuplicateUserError extends Error {
  constructor(username: string) {
    super(`a user named ${username} exists already`);
    this.name = 'DuplicateUserError';
  }
}

/**
 * People and their credentials: password hashes (computed by the caller), hashes of API tokens
 * and of session ids (never the secrets themselves), and their roles per repository.
 */
@Injectable()
export class AccountsRepository {
  constructor(@Inject(DATABASE) private readonly connection: DatabaseConnection) {}

  private get db(): DatabaseConnection['db'] {
    return this.connection.db;
  }

  async createUser(
    input: { username: string; passwordHash: string; isAdmin: boolean },
    now = new Date(),
  ): Promise<User> {
    const row = {
      id: randomUUID(),
      username: input.username,
      password_hash: input.passwordHash,
      is_admin: input.isAdmin ? 1 : 0,
      created_at: now.toISOString(),
      disabled_at: null,
    };
    const inserted = await this.db
      .insertInto('users')
      .values(row)
      .onConflict((oc) => oc.column('username').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted === undefined) throw new DuplicateUserError(input.username);
    return { id: row.id, username: row.username, isAdmin: input.isAdmin, createdAt: now };
  }

  async countUsers(): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async findUser(id: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toUser(row);
  }

  /** The user and their password hash, for a login. */
  async findLogin(username: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && { user: toUser(row), passwordHash: row.password_hash };
  }

  /**
   * Disables the user (ending their sessions) or enables them again; the user as it is now, or
   * undefined when there is no such user.
   */
  async setDisabled(
    userId: string,
    disabled: boolean,
    now = new Date(),
  ): Promise<User | undefined> {
    await this.db
      .updateTable('users')
      .set({ disabled_at: disabled ? now.toISOString() : null })
      .where('id', '=', userId)
      .execute();
    if (disabled) await this.db.deleteFrom('sessions').where('user_id', '=', userId).execute();
    return this.findUser(userId);
  }

  async listUsers(): Promise<User[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('username').execute()).map(
      toUser,
    );
  }

  // ---- API tokens ------------------------------------------------------------------------------

  async createToken(
    userId: string,
    name: string,
    tokenHash: string,
    now = new Date(),
  ): Promise<ApiTokenInfo> {
    const id = randomUUID();
    await this.db
      .insertInto('api_tokens')
      .values({
        id,
        user_id: userId,
        name,
        token_hash: tokenHash,
        created_at: now.toISOString(),
        last_used_at: null,
      })
      .execute();
    return { id, name, createdAt: now };
  }

  /** The token's owner, marking the token used (at most once a minute, to spare writes). */
  async userOfToken(tokenHash: string, now = new Date()): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select([
        'api_tokens.id as token_id',
        'api_tokens.last_used_at',
        'users.id',
        'users.username',
        'users.is_admin',
        'users.created_at',
        'users.disabled_at',
        'users.password_hash',
      ])
      .where('api_tokens.token_hash', '=', tokenHash)
      .where('users.disabled_at', 'is', null)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    if (row.last_used_at === null || now.getTime() - Date.parse(row.last_used_at) > 60_000) {
      await this.db
        .updateTable('api_tokens')
        .set({ last_used_at: now.toISOString() })
        .where('id', '=', row.token_id)
        .execute();
    }
    return toUser(row);
  }

  async listTokens(userId: string): Promise<ApiTokenInfo[]> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'created_at', 'last_used_at'])
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: new Date(r.created_at),
      ...(r.last_used_at === null ? {} : { lastUsedAt: new Date(r.last_used_at) }),
    }));
  }

  async deleteToken(userId: string, tokenId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('api_tokens')
      .where('id', '=', tokenId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // ---- Sessions --------------------------------------------------------------------------------

  async createSession(
    input: { idHash: string; userId: string; csrfToken: string; expiresAt: Date },
    now = new Date(),
  ): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({
        id_hash: input.idHash,
        user_id: input.userId,
        csrf_token: input.csrfToken,
        created_at: now.toISOString(),
        expires_at: input.expiresAt.toISOString(),
      })
      .execute();
  }

  async findSession(
    idHash: string,
    now = new Date(),
  ): Promise<{ user: User; csrfToken: string } | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select([
        'sessions.csrf_token',
        'users.id',
        'users.username',
        'users.is_admin',
        'users.created_at',
        'users.disabled_at',
        'users.password_hash',
      ])
      .where('sessions.id_hash', '=', idHash)
      .where('users.disabled_at', 'is', null)
      .where('sessions.expires_at', '>', now.toISOString())
      .executeTakeFirst();
    return row && { user: toUser(row), csrfToken: row.csrf_token };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  // ---- Roles -----------------------------------------------------------------------------------

  async setRole(repositoryId: string, userId: string, role: RepositoryRole): Promise<void> {
    await this.db
      .insertInto('repository_roles')
      .values({ repository_id: repositoryId, user_id: userId, role })
      .onConflict((oc) => oc.columns(['repository_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  async removeRole(repositoryId: string, userId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('repository_roles')
      .where('repository_id', '=', repositoryId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async roleOf(repositoryId: string, userId: string): Promise<RepositoryRole | undefined> {
    const row = await this.db
      .selectFrom('repository_roles')
      .select('role')
      .where('repository_id', '=', repositoryId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role;
  }

  /** The repositories a user has any role on. */
  async repositoriesOf(userId: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('repository_roles')
      .select('repository_id')
      .where('user_id', '=', userId)
      .execute();
    return new Set(rows.map((r) => r.repository_id));
  }

  async members(repositoryId: string): Promise<Membership[]> {
    const rows = await this.db
      .selectFrom('repository_roles')
      .innerJoin('users', 'users.id', 'repository_roles.user_id')
      .select([
        'repository_roles.repository_id',
        'users.id',
        'users.username',
        'repository_roles.role',
      ])
      .where('repository_roles.repository_id', '=', repositoryId)
      .orderBy('users.username')
      .execute();
    return rows.map((r) => ({
      repositoryId: r.repository_id,
      userId: r.id,
      username: r.username,
      role: r.role,
    }));
  }
}

function toUser(row: {
  id: string;
  username: string;
  is_admin: number;
  created_at: string;
  disabled_at: string | null;
}): User {
  return {
    id: row.id,
    username: row.username,
    isAdmin: row.is_admin !== 0,
    createdAt: new Date(row.created_at),
    ...(row.disabled_at === null ? {} : { disabledAt: new Date(row.disabled_at) }),
  };
}
