import {
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { PUBLIC } from './public.decorator';

/** The server's API token, as configured or generated on first start. */
export class ApiToken {
  constructor(readonly value: string) {}
}

/**
 * Every API call carries `Authorization: Bearer <token>` unless its route is {@link Public}. One
 * shared token until accounts and roles exist; the guard runs before any body is validated, so an
 * unauthenticated call can change nothing.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(
    token: ApiToken,
    private readonly reflector: Reflector,
  ) {
    this.expected = digest(token.value);
  }

  canActivate(context: ExecutionContext): boolean {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic === true) return true;
    const header = context.switchToHttp().getRequest<Request>().headers.authorization;
    const match = /^Bearer (.+)$/.exec(header ?? '');
    if (!match?.[1]) {
      throw new UnauthorizedException('an API token is required: Authorization: Bearer <token>');
    }
    // Digests have equal length, so the comparison is constant-time whatever was sent.
    if (!timingSafeEqual(digest(match[1]), this.expected)) {
      throw new UnauthorizedException('the API token is wrong');
    }
    return true;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
