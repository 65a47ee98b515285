import { Body, Controller, Module, Post } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { LoggerModule } from 'nestjs-pino';
import type { Options } from 'pino-http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loggerParams } from './logging';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './request-body';
import { runHttpApp } from './run-http-app';

@Controller('things')
class ThingsController {
  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }
}

/** The request log lines, as pino writes them. */
const lines: Record<string, unknown>[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    }
    done();
  },
});

@Module({
  imports: [
    LoggerModule.forRoot({
      pinoHttp: [loggerParams('body-test', 'info').pinoHttp as Options, capture],
    }),
  ],
  controllers: [ThingsController],
})
class ThingsModule {}

describe(nestsDeeperThan.name, () => {
  const bytes = (text: string) => Buffer.from(text);

  it('counts brackets outside strings only', () => {
    expect(nestsDeeperThan(bytes('[[{"a":[1]}]]'), 4)).toBe(false);
    expect(nestsDeeperThan(bytes('[[{"a":[[1]]}]]'), 4)).toBe(true);
    expect(nestsDeeperThan(bytes(`{"a":"${'['.repeat(100)}"}`), 1)).toBe(false);
    expect(nestsDeeperThan(bytes(`{"a":"\\"${'['.repeat(100)}"}`), 1)).toBe(false);
    expect(nestsDeeperThan(bytes(`["\\\\",${'['.repeat(3)}]`), 3)).toBe(true);
  });
});

describe('a Kiln HTTP app reading request bodies', () => {
  let app: NestExpressApplication;
  let url: string;

  beforeAll(async () => {
    app = await runHttpApp({
      name: 'body-test',
      logLevel: 'info',
      module: ThingsModule,
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 1_000,
      bodyLimit: '1kb',
    });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app?.close());

  const post = (body: string): Promise<Response> =>
    fetch(`${url}/things`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  /** The request's log line, found by the id the answer carries. */
  async function logLineOf(res: Response): Promise<Record<string, unknown>> {
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    return vi.waitFor(() => {
      const line = lines.find((l) => (l.req as { id?: unknown } | undefined)?.id === id);
      if (line === undefined) throw new Error(`no log line for request ${id}`);
      return line;
    });
  }

  it.each([
    ['truncated JSON', '{"a": [1, 2', 400, /^the body is not valid JSON: /],
    [
      'a body over the limit',
      `"${'x'.repeat(2000)}"`,
      413,
      /^the request body is larger than the limit of 1kb$/,
    ],
    ['JSON nested too deep', '['.repeat(MAX_JSON_DEPTH + 1), 400, /nests deeper than 64 levels$/],
  ])(
    'answers %s with its status, its request id and a log line',
    async (_, body, status, message) => {
      const res = await post(body);
      expect(res.status).toBe(status);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
      const line = await logLineOf(res);
      expect(line).toMatchObject({ level: 40, res: { statusCode: status } });
    },
  );

  it('parses a body that is fine', async () => {
    const res = await post('{"a":[1,{"b":"]]]]"}]}');
    expect(await res.json()).toEqual({ a: [1, { b: ']]]]' }] });
    expect(await logLineOf(res)).toMatchObject({ level: 30, res: { statusCode: 201 } });
  });
});
