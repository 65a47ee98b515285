import { AccountsRepository, REPOSITORY_ROLES, RepositoriesRepository } from '@kiln/persistence';
import {
  BadRequestException,
  ForbiddenException,
  Injectable,
  InternalServerErrorException,
  NotFoundException,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ACCESS, type Access } from './access';
import { digestOf } from '../accounts/credentials';
import type { AuthenticatedRequest, Principal } from './principal';
import { isUuid, ResourceResolver } from './resource-resolver';

export const SESSION_COOKIE = 'kiln_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every request: who is calling (a bearer token or a session cookie), then whether they may do
 * this to this object. A repository a caller has no role on does not exist for them (404, never
 * 403, whatever id they guess: OWASP API #1); a role too small for the action is 403.
 * Cookie-authenticated writes must carry the session's CSRF token in a header, which another
 * site's form cannot set.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly accounts: AccountsRepository,
    private readonly repositories: RepositoriesRepository,
    private readonly resources: ResourceResolver,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, [
      context.getHandler(),
      context.getClass(),
    ]);
    // A route without a rule is a bug: refuse rather than guess (the authorization test finds it).
    if (access === undefined)
      throw new InternalServerErrorException('this route has no access rule');
    if (access.kind === 'public') return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = await this.authenticate(req);
    req.principal = principal;
    switch (access.kind) {
      case 'user':
        return true;
      case 'admin':
        if (!principal.isAdmin) throw new ForbiddenException('only administrators may do this');
        return true;
      case 'repository': {
        const id: unknown = req.params[access.param];
        return this.authorize(principal, access, typeof id === 'string' ? id : undefined);
      }
    }
  }

  private async authenticate(req: AuthenticatedRequest): Promise<Principal> {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) {
      const user = await this.accounts.userOfToken(digestOf(bearer));
      if (user === undefined)
        throw new UnauthorizedException('the API token is unknown or revoked');
      return { userId: user.id, username: user.username, isAdmin: user.isAdmin, via: 'token' };
    }
    const sessionId = cookie(req.headers.cookie, SESSION_COOKIE);
    if (sessionId !== undefined) {
      const session = await this.accounts.findSession(digestOf(sessionId));
      if (session === undefined)
        throw new UnauthorizedException('the session has expired: sign in again');
      if (!SAFE_METHODS.has(req.method) && req.header(CSRF_HEADER) !== session.csrfToken) {
        throw new ForbiddenException(`a signed-in write needs the ${CSRF_HEADER} header`);
      }
      const { user } = session;
      return { userId: user.id, username: user.username, isAdmin: user.isAdmin, via: 'session' };
    }
    throw new UnauthorizedException('sign in, or send an API token: Authorization: Bearer <token>');
  }

  private async authorize(
    principal: Principal,
    access: Extract<Access, { kind: 'repository' }>,
    id: string | undefined,
  ): Promise<boolean> {
    // Malformed is a bad request, for everyone alike: it says nothing about what exists.
    if (id === undefined || !isUuid(id)) {
      throw new BadRequestException(`${access.param} must be a UUID (got ${JSON.stringify(id)})`);
    }
    const missing = new NotFoundException(`${access.resource} ${id} does not exist`);
    const repositoryId = await this.resources.repositoryOf(access.resource, id);
    if (repositoryId === undefined) throw missing;
    if (principal.isAdmin) return true;
    const role = await this.accounts.roleOf(repositoryId, principal.userId);
    if (role === undefined) throw missing;
    if (REPOSITORY_ROLES.indexOf(role) < REPOSITORY_ROLES.indexOf(access.role)) {
      const repository = await this.repositories.findById(repositoryId);
      throw new ForbiddenException(
        `this needs the ${access.role} role on ${repository?.fullName ?? 'the repository'}; you are ${role}`,
      );
    }
    return true;
  }
}

/** One cookie's value from a Cookie header. */
export function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
