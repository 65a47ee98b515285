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
  ForbiddenException,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { join, resolve } from 'node:path';
import { AuditLog } from '../audit/audit-log';
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
 * sessions, personal API tokens (shown once, stored as digests) and roles per repository. Users,
 * tokens and roles are changes the audit log records, with who made them.
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
    private readonly audit: AuditLog,
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
    // Said only to whoever knows the password: it tells nobody else the account exists.
    if (found.user.disabledAt !== undefined) {
      throw new ForbiddenException('this account is disabled: ask an administrator');
    }
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

  async createUser(
    principal: Principal,
    input: { username: string; password: string; admin?: boolean },
  ): Promise<User> {
    let user: User;
    try {
      user = await this.accounts.createUser({
        username: input.username,
        passwordHash: await hashPassword(input.password),
        isAdmin: input.admin === true,
      });
    } catch (error) {
      if (error instanceof DuplicateUserError) throw new ConflictException(error.message);
      throw error;
    }
    await this.audit.record(
      principal,
      'user.created',
      { type: 'user', id: user.id },
      `${principal.username} created ${user.isAdmin ? 'administrator' : 'user'} ${user.username}`,
      { username: user.username, admin: user.isAdmin },
    );
    return user;
  }

  listUsers(): Promise<User[]> {
    return this.accounts.listUsers();
  }

  /** Disables a user (their sessions end, their tokens stop working) or enables them again. */
  async setDisabled(principal: Principal, userId: string, disabled: boolean): Promise<User> {
    if (disabled && userId === principal.userId) {
      throw new ConflictException('you cannot disable yourself: ask another administrator');
    }
    const user = await this.accounts.setDisabled(userId, disabled);
    if (user === undefined) throw new NotFoundException(`user ${userId} does not exist`);
    await this.audit.record(
      principal,
      disabled ? 'user.disabled' : 'user.enabled',
      { type: 'user', id: user.id },
      `${principal.username} ${disabled ? 'disabled' : 'enabled'} ${user.username}`,
      { username: user.username },
    );
    return user;
  }

  /** A new personal API token; the answer is the only time it is shown. */
  async createToken(principal: Principal, name: string): Promise<ApiTokenInfo & { token: string }> {
    const token = newApiToken();
    const info = await this.accounts.createToken(principal.userId, name, digestOf(token));
    await this.audit.record(
      principal,
      'token.created',
      { type: 'token', id: info.id },
      `${principal.username} created API token "${info.name}"`,
      { name: info.name },
    );
    return { ...info, token };
  }

  listTokens(principal: Principal): Promise<ApiTokenInfo[]> {
    return this.accounts.listTokens(principal.userId);
  }

  async deleteToken(principal: Principal, tokenId: string): Promise<void> {
    // Its name, for the record: gone once deleted.
    const name = (await this.accounts.listTokens(principal.userId)).find(
      (t) => t.id === tokenId,
    )?.name;
    if (!(await this.accounts.deleteToken(principal.userId, tokenId))) {
      throw new NotFoundException(`token ${tokenId} does not exist`);
    }
    await this.audit.record(
      principal,
      'token.revoked',
      { type: 'token', id: tokenId },
      `${principal.username} revoked API token "${name ?? tokenId}"`,
      name === undefined ? {} : { name },
    );
  }

  /** Ids of the repositories the caller may see; undefined: every one (an administrator). */
  async visibleRepositories(principal: Principal): Promise<Set<string> | undefined> {
    return principal.isAdmin ? undefined : this.accounts.repositoriesOf(principal.userId);
  }

  async members(repositoryId: string): Promise<Membership[]> {
    return this.accounts.members(repositoryId);
  }

  async setRole(
    principal: Principal,
    repositoryId: string,
    userId: string,
    role: RepositoryRole,
  ): Promise<Membership[]> {
    const repository = await this.repositories.findById(repositoryId);
    if (repository === undefined) {
      throw new NotFoundException(`repository ${repositoryId} does not exist`);
    }
    const user = await this.accounts.findUser(userId);
    if (user === undefined) throw new NotFoundException(`user ${userId} does not exist`);
    const previousRole = await this.accounts.roleOf(repositoryId, userId);
    await this.accounts.setRole(repositoryId, userId, role);
    await this.audit.record(
      principal,
      'role.granted',
      { type: 'role', id: userId, repositoryId },
      `${principal.username} gave ${user.username} the ${role} role on ${repository.fullName}`,
      {
        username: user.username,
        role,
        ...(previousRole === undefined ? {} : { previousRole }),
      },
    );
    return this.accounts.members(repositoryId);
  }

  async removeRole(principal: Principal, repositoryId: string, userId: string): Promise<void> {
    // Who had which role, for the record: gone once removed.
    const member = (await this.accounts.members(repositoryId)).find((m) => m.userId === userId);
    if (member === undefined || !(await this.accounts.removeRole(repositoryId, userId))) {
      throw new NotFoundException(`user ${userId} has no role on repository ${repositoryId}`);
    }
    const repository = await this.repositories.findById(repositoryId);
    await this.audit.record(
      principal,
      'role.revoked',
      { type: 'role', id: userId, repositoryId },
      `${principal.username} took the ${member.role} role on ${repository?.fullName ?? repositoryId} from ${member.username}`,
      { username: member.username, role: member.role },
    );
  }
}
