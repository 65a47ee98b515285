import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/** Who is calling, as the auth guard established it. */
export interface Principal {
  userId: string;
  username: string;
  isAdmin: boolean;
  /** How they proved it: a session cookie (writes need the CSRF token) or a bearer token. */
  via: 'session' | 'token';
}

export type AuthenticatedRequest = Request & { principal?: Principal };

/** The caller of a route that is not public. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (principal === undefined) throw new Error('no principal: is the route public?');
    return principal;
  },
);
