import { ServerEnv } from '@kiln/config';
import {
  AccountsRepository,
  DuplicateUserError,
  RepositoriesRepository,
  type ApiTokenInfo,
  type Membership,
  type RepositoryRole,
  type User,
} from '@kiln/persistence';
import {
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { join, resolve } from 'node:path';
import type { Principal } from '../auth/principal';
import { fileBackedValue } from '../secrets/keys';
import { digestOf, newApiToken, newSecret } from './credentials';
import { hashPassword, verifyPassword } from './password';

const SESSION_TTL_MS = 12 * 3600 * 1000;
export const FIRST_ADMIN = 'admin';

/** The first administrator's API token: KILN_API_TOKEN, or one generated into the data dir. */
export class BootstrapToken {
  constructor(readonly value: string) {}
}

export interface SessionGrant {
  sessionId: string;
  csrfToken: string;
  expiresAt: Date;
  user: User;
}

/**
 * Accounts: the first administrator (created on first start), passwords (scrypt), browser
 * sessions, personal API tokens (shown once, stored as digests) and roles per repository.
 */
@Injectable()
export class AccountsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AccountsService.name);
  /** A hash to check a password against when the user does not exist, so timing tells nothing. */
  private readonly decoy = hashPassword(newSecret());

  constructor(
    private readonly env: ServerEnv,
    private readonly accounts: AccountsRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly bootstrapToken: BootstrapToken,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.accounts.countUsers()) === 0) {
      const configured = this.env.KILN_ADMIN_PASSWORD;
      const file = join(resolve(this.env.KILN_DATA_DIR), 'admin-password');
      const password = configured ?? fileBackedValue(file, 12);
      try {
        await this.accounts.createUser({
          username: FIRST_ADMIN,
          passwordHash: await hashPassword(password),
          isAdmin: true,
        });
        this.logger.log(
          `created the first administrator "${FIRST_ADMIN}"` +
            (configured === undefined
              ? ` (password in ${file})`
              : ' (password KILN_ADMIN_PASSWORD)'),
        );
      } catch (error) {
        // Another replica created it meanwhile.
        if (!(error instanceof DuplicateUserError)) throw error;
      }
    }
    await this.ensureBootstrapToken();
  }

  /** The bootstrap token works for the first administrator (set again if it was rotated). */
  private async ensureBootstrapToken(): Promise<void> {
    const hash = digestOf(this.bootstrapToken.value);
    if ((await this.accounts.userOfToken(hash)) !== undefined) return;
    const admin = await this.accounts.findLogin(FIRST_ADMIN);
    if (admin === undefined) return;
    await this.accounts.createToken(admin.user.id, 'bootstrap (KILN_API_TOKEN)', hash);
  }

  async login(username: string, password: string): Promise<SessionGrant> {
    const found = await this.accounts.findLogin(username);
    const ok = await verifyPassword(password, found?.passwordHash ?? (await this.decoy));
    if (found === undefined || !ok) throw new UnauthorizedException('wrong user name or password');
    const sessionId = newSecret();
    const csrfToken = newSecret();
    const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
    await this.accounts.createSession({
      idHash: digestOf(sessionId),
      userId: found.user.id,
      csrfToken,
      expiresAt,
    });
    return { sessionId, csrfToken, expiresAt, user: found.user };
  }

  /**
   * Who is signed in, with the session's CSRF token when it is a cookie session (a reloaded page
   * gets its token back); a token caller needs none.
   */
  async session(
    principal: Principal,
    sessionId: string | undefined,
  ): Promise<{ user: User; csrfToken?: string }> {
    const user = await this.me(principal);
    if (principal.via !== 'session' || sessionId === undefined) return { user };
    const session = await this.accounts.findSession(digestOf(sessionId));
    return session === undefined ? { user } : { user, csrfToken: session.csrfToken };
  }

  async logout(sessionId: string): Promise<void> {
    await this.accounts.deleteSession(digestOf(sessionId));
  }

  async me(principal: Principal): Promise<User> {
    const user = await this.accounts.findUser(principal.userId);
    if (user === undefined) throw new UnauthorizedException('the account no longer exists');
    return user;
  }

  async createUser(input: { username: string; password: string; admin?: boolean }): Promise<User> {
    try {
      return await this.accounts.createUser({
        username: input.username,
        passwordHash: await hashPassword(input.password),
        isAdmin: input.admin === true,
      });
    } catch (error) {
      if (error instanceof DuplicateUserError) throw new ConflictException(error.message);
      throw error;
    }
  }

  listUsers(): Promise<User[]> {
    return this.accounts.listUsers();
  }

  /** A new personal API token; the answer is the only time it is shown. */
  async createToken(principal: Principal, name: string): Promise<ApiTokenInfo & { token: string }> {
    const token = newApiToken();
    const info = await this.accounts.createToken(principal.userId, name, digestOf(token));
    return { ...info, token };
  }

  listTokens(principal: Principal): Promise<ApiTokenInfo[]> {
    return this.accounts.listTokens(principal.userId);
  }

  async deleteToken(principal: Principal, tokenId: string): Promise<void> {
    if (!(await this.accounts.deleteToken(principal.userId, tokenId))) {
      throw new NotFoundException(`token ${tokenId} does not exist`);
    }
  }

  /** Ids of the repositories the caller may see; undefined: every one (an administrator). */
  async visibleRepositories(principal: Principal): Promise<Set<string> | undefined> {
    return principal.isAdmin ? undefined : this.accounts.repositoriesOf(principal.userId);
  }

  async members(repositoryId: string): Promise<Membership[]> {
    return this.accounts.members(repositoryId);
  }

  async setRole(repositoryId: string, userId: string, role: RepositoryRole): Promise<Membership[]> {
    if ((await this.repositories.findById(repositoryId)) === undefined) {
      throw new NotFoundException(`repository ${repositoryId} does not exist`);
    }
    if ((await this.accounts.findUser(userId)) === undefined) {
      throw new NotFoundException(`user ${userId} does not exist`);
    }
    await this.accounts.setRole(repositoryId, userId, role);
    return this.accounts.members(repositoryId);
  }

  async removeRole(repositoryId: string, userId: string): Promise<void> {
    if (!(await this.accounts.removeRole(repositoryId, userId))) {
      throw new NotFoundException(`user ${userId} has no role on repository ${repositoryId}`);
    }
  }
}
