import { EphemeralRedis, freePort } from '@kiln/queue/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { githubPush, webhookHeaders } from './support/forge';
import { GitDaemon } from './support/git-daemon';
import { killProcessesUnder, removeAgentLeftovers } from './support/kiln-process';

const ROOT = resolve(__dirname, '../..');

/**
 * The README's start command (`scripts/start.sh`, what `npm start` runs after building) brings up
 * a Kiln that takes a forge's webhook all the way to a finished run with its log.
 */
describe('npm start', () => {
  let redis: EphemeralRedis;
  let git: GitDaemon;
  let kiln: ChildProcess | undefined;
  let output = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-start-'));

  beforeAll(async () => {
    redis = await EphemeralRedis.start();
    git = await GitDaemon.start(await freePort());
  });

  afterAll(async () => {
    if (kiln?.exitCode === null && kiln.pid !== undefined) {
      process.kill(-kiln.pid, 'SIGKILL');
      await once(kiln, 'exit');
    }
    killProcessesUnder(dataDir);
    removeAgentLeftovers(join(dataDir, 'agent'));
    rmSync(dataDir, { recursive: true, force: true });
    await Promise.all([redis?.stop(), git?.stop()]);
  });

  async function waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = output.match(pattern);
      if (match) return match;
      if (Date.now() > deadline)
        throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('runs a webhook-triggered pipeline end to end, then stops cleanly on Ctrl-C', async () => {
    kiln = spawn('bash', ['scripts/start.sh'], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH,
        KILN_DATA_DIR: dataDir,
        KILN_PORT: String(await freePort()),
        KILN_MASTER_PORT: String(await freePort()),
        REDIS_URL: redis.url,
        KILN_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    kiln.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    kiln.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const [, url] = await waitFor(/Kiln is up: open (\S+)/);
    const [, token] = await waitFor(/API token: (\S+)/);
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      const type = res.headers.get('content-type') ?? '';
      return (type.includes('json') ? await res.json() : await res.text()) as T;
    };

    const commit = git.createRepository('hello');
    const sha = commit({
      '.kiln.yml': 'jobs:\n  hello:\n    steps:\n      - run: echo "hello from $KILN_COMMIT_SHA"\n',
    });
    const repo = await api<{ id: string; webhookSecret: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/hello',
      cloneUrl: git.url('hello'),
    });
    const raw = Buffer.from(JSON.stringify(githubPush('acme/hello', sha)));
    const hook = await fetch(`${url}/hooks/github`, {
      method: 'POST',
      headers: webhookHeaders('github', 'push', raw, repo.webhookSecret),
      body: raw,
    });
    expect(hook.status).toBe(202);
    const { runId } = (await hook.json()) as { runId: string };

    let run: { state: string; jobs: { id: string }[] };
    const deadline = Date.now() + 60_000;
    do {
      await new Promise((r) => setTimeout(r, 200));
      run = await api('GET', `/api/v1/runs/${runId}`);
    } while (
      !['success', 'failure', 'error', 'canceled'].includes(run.state) &&
      Date.now() < deadline
    );
    expect(run.state, output).toBe('success');
    expect(await api<string>('GET', `/api/v1/jobs/${run.jobs[0]!.id}/log`)).toContain(
      `hello from ${sha}`,
    );

    process.kill(-kiln.pid!, 'SIGINT');
    const [code] = (await once(kiln, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('starts a Redis of its own, its data in the data directory, when none answers', async () => {
    const ownDataDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-start-redis-'));
    const redisPort = await freePort();
    const pidFile = join(ownDataDir, 'redis', 'redis.pid');
    let own: ChildProcess | undefined;
    let ownOutput = '';
    try {
      own = spawn('bash', ['scripts/start.sh'], {
        cwd: ROOT,
        detached: true,
        env: {
          PATH: process.env.PATH,
          KILN_DATA_DIR: ownDataDir,
          KILN_PORT: String(await freePort()),
          KILN_MASTER_PORT: String(await freePort()),
          REDIS_URL: `redis://127.0.0.1:${redisPort}`,
          KILN_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      own.stdout?.on('data', (chunk: Buffer) => (ownOutput += chunk.toString('utf8')));
      own.stderr?.on('data', (chunk: Buffer) => (ownOutput += chunk.toString('utf8')));
      await vi.waitFor(() => expect(ownOutput).toMatch(/Kiln is up: open (\S+)/), {
        timeout: 60_000,
        interval: 50,
      });
      expect(ownOutput).toContain(`starting redis-server on 127.0.0.1:${redisPort}`);
      const url = /Kiln is up: open (\S+)/.exec(ownOutput)![1]!;
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status, await ready.text()).toBe(200);
      expect(existsSync(join(ownDataDir, 'redis', 'appendonlydir'))).toBe(true);
      process.kill(-own.pid!, 'SIGINT');
      const [code] = (await once(own, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (own?.exitCode === null && own.pid !== undefined) {
        process.kill(-own.pid, 'SIGKILL');
        await once(own, 'exit');
      }
      if (existsSync(pidFile)) {
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
        } catch {
          // It had stopped already.
        }
      }
      killProcessesUnder(ownDataDir);
      removeAgentLeftovers(join(ownDataDir, 'agent'));
      rmSync(ownDataDir, { recursive: true, force: true });
    }
  });
});
