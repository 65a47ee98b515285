import { MasterEnv } from '@kiln/config';
import {
  Injectable,
  SetMetadata,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';

const PUBLIC = 'kiln:public';

/** Marks a route that needs no cluster token: probes and metrics. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC, true);

/**
 * Every call to the master carries `Authorization: Bearer <KILN_CLUSTER_TOKEN>`. A guard runs
 * before the body is even validated, so an unauthenticated call can change nothing.
 */
@Injectable()
export class ClusterTokenGuard implements CanActivate {
  private readonly token: ClusterToken;

  constructor(
    env: MasterEnv,
    private readonly reflector: Reflector,
  ) {
    this.token = new ClusterToken(env.KILN_CLUSTER_TOKEN);
  }

  canActivate(context: ExecutionContext): boolean {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic === true) return true;
    this.token.check(context.switchToHttp().getRequest<Request>().headers.authorization);
    return true;
  }
}

/** The cluster token, checked the same way on every route and on the WebSocket upgrade. */
export class ClusterToken {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  /** Throws an UnauthorizedException unless `header` is `Bearer <the cluster token>`. */
  check(header: string | undefined): void {
    const match = /^Bearer (.+)$/.exec(header ?? '');
    if (!match?.[1]) {
      throw new UnauthorizedException('a cluster token is required: Authorization: Bearer <token>');
    }
    // Digests have equal length, so the comparison is constant-time whatever was sent.
    if (!timingSafeEqual(digest(match[1]), this.expected)) {
      throw new UnauthorizedException('the cluster token is wrong');
    }
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
