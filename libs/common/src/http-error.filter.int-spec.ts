import {
  BadRequestException,
  ServiceUnavailableException,
  Body,
  Controller,
  Get,
  Module,
  Post,
  type LoggerService,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { IsInt, Min } from 'class-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpErrorFilter, type ErrorBody } from './http-error.filter';
import { ValidationPipe } from '@nestjs/common';

class CreateThingDto {
  @IsInt()
  @Min(1)
  size!: number;
}

@Controller('things')
class ThingsController {
  @Get('broken')
  broken(): never {
    throw new Error('connection string postgres://admin:hunter2@db leaked?');
  }

  @Get('unavailable')
  unavailable(): never {
    throw new ServiceUnavailableException('the cluster master cannot be reached');
  }

  @Get('refused')
  refused(): never {
    throw new BadRequestException('size must be positive');
  }

  @Post()
  create(@Body() dto: CreateThingDto): CreateThingDto {
    return dto;
  }
}

@Module({ controllers: [ThingsController] })
class ThingsModule {}

class CapturingLogger implements LoggerService {
  readonly errors: unknown[][] = [];
  log(): void {}
  warn(): void {}
  error(...args: unknown[]): void {
    this.errors.push(args);
  }
}

describe(HttpErrorFilter.name, () => {
  let app: NestExpressApplication;
  let base: string;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ThingsModule] }).compile();
    app = moduleRef.createNestApplication<NestExpressApplication>({ logger });
    app.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
    app.useGlobalFilters(new HttpErrorFilter(app.get(HttpAdapterHost)));
    await app.listen(0, '127.0.0.1');
    base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app.close());

  async function call(path: string, init?: RequestInit): Promise<[number, ErrorBody]> {
    const res = await fetch(`${base}${path}`, init);
    return [res.status, (await res.json()) as ErrorBody];
  }

  it('hides an unexpected error behind an error id that is logged with the error', async () => {
    const [status, body] = await call('/things/broken');
    expect(status).toBe(500);
    expect(body.errorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.message).toBe(`Internal error; it was logged with id ${body.errorId}`);
    expect(JSON.stringify(body)).not.toContain('hunter2');
    const logged = logger.errors.find(([entry]) => JSON.stringify(entry).includes(body.errorId!));
    expect(logged).toBeDefined();
  });

  it('keeps a chosen 5xx status and its message, logged under an error id', async () => {
    const [status, body] = await call('/things/unavailable');
    expect(status).toBe(503);
    expect(body).toMatchObject({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'the cluster master cannot be reached',
    });
    const logged = logger.errors.find(([entry]) => JSON.stringify(entry).includes(body.errorId!));
    expect(logged).toBeDefined();
  });

  it('keeps the message of a client error', async () => {
    expect(await call('/things/refused')).toEqual([
      400,
      { statusCode: 400, error: 'Bad Request', message: 'size must be positive' },
    ]);
  });

  it('lists each validation problem and joins them in the message', async () => {
    const [status, body] = await call('/things', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 0, colour: 'red' }),
    });
    expect(status).toBe(400);
    expect(body.details).toEqual([
      'property colour should not exist',
      'size must not be less than 1',
    ]);
    expect(body.message).toBe('property colour should not exist; size must not be less than 1');
  });

  it('answers a malformed JSON body with 400, not 500', async () => {
    const [status, body] = await call('/things', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"size": ',
    });
    expect(status).toBe(400);
    expect(body.error).toBe('Bad Request');
    expect(body.errorId).toBeUndefined();
  });

  it('answers an unknown route with 404 in the same shape', async () => {
    const [status, body] = await call('/nowhere');
    expect(status).toBe(404);
    expect(body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Cannot GET /nowhere' });
  });
});
