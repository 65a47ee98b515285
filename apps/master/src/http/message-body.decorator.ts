import { InvalidMessageError, parseMessage, prepareMessage } from '@kiln/contracts';
import { BadRequestException, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

const bodyAs = createParamDecorator((cls: new () => object, context: ExecutionContext): object =>
  parseBody(cls, context.switchToHttp().getRequest<Request>().body),
);

/**
 * The request body as the message class `cls`, checked by its compiled validator. The global
 * ValidationPipe leaves custom parameter decorators alone, so the body is not validated twice,
 * the slow way, on the cluster's busiest routes.
 */
export function MessageBody(cls: new () => object): ParameterDecorator {
  // Compiled as the controller is declared, so the first call does not wait for it.
  prepareMessage(cls);
  return bodyAs(cls);
}

/**
 * `json` as a `cls` message, or a 400 listing every problem, as the ValidationPipe answered:
 * the error filter joins them into the message and keeps the list as the details.
 */
export function parseBody<T extends object>(cls: new () => T, json: unknown): T {
  try {
    return parseMessage(cls, json);
  } catch (error) {
    if (error instanceof InvalidMessageError) throw new BadRequestException([...error.problems]);
    throw error;
  }
}
