import { Controller, HttpCode, Logger, Module, Post } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runHttpApp } from './run-http-app';

@Controller('hooks')
class HooksController {
  @Post('github')
  @HttpCode(202)
  receive(): { ok: true } {
    return { ok: true };
  }

  /** Logs a line of its own, after the request's first turn of the event loop. */
  @Post('gitlab')
  @HttpCode(202)
  async receiveLogged(): Promise<{ ok: true }> {
    await new Promise((resolve) => setImmediate(resolve));
    new Logger('Hooks').log('handled a gitlab hook');
    return { ok: true };
  }
}

/** What pino writes, line by line, as text. */
const written: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    written.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== ''),
    );
    done();
  },
});

@Module({
  controllers: [HooksController],
})
class HooksModule {}

describe("a Kiln HTTP app's request log", () => {
  let app: NestExpressApplication;
  let url: string;

  beforeAll(async () => {
    app = await runHttpApp({
      name: 'log-test',
      logLevel: 'info',
      logDestination: capture,
      module: HooksModule,
      host: '127.0.0.1',
      port: 0,
      shutdownTimeoutMs: 1_000,
    });
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });
  afterAll(() => app?.close());

  it('keeps the headers that tell requests apart and none of the others', async () => {
    const secrets = {
      authorization: 'Bearer secret-api-token',
      cookie: 'kiln_session=secret-session',
      'x-hub-signature-256': 'sha256=secret-signature',
      // A credential in a header Kiln knows nothing of.
      'x-proxy-token': 'secret-proxy-token',
    };
    const res = await fetch(`${url}/hooks/github`, {
      method: 'POST',
      headers: {
        ...secrets,
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/test',
        'x-github-event': 'push',
        'x-github-delivery': 'delivery-1',
      },
      body: '{}',
    });
    expect(res.status).toBe(202);
    const id = res.headers.get('x-request-id') ?? '';
    const line = await vi.waitFor(
      () => {
        const found = written.find((text) => text.includes(id) && text.includes('"req"'));
        if (found === undefined) throw new Error(`no log line for request ${id}`);
        return found;
      },
      { timeout: 10_000 },
    );
    const { req } = JSON.parse(line) as { req: { headers: Record<string, string> } };
    expect(req).toMatchObject({ id, method: 'POST', url: '/hooks/github' });
    expect(req.headers).toEqual({
      'content-type': 'application/json',
      'content-length': '2',
      'user-agent': 'GitHub-Hookshot/test',
      'x-github-event': 'push',
      'x-github-delivery': 'delivery-1',
    });
    for (const value of Object.values(secrets)) expect(line).not.toContain(value);
  });

  it("gives a line logged while serving a request that request's id, not the request", async () => {
    const res = await fetch(`${url}/hooks/gitlab`, { method: 'POST' });
    expect(res.status).toBe(202);
    const id = res.headers.get('x-request-id') ?? '';
    const line = await vi.waitFor(
      () => {
        const found = written.find((text) => text.includes('handled a gitlab hook'));
        if (found === undefined) throw new Error('the handler logged no line');
        return found;
      },
      { timeout: 10_000 },
    );
    expect(JSON.parse(line)).toMatchObject({ reqId: id, context: 'Hooks', app: 'log-test' });
    expect(JSON.parse(line)).not.toHaveProperty('req');
  });
});
