import { Body, Controller, Module, Post, Req } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan, type ParsedRequest } from './request-body';
import { runHttpApp } from './run-http-app';

@Controller('things')
class ThingsController {
  @Post()
  create(@Body() body: unknown): unknown {
    return body;
  }
}

/** What a handler under a raw path is given. */
@Controller('signed')
class SignedController {
  @Post('*path')
  receive(@Req() req: ParsedRequest & { body?: unknown }): unknown {
    return {
      raw: req.rawBody?.toString('utf8'),
      body: Buffer.isBuffer(req.body) ? 'bytes' : req.body,
    };
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
  controllers: [ThingsController, SignedController],
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

  /** The byte-by-byte count the search for closing quotes replaced: the meaning to keep. */
  function byteByByte(input: Uint8Array, limit: number): boolean {
    let depth = 0;
    let inString = false;
    for (let i = 0; i < input.length; i++) {
      const byte = input[i];
      if (inString) {
        if (byte === 0x5c) i++;
        else if (byte === 0x22) inString = false;
      } else if (byte === 0x22) inString = true;
      else if (byte === 0x7b || byte === 0x5b) {
        if (++depth > limit) return true;
      } else if (byte === 0x7d || byte === 0x5d) depth--;
    }
    return false;
  }

  it('agrees with a count of every byte on texts of quotes, backslashes and brackets', () => {
    // A seeded generator: the same 20,000 texts on every run.
    let seed = 7;
    // In 32-bit arithmetic, of which it gives the high bits: its low bits repeat quickly.
    const next = (): number => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) >>> 16;
    const alphabet = ['"', '\\', '[', ']', '{', '}', 'a', ','];
    for (let n = 0; n < 20_000; n++) {
      const text = Array.from({ length: next() % 40 }, () => alphabet[next() % alphabet.length]);
      const input = bytes(text.join(''));
      const limit = next() % 6;
      expect(nestsDeeperThan(input, limit), text.join('')).toBe(byteByByte(input, limit));
    }
  });
});

describe('a Kiln HTTP app reading request bodies', () => {
  let app: NestExpressApplication;
  let url: string;

  beforeAll(async () => {
    app = await runHttpApp({
      name: 'body-test',
      logLevel: 'info',
      logDestination: capture,
      module: ThingsModule,
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 1_000,
      bodyLimit: '1kb',
      rawBodyPaths: ['/signed'],
    });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app?.close());

  const post = (body: string, path = '/things', type = 'application/json'): Promise<Response> =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

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
    // Valid JSON, but no object nor array: what every API here takes.
    ['a JSON null', 'null', 400, /^the body must be a JSON object or array$/],
    ['a JSON number', ' 1e999', 400, /^the body must be a JSON object or array$/],
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

  it('keeps the exact bytes of a JSON or form body under a raw path, and parses none of them', async () => {
    for (const [path, type, sent] of [
      ['/signed/github', 'application/json; charset=utf-8', '{ "a" :1 }'],
      ['/signed/github', 'application/x-www-form-urlencoded', 'payload=%7B%7D'],
      // The router matches paths without regard to case: so does the raw parser.
      ['/SIGNED/github', 'application/json', '{"a":1}'],
      ['/Signed/github?x=1', 'application/json', '{"a":1}'],
    ] as const) {
      const res = await post(sent, path, type);
      expect({ path, type, answer: await res.json() }).toEqual({
        path,
        type,
        answer: { raw: sent, body: 'bytes' },
      });
    }
    // A body of another type is left unread, there as anywhere.
    expect(await (await post('{"a":1}', '/signed/github', 'text/plain')).json()).toEqual({});
    // Elsewhere a body is parsed, and its bytes are not kept.
    expect(await (await post('{"a":1}')).json()).toEqual({ a: 1 });
  });

  it('holds JSON under a raw path to the same depth and size as any other', async () => {
    for (const [body, status] of [
      ['['.repeat(MAX_JSON_DEPTH + 1), 400],
      [`"${'x'.repeat(2000)}"`, 413],
    ] as const) {
      expect((await post(body, '/signed/github')).status).toBe(status);
    }
    // A form is not JSON: its bytes are kept whatever they hold.
    const form = await post(
      '['.repeat(MAX_JSON_DEPTH + 1),
      '/signed/x',
      'application/x-www-form-urlencoded',
    );
    expect(form.status).toBe(201);
  });

  it('reads a path that only begins like a raw path as any other', async () => {
    const res = await post('{"a":1}', '/signedness');
    expect(res.status).toBe(404);
  });
});
