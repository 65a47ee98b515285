import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerApp, type ServerApp } from './support/server-app';

const API_TOKEN = 'request-bodies-int-api-token-0123';
const deep = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('request bodies the server cannot use', () => {
  let server: ServerApp;

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: API_TOKEN } });
  }, 60_000);
  afterAll(() => server?.close());

  const post = (
    path: string,
    body: string | Uint8Array,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ): Promise<Response> => fetch(`${server.url}${path}`, { method: 'POST', headers, body });

  async function expectRefused(res: Response, status: number, message: string | RegExp) {
    const body = (await res.json()) as { statusCode: number; message: string; errorId?: string };
    expect({ status: res.status, message: body.message }).toEqual({
      status,
      message: typeof message === 'string' ? message : (expect.stringMatching(message) as unknown),
    });
    expect(body.errorId).toBeUndefined();
    // The request logger saw it: it gave the request its id (and logs every request it sees).
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  }

  it('answers a JSON body nested 3,000 levels deep with 400, signed in or not', async () => {
    const tooDeep = 'the JSON body nests deeper than 64 levels';
    await expectRefused(await post('/api/v1/session', deep(3000)), 400, tooDeep);
    await expectRefused(
      await post('/api/v1/session', `{"username":${deep(3000)},"password":"x"}`),
      400,
      tooDeep,
    );
    await expectRefused(await post('/hooks/github', deep(3000)), 400, tooDeep);
    await expectRefused(
      await post('/api/v1/repositories', deep(3000), {
        'content-type': 'application/json',
        authorization: `Bearer ${API_TOKEN}`,
      }),
      400,
      tooDeep,
    );
  });

  it('still reads a body nested 64 levels deep', async () => {
    const res = await post('/api/v1/session', `{"username":"a","password":"b","x":${deep(63)}}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe('property x should not exist');
  });

  it('answers truncated JSON with 400, its request id and the parser’s words', async () => {
    await expectRefused(
      await post('/hooks/github', '{"ref": "refs/heads/ma'),
      400,
      /^the body is not valid JSON: /,
    );
    await expectRefused(
      await post('/api/v1/session', '{"username": '),
      400,
      /^the body is not valid JSON: /,
    );
  });

  it('answers a body over the 25 MB limit with 413 and its request id', async () => {
    const big = new Uint8Array(26 * 1024 * 1024).fill(0x20);
    await expectRefused(
      await post('/hooks/github', big),
      413,
      'the request body is larger than the limit of 25mb',
    );
  });

  it('answers JSON sent as text/plain to a webhook with 415 naming both types', async () => {
    await expectRefused(
      await post('/hooks/github', '{"zen":"x"}', { 'content-type': 'text/plain' }),
      415,
      /^Content-Type text\/plain is not accepted: webhooks are application\/json/,
    );
  });

  it('answers null in a field that may only be left out, or a name with a . or .. part, with 400', async () => {
    const send = (method: string, path: string, body: unknown): Promise<Response> =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_TOKEN}` },
        body: JSON.stringify(body),
      });
    const repository = {
      forge: 'github',
      fullName: 'acme/nulls',
      cloneUrl: 'https://github.com/acme/nulls.git',
      autoCancelPullRequests: true,
    };
    const created = await send('POST', '/api/v1/repositories', { ...repository, forgeToken: null });
    expect(created.status).toBe(400);
    for (const fullName of ['../etc/passwd', 'acme/..', 'acme/./x']) {
      const odd = await send('POST', '/api/v1/repositories', { ...repository, fullName });
      expect({ fullName, status: odd.status }).toEqual({ fullName, status: 400 });
    }
    const made = await send('POST', '/api/v1/repositories', repository);
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as { id: string };
    for (const change of [{ autoCancelPullRequests: null }, { defaultBranch: null }]) {
      expect({
        change,
        status: (await send('PATCH', `/api/v1/repositories/${id}`, change)).status,
      }).toEqual({
        change,
        status: 400,
      });
    }
    const secret = await send('PUT', `/api/v1/repositories/${id}/secrets/TOKEN`, {
      value: 'abcdef',
      environments: null,
    });
    expect(secret.status).toBe(400);
    const now = (await (
      await fetch(`${server.url}/api/v1/repositories/${id}`, {
        headers: { authorization: `Bearer ${API_TOKEN}` },
      })
    ).json()) as { autoCancelPullRequests: boolean; defaultBranch: string };
    expect(now).toMatchObject({ autoCancelPullRequests: true, defaultBranch: 'main' });
  });
});
