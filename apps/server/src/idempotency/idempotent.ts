import { IdempotencyKeysRepository, type IdempotencyTimes } from '@kiln/persistence';
import {
  applyDecorators,
  BadRequestException,
  ConflictException,
  Injectable,
  UnprocessableEntityException,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { ApiHeader } from '@nestjs/swagger';
import type { Response } from 'express';
import { createHash } from 'node:crypto';
import { from, lastValueFrom, type Observable } from 'rxjs';
import type { AuthenticatedRequest } from '../auth/principal';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Set on an answer that repeats an earlier one (Stripe's name for it). */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/** Printable ASCII, as the IETF draft and Stripe take it (a UUID is the usual choice). */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** How long a key is kept, and when a claim nobody completed is abandoned. */
export const IDEMPOTENCY_TIMES: IdempotencyTimes = {
  ttlMs: 24 * 60 * 60 * 1_000,
  staleMs: 5 * 60 * 1_000,
};

/**
 * Makes a creating route idempotent by the `Idempotency-Key` header (the IETF draft's, Stripe's):
 * the same key from the same caller on the same request (method, path, body) gets the first
 * answer again and creates nothing; the same key on another request is a 422; while the first is
 * being answered, a 409. Only successful answers are kept (24 h): a request that failed created
 * nothing, so retrying it with its key runs it again. Without the header, nothing changes.
 */
export function Idempotent(): MethodDecorator {
  return applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: IDEMPOTENCY_KEY_HEADER,
      required: false,
      description:
        'Any unique string (a UUID): a retry with the same key and body answers what the first ' +
        'request answered (with `Idempotent-Replayed: true`) and creates nothing. Kept 24 h. ' +
        'The same key on another request (method, path or body) answers 422; while the first ' +
        'is still being answered, 409.',
    }),
  );
}

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly keys: IdempotencyKeysRepository) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = request.header(IDEMPOTENCY_KEY_HEADER);
    const userId = request.principal?.userId;
    if (key === undefined || userId === undefined) return next.handle();
    const response = context.switchToHttp().getResponse<Response>();
    // The status the route answers with; Nest sets it on the response only after this returns.
    const status =
      (Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) as number | undefined) ??
      (request.method === 'POST' ? 201 : 200);
    return from(this.answer({ userId, key, status }, request, response, next));
  }

  private async answer(
    { userId, key, status }: { userId: string; key: string; status: number },
    request: AuthenticatedRequest,
    response: Response,
    next: CallHandler,
  ): Promise<unknown> {
    if (!KEY.test(key)) {
      throw new BadRequestException(
        `${IDEMPOTENCY_KEY_HEADER} must be 1 to 255 printable ASCII characters (e.g. a UUID)`,
      );
    }
    const claim = await this.keys.claim(userId, key, fingerprint(request), IDEMPOTENCY_TIMES);
    switch (claim.outcome) {
      case 'mismatch':
        throw new UnprocessableEntityException(
          `${IDEMPOTENCY_KEY_HEADER} ${key} was used for another request: ` +
            'use a new key for a new request',
        );
      case 'in-progress':
        throw new ConflictException(
          `a request with ${IDEMPOTENCY_KEY_HEADER} ${key} is still being answered; try again`,
        );
      case 'replay':
        response.setHeader(IDEMPOTENT_REPLAYED_HEADER, 'true');
        // Only successes are kept, and a route answers success with one status (its @HttpCode).
        return JSON.parse(claim.body) as unknown;
      case 'claimed':
        break;
    }
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      await this.keys.release(userId, key);
      throw error;
    }
    await this.keys.complete(userId, key, status, JSON.stringify(body ?? null));
    return body;
  }
}

/** The request a key stands for: method, path and body (its keys sorted), digested. */
function fingerprint(request: AuthenticatedRequest): string {
  const body = canonicalJson((request.body as unknown) ?? {});
  return createHash('sha256')
    .update(`${request.method} ${request.originalUrl}\n${body}`)
    .digest('base64url');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
