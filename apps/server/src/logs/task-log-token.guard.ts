import {
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { Request } from 'express';
import { TaskTokens } from './task-tokens';

/**
 * Lets through a request to `…/tasks/:taskId/…` that carries that task's log token as
 * `Authorization: Bearer <token>`, or as the password of `Basic` credentials (how git sends them
 * when it fetches the task's source). A guard, so nothing of the body is even read before.
 */
@Injectable()
export class TaskLogTokenGuard implements CanActivate {
  constructor(private readonly tokens: TaskTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    const taskId: unknown = request.params.taskId;
    const token = tokenOf(request.headers.authorization ?? '');
    if (typeof taskId !== 'string' || !this.tokens.verify(taskId, token)) {
      throw new UnauthorizedException(
        "the task's log token is required: Authorization: Bearer <token>",
      );
    }
    return true;
  }
}

function tokenOf(authorization: string): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(authorization)?.[1];
  if (bearer !== undefined) return bearer;
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(authorization)?.[1];
  if (basic === undefined) return undefined;
  const credentials = Buffer.from(basic, 'base64').toString('utf8');
  const colon = credentials.indexOf(':');
  return colon < 0 ? undefined : credentials.slice(colon + 1);
}
