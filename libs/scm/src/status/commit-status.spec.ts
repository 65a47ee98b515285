import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Forge } from '../webhook/types';
import { defaultApiUrl } from './api-url';
import { CommitStatusError } from './commit-status-error';
import { commitStatusRequest } from './request';
import { sendCommitStatus } from './send';
import type { CommitState, CommitStatus, CommitStatusTarget } from './types';

const SHA = '9fceb02d0ae598e95dc970b74767f19372d61af8';
const TOKEN = 't0ken';
const STATES: CommitState[] = ['pending', 'running', 'success', 'failure', 'error', 'canceled'];

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/** A loopback HTTP server standing in for the forge: records requests, answers with `reply`. */
async function startFakeForge() {
  const received: Received[] = [];
  const state: { reply: Reply } = { reply: { status: 201, body: '{}' } };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: raw === '' ? undefined : JSON.parse(raw),
      });
      const { status, body = '', headers = {} } = state.reply;
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    received,
    answer(reply: Reply) {
      state.reply = reply;
    },
    last(): Received {
      const request = received.at(-1);
      if (request === undefined) throw new Error('the fake forge received no request');
      return request;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** A loopback address nothing listens on: a server is bound, then closed. */
async function refusedOrigin(): Promise<string> {
  const forge = await startFakeForge();
  await forge.close();
  return forge.origin;
}

async function commitStatusError(promise: Promise<unknown>): Promise<CommitStatusError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (error instanceof CommitStatusError) return error;
  throw new Error(`expected a CommitStatusError, got ${String(error)}`);
}

function thrownError(fn: () => unknown): CommitStatusError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CommitStatusError) return error;
    throw error;
  }
  throw new Error('expected a CommitStatusError, nothing was thrown');
}

const status = (state: CommitState): CommitStatus => ({
  state,
  context: 'kiln/build',
  description: `Run #7 ${state}`,
  targetUrl: 'https://kiln.example.com/runs/7',
});

interface ForgeCase {
  forge: Forge;
  /** The API root's path on the fake forge. */
  root: string;
  fullName: string;
  path: string;
  headers: Record<string, string>;
  states: Record<CommitState, string>;
  body: (state: string, status: CommitStatus) => Record<string, unknown>;
  /** An error body in the forge's own shape, carrying `message`. */
  errorBody: (message: string) => string;
}

const githubLike = (state: string, s: CommitStatus) => ({
  state,
  target_url: s.targetUrl,
  description: s.description,
  context: s.context,
});

const giteaCase = (forge: 'gitea' | 'forgejo'): ForgeCase => ({
  forge,
  root: '/api/v1',
  fullName: 'kiln org/hello.world',
  path: `/api/v1/repos/kiln%20org/hello.world/statuses/${SHA}`,
  headers: { authorization: `token ${TOKEN}` },
  states: {
    pending: 'pending',
    running: 'pending',
    success: 'success',
    failure: 'failure',
    error: 'error',
    canceled: 'error',
  },
  body: githubLike,
  errorBody: (message) => JSON.stringify({ message, url: 'https://gitea.example.com/api/swagger' }),
});

const FORGES: ForgeCase[] = [
  {
    forge: 'github',
    root: '',
    fullName: 'octo-org/hello world',
    path: `/repos/octo-org/hello%20world/statuses/${SHA}`,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
    },
    states: {
      pending: 'pending',
      running: 'pending',
      success: 'success',
      failure: 'failure',
      error: 'error',
      canceled: 'error',
    },
    body: githubLike,
    errorBody: (message) =>
      JSON.stringify({ message, documentation_url: 'https://docs.github.com/rest' }),
  },
  {
    forge: 'gitlab',
    root: '/api/v4',
    fullName: 'group/sub group/project',
    path: `/api/v4/projects/group%2Fsub%20group%2Fproject/statuses/${SHA}`,
    headers: { 'private-token': TOKEN, accept: 'application/json' },
    states: {
      pending: 'pending',
      running: 'running',
      success: 'success',
      failure: 'failed',
      error: 'failed',
      canceled: 'canceled',
    },
    body: (state, s) => ({
      state,
      name: s.context,
      target_url: s.targetUrl,
      description: s.description,
    }),
    errorBody: (message) => JSON.stringify({ message }),
  },
  giteaCase('gitea'),
  giteaCase('forgejo'),
  {
    forge: 'bitbucket',
    root: '/2.0',
    fullName: 'my-workspace/my-repo',
    path: `/2.0/repositories/my-workspace/my-repo/commit/${SHA}/statuses/build`,
    headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' },
    states: {
      pending: 'INPROGRESS',
      running: 'INPROGRESS',
      success: 'SUCCESSFUL',
      failure: 'FAILED',
      error: 'FAILED',
      canceled: 'STOPPED',
    },
    body: (state, s) => ({
      key: s.context,
      state,
      name: s.context,
      url: s.targetUrl,
      description: s.description,
    }),
    errorBody: (message) => JSON.stringify({ type: 'error', error: { message } }),
  },
];

describe(sendCommitStatus.name, () => {
  let fake: Awaited<ReturnType<typeof startFakeForge>>;

  beforeAll(async () => {
    fake = await startFakeForge();
  });

  afterAll(async () => {
    await fake.close();
  });

  beforeEach(() => {
    fake.answer({ status: 201, body: '{"id":1}' });
  });

  describe.each(FORGES)('$forge', (forgeCase) => {
    const target = (): CommitStatusTarget => ({
      forge: forgeCase.forge,
      apiUrl: `${fake.origin}${forgeCase.root}`,
      fullName: forgeCase.fullName,
      sha: SHA,
      token: TOKEN,
    });

    it.each(STATES)(
      'posts %s as the forge state to the commit statuses endpoint',
      async (state) => {
        await sendCommitStatus(target(), status(state));

        const request = fake.last();
        expect(request.method).toBe('POST');
        expect(request.url).toBe(forgeCase.path);
        expect(request.headers).toMatchObject({
          ...forgeCase.headers,
          'content-type': 'application/json',
          'user-agent': 'kiln',
        });
        expect(request.body).toEqual(forgeCase.body(forgeCase.states[state], status(state)));
      },
    );

    it('sends no credentials when the target has no token', async () => {
      await sendCommitStatus({ ...target(), token: undefined }, status('success'));

      const { headers } = fake.last();
      expect(headers.authorization).toBeUndefined();
      expect(headers['private-token']).toBeUndefined();
    });

    it('accepts an API URL with a trailing slash', async () => {
      await sendCommitStatus({ ...target(), apiUrl: `${target().apiUrl}/` }, status('success'));

      expect(fake.last().url).toBe(forgeCase.path);
    });

    it.each([500, 502, 429])('throws a retryable error when the forge answers %i', async (code) => {
      fake.answer({ status: code, body: forgeCase.errorBody('try again later') });

      const error = await commitStatusError(sendCommitStatus(target(), status('success')));
      expect(error.retryable).toBe(true);
      expect(error.status).toBe(code);
      expect(error.message).toContain('try again later');
    });

    it.each([
      [401, 'Bad credentials'],
      [422, 'state is not valid'],
    ])(
      'throws a non-retryable error naming forge, path and answer on %i',
      async (code, message) => {
        fake.answer({ status: code, body: forgeCase.errorBody(message) });

        const error = await commitStatusError(sendCommitStatus(target(), status('success')));
        expect(error.retryable).toBe(false);
        expect(error.status).toBe(code);
        expect(error.message).toBe(
          `${forgeCase.forge} POST ${forgeCase.path} answered ${code}: ${message}`,
        );
        expect(error.message).not.toContain(TOKEN);
      },
    );

    it('throws a retryable error without a status when the connection is refused', async () => {
      const origin = await refusedOrigin();

      const error = await commitStatusError(
        sendCommitStatus({ ...target(), apiUrl: `${origin}${forgeCase.root}` }, status('success')),
      );
      expect(error.retryable).toBe(true);
      expect(error.status).toBeUndefined();
      expect(error.message).toContain(`${forgeCase.forge} POST ${forgeCase.path} failed`);
      expect(error.message).toContain('ECONNREFUSED');
    });
  });

  describe('forge answers', () => {
    const github: CommitStatusTarget = {
      forge: 'github',
      apiUrl: '',
      fullName: 'octo-org/hello',
      sha: SHA,
      token: TOKEN,
    };
    const target = (): CommitStatusTarget => ({ ...github, apiUrl: fake.origin });

    it("includes GitHub's validation errors, not just 'Validation Failed'", async () => {
      fake.answer({
        status: 422,
        body: JSON.stringify({
          message: 'Validation Failed',
          errors: [{ resource: 'Status', code: 'custom', message: 'state is not included' }],
        }),
      });

      const error = await commitStatusError(sendCommitStatus(target(), status('success')));
      expect(error.message).toContain('answered 422: Validation Failed (state is not included)');
    });

    it('quotes a non-JSON answer on one line, trimmed', async () => {
      const page = `<html>\n<body>${'Bad Gateway '.repeat(100)}</body>\n</html>`;
      fake.answer({ status: 502, body: page, headers: { 'content-type': 'text/html' } });

      const error = await commitStatusError(sendCommitStatus(target(), status('success')));
      const answer = error.message.slice(error.message.indexOf('answered 502: ') + 14);
      expect(answer.startsWith('<html> <body>Bad Gateway')).toBe(true);
      expect(answer).not.toContain('\n');
      expect(Array.from(answer).length).toBe(300);
      expect(answer.endsWith('…')).toBe(true);
    });

    it('treats a rate-limited 403 as retryable and any other 403 as not', async () => {
      fake.answer({
        status: 403,
        body: JSON.stringify({ message: 'API rate limit exceeded' }),
        headers: { 'x-ratelimit-remaining': '0' },
      });
      expect(
        (await commitStatusError(sendCommitStatus(target(), status('success')))).retryable,
      ).toBe(true);

      fake.answer({ status: 403, body: JSON.stringify({ message: 'Resource not accessible' }) });
      expect(
        (await commitStatusError(sendCommitStatus(target(), status('success')))).retryable,
      ).toBe(false);
    });

    it('is not retryable when the caller aborts, retryable when its timeout fired', async () => {
      const aborted = await commitStatusError(
        sendCommitStatus(target(), status('success'), { signal: AbortSignal.abort() }),
      );
      expect(aborted.retryable).toBe(false);
      expect(aborted.message).toContain('was aborted');

      const timeout = new DOMException('The operation timed out.', 'TimeoutError');
      const timedOut = await commitStatusError(
        sendCommitStatus(target(), status('success'), { signal: AbortSignal.abort(timeout) }),
      );
      expect(timedOut.retryable).toBe(true);
      expect(timedOut.message).toContain('timed out');
    });

    it('sends through the fetch it is given', async () => {
      const urls: string[] = [];
      const recording: typeof fetch = (input, init) => {
        urls.push(input instanceof Request ? input.url : input.toString());
        return fetch(input, init);
      };

      await sendCommitStatus(target(), status('success'), { fetch: recording });

      expect(urls).toEqual([`${fake.origin}/repos/octo-org/hello/statuses/${SHA}`]);
    });
  });
});

describe(commitStatusRequest.name, () => {
  const target = (
    forge: Forge,
    overrides: Partial<CommitStatusTarget> = {},
  ): CommitStatusTarget => ({
    forge,
    apiUrl: 'https://forge.example.com/api',
    fullName: 'owner/name',
    sha: SHA,
    ...overrides,
  });

  it('truncates GitHub descriptions to 140 characters ending in …', () => {
    const description = `${'a'.repeat(138)}😀😀😀`;

    const { body } = commitStatusRequest(target('github'), {
      ...status('success'),
      description,
    });

    const sent = Array.from(String(body.description));
    expect(sent).toHaveLength(140);
    expect(sent.join('')).toBe(`${'a'.repeat(138)}😀…`);
  });

  it('keeps a 140-character GitHub description whole', () => {
    const description = 'd'.repeat(140);

    const { body } = commitStatusRequest(target('github'), { ...status('success'), description });

    expect(body.description).toBe(description);
  });

  it('shortens Bitbucket keys over 40 characters stably, keeping long contexts apart', () => {
    const long = (suffix: string): CommitStatus => ({
      ...status('success'),
      context: `kiln/pipelines/deploy-to-production/${suffix}`,
    });
    const key = (s: CommitStatus) => String(commitStatusRequest(target('bitbucket'), s).body.key);

    expect(key(long('linux-amd64'))).toHaveLength(40);
    expect(key(long('linux-amd64'))).toBe(key(long('linux-amd64')));
    expect(key(long('linux-amd64'))).not.toBe(key(long('linux-arm64')));
    expect(key(long('linux-amd64')).startsWith('kiln/pipelines/deploy-to-pro')).toBe(true);
    expect(commitStatusRequest(target('bitbucket'), long('linux-amd64')).body.name).toBe(
      long('linux-amd64').context,
    );
    expect(key({ ...status('success'), context: 'k'.repeat(40) })).toBe('k'.repeat(40));
  });

  it('accepts a 64-character SHA-256 commit and lower-cases the hash', () => {
    const sha256 = 'AB'.repeat(32);

    const { url } = commitStatusRequest(target('gitea', { sha: sha256 }), status('success'));

    expect(url).toBe(`https://forge.example.com/api/repos/owner/name/statuses/${'ab'.repeat(32)}`);
  });

  it.each(['9fceb02', `${SHA}0`, 'g'.repeat(40), '', `${SHA.slice(0, 39)}/`])(
    'refuses commit %j, which is not a full hash',
    (sha) => {
      const error = thrownError(() =>
        commitStatusRequest(target('github', { sha }), status('success')),
      );
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('is not a full hash');
    },
  );

  it.each<[Forge, string]>([
    ['github', 'owner'],
    ['github', 'group/sub/name'],
    ['gitea', 'owner/'],
    ['bitbucket', '/name'],
    ['github', '../name'],
    ['forgejo', 'owner/..'],
    ['gitlab', 'name'],
    ['gitlab', 'group/./name'],
    ['gitlab', 'group//name'],
  ])('refuses %s repository %j', (forge, fullName) => {
    const error = thrownError(() =>
      commitStatusRequest(target(forge, { fullName }), status('success')),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('is not of the form');
  });

  it('encodes reserved characters in owner and name as single path segments', () => {
    const { url } = commitStatusRequest(
      target('github', { fullName: 'own?er/na#me%2e' }),
      status('success'),
    );

    expect(url).toBe(`https://forge.example.com/api/repos/own%3Fer/na%23me%252e/statuses/${SHA}`);
  });

  it.each([
    'ftp://forge.example.com',
    'not a url',
    'https://user:pw@forge.example.com',
    'https://forge.example.com/api?x=1',
  ])('refuses API URL %j', (apiUrl) => {
    expect(() => commitStatusRequest(target('gitlab', { apiUrl }), status('success'))).toThrow(
      CommitStatusError,
    );
  });

  it('refuses an unknown forge', () => {
    const error = thrownError(() =>
      commitStatusRequest(target('sourcehut' as Forge), status('success')),
    );
    expect(error.message).toContain('unknown forge "sourcehut"');
  });
});

describe(defaultApiUrl.name, () => {
  it.each<[Forge, string, string]>([
    ['github', 'https://github.com/octo-org/hello.git', 'https://api.github.com'],
    ['github', 'git@github.com:octo-org/hello.git', 'https://api.github.com'],
    ['github', 'https://ghe.example.com/org/repo.git', 'https://ghe.example.com/api/v3'],
    ['github', 'git@ghe.example.com:org/repo.git', 'https://ghe.example.com/api/v3'],
    [
      'gitlab',
      'https://gitlab.example.com/group/sub/project.git',
      'https://gitlab.example.com/api/v4',
    ],
    ['gitlab', 'http://gitlab.local:8080/group/project.git', 'http://gitlab.local:8080/api/v4'],
    [
      'gitlab',
      'ssh://git@gitlab.example.com:2222/group/project.git',
      'https://gitlab.example.com/api/v4',
    ],
    ['gitlab', 'https://oauth2:secret@gitlab.com/group/project.git', 'https://gitlab.com/api/v4'],
    ['gitea', 'https://gitea.example.com/owner/repo.git', 'https://gitea.example.com/api/v1'],
    ['gitea', 'git@gitea.example.com:owner/repo.git', 'https://gitea.example.com/api/v1'],
    ['forgejo', 'https://codeberg.org/owner/repo.git', 'https://codeberg.org/api/v1'],
    ['forgejo', 'http://127.0.0.1:3000/owner/repo.git', 'http://127.0.0.1:3000/api/v1'],
    ['bitbucket', 'https://user@bitbucket.org/workspace/repo.git', 'https://api.bitbucket.org/2.0'],
    ['bitbucket', 'git@bitbucket.org:workspace/repo.git', 'https://api.bitbucket.org/2.0'],
  ])('%s clone URL %s → %s', (forge, cloneUrl, expected) => {
    expect(defaultApiUrl(forge, cloneUrl)).toBe(expected);
  });

  it.each(['', 'owner/repo', 'file:///srv/git/repo.git', 'ftp://host/repo.git'])(
    'refuses clone URL %j',
    (cloneUrl) => {
      expect(() => defaultApiUrl('gitea', cloneUrl)).toThrow(CommitStatusError);
    },
  );
});
