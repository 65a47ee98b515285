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
 * `Authorization: Bearer <token>`. A guard, so nothing of the body is even validated before.
 */
@Injectable()
export class TaskLogTokenGuard implements CanActivate {
  constructor(private readonly tokens: TaskTokens) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    const taskId: unknown = request.params.taskId;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (typeof taskId !== 'string' || !this.tokens.verify(taskId, token)) {
      throw new UnauthorizedException(
        "the task's log token is required: Authorization: Bearer <token>",
      );
    }
    return true;
  }
}
