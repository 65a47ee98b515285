import { RunsRepository } from '@kiln/persistence';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../e2e/support/api-client';
import { User } from '../e2e/support/user';
import { firstJobOf } from './support/runs';
import { startServerApp, type ServerApp } from './support/server-app';
import { createUpstream } from './support/upstream';

/** An answer to a call that must not hang: a server that waits for Redis fails the test. */
interface Answer {
  status: number;
  body: Record<string, unknown>;
  replayed: string | null;
}

/**
 * Creating runs (and promotions) while Redis is away, and retries with an `Idempotency-Key`:
 * a client that gave up and retries must never end up with two runs.
 */
describe('run creation: Redis outages and idempotency keys', () => {
  let server: ServerApp;
  let admin: ApiClient;
  const token = 'run-creation-admin-token-0123456789';
  let repositoryId: string;
  let sha: string;

  async function post(path: string, body: unknown, key?: string, as = token): Promise<Answer> {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${as}`,
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      replayed: res.headers.get('idempotent-replayed'),
    };
  }

  async function runNumbers(): Promise<number[]> {
    const { runs } = await admin.ok<{ runs: { number: number }[] }>(
      'GET',
      `/api/v1/repositories/${repositoryId}/runs`,
    );
    return runs.map((run) => run.number);
  }

  async function redisIs(up: boolean): Promise<void> {
    await vi.waitFor(
      async () => {
        const res = await fetch(`${server.url}/readyz`);
        const body = (await res.json()) as { checks: { redis: { up: boolean } } };
        expect(body.checks.redis.up).toBe(up);
      },
      { timeout: 20_000, interval: 100 },
    );
  }

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: token } });
    admin = new ApiClient(server.url, token);
    const upstream = createUpstream(join(server.dir, 'upstream'), {
      '.kiln.yml': 'jobs:\n  build:\n    steps:\n      - run: echo build\n',
    });
    sha = upstream.sha;
    repositoryId = (
      await admin.ok<{ id: string }>('POST', '/api/v1/repositories', {
        forge: 'github',
        fullName: 'acme/retry',
        cloneUrl: upstream.url,
      })
    ).id;
  }, 60_000);

  afterAll(() => server?.close());

  it('answers 503 at once while Redis is down, and the run never appears later', async () => {
    const before = await runNumbers();
    await server.redis.stop();
    try {
      await redisIs(false);
      const refused = await post(`/api/v1/repositories/${repositoryId}/runs`, { sha }, 'try-1');
      expect(refused.status).toBe(503);
      expect(refused.body.message).toMatch(/Redis\) is unavailable: no run was created/);
    } finally {
      await server.redis.start();
    }
    await redisIs(true);
    // Redis is back and nothing was waiting for it: still no new run.
    expect(await runNumbers()).toEqual(before);

    // The client's retry, with the same key: the refusal was not kept, so this creates the run.
    const created = await post(`/api/v1/repositories/${repositoryId}/runs`, { sha }, 'try-1');
    expect(created.status).toBe(202);
    expect(await runNumbers()).toEqual([created.body.number, ...before]);
  });

  it('answers 503 at once while Redis hangs, and the run never appears later', async () => {
    const before = await runNumbers();
    server.redis.pause();
    try {
      const refused = await post(`/api/v1/repositories/${repositoryId}/runs`, { sha });
      expect(refused.status).toBe(503);
    } finally {
      server.redis.resume();
    }
    await redisIs(true);
    expect(await runNumbers()).toEqual(before);
  });

  it('answers a retry with the same key with the first answer, and creates nothing', async () => {
    const path = `/api/v1/repositories/${repositoryId}/runs`;
    const before = await runNumbers();
    const first = await post(path, { sha, branch: 'main' }, 'create-once');
    // The same body with its keys in another order is the same request.
    const again = await post(path, { branch: 'main', sha }, 'create-once');
    expect(first).toMatchObject({ status: 202, replayed: null });
    expect(again).toEqual({ status: 202, body: first.body, replayed: 'true' });
    expect(await runNumbers()).toEqual([first.body.number, ...before]);

    const other = await post(path, { sha, branch: 'other' }, 'create-once');
    expect(other.status).toBe(422);
    expect(other.body.message).toMatch(/create-once was used for another request/);
    const bad = await post(path, { sha }, 'not a valid key');
    expect(bad.status).toBe(400);

    // Keys are the caller's own: another user's same key is another request.
    const developer = await User.create(admin, 'dev-retry');
    await admin.ok('PUT', `/api/v1/repositories/${repositoryId}/members/${developer.id}`, {
      role: 'developer',
    });
    const theirs = await post(path, { sha, branch: 'main' }, 'create-once', developer.token);
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(first.body.id);
  });

  it('reruns once per key', async () => {
    const source = await post(`/api/v1/repositories/${repositoryId}/runs`, { sha });
    const path = `/api/v1/runs/${String(source.body.id)}/rerun`;
    const first = await post(path, {}, 'rerun-once');
    const again = await post(path, {}, 'rerun-once');
    expect(first.status).toBe(202);
    expect(again).toEqual({ status: 202, body: first.body, replayed: 'true' });
    const reruns = (
      await admin.ok<{ runs: { rerunOf?: string }[] }>(
        'GET',
        `/api/v1/repositories/${repositoryId}/runs`,
      )
    ).runs.filter((run) => run.rerunOf === source.body.id);
    expect(reruns).toHaveLength(1);

    // The failed (here: canceled) jobs again, in the same run: once.
    await firstJobOf(admin, String(source.body.id));
    await admin.ok('POST', `/api/v1/runs/${String(source.body.id)}/cancel`);
    const failedPath = `/api/v1/runs/${String(source.body.id)}/rerun-failed`;
    const once = await post(failedPath, {}, 'rerun-failed-once');
    const twice = await post(failedPath, {}, 'rerun-failed-once');
    expect(once.status).toBe(202);
    expect(twice).toEqual({ status: 202, body: once.body, replayed: 'true' });
    const { jobs } = await admin.ok<{ jobs: { attempt: number }[] }>(
      'GET',
      `/api/v1/runs/${String(source.body.id)}`,
    );
    expect(jobs.map((job) => job.attempt)).toEqual([2]);
  });

  it('promotes once per key', async () => {
    await admin.ok('PUT', `/api/v1/repositories/${repositoryId}/environments/staging`, {});
    const runs = server.app.get(RunsRepository);
    const created = await runs.create({
      repositoryId,
      event: 'push',
      ref: 'refs/heads/main',
      branch: 'main',
      sha,
      fromFork: false,
    });
    if (!('run' in created)) throw new Error('no run');
    await runs.start(created.run.id, []);
    await runs.transition(created.run.id, ['running'], 'success');

    const path = `/api/v1/runs/${created.run.id}/promotions`;
    const first = await post(path, { environment: 'staging' }, 'promote-once');
    const again = await post(path, { environment: 'staging' }, 'promote-once');
    expect(first.status).toBe(201);
    expect(again).toEqual({ status: 201, body: first.body, replayed: 'true' });
    const history = await admin.ok<unknown[]>(
      'GET',
      `/api/v1/repositories/${repositoryId}/environments/staging/deployments`,
    );
    expect(history).toHaveLength(1);
  });
});
