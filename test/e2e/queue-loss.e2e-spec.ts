import { EphemeralRedis, freePort } from '@kiln/queue/testing';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { PipelineStack } from './support/pipeline-stack';

/**
 * The database says what is due; Redis only carries it. A server killed while the build queue
 * could not take a job (Redis down), or a Redis that lost its data, must not leave a job the
 * database holds as queued waiting for good: the next server queues again what the database says
 * is due (found by a tester: such runs stayed `running` for ever, their jobs never ran).
 */
describe('a build queue that lost what the database holds as due', () => {
  let git: GitDaemon;
  let stack: PipelineStack | undefined;
  const markers = mkdtempSync(join(tmpdir(), 'kiln-e2e-queue-loss-'));
  /** A step that says on the host that it ran: once per job attempt. */
  const mark = (tag: string) => `echo "${tag} $KILN_JOB_ID" >> ${markers}/ran`;
  const ran = (): string[] =>
    existsSync(join(markers, 'ran'))
      ? readFileSync(join(markers, 'ran'), 'utf8').trim().split('\n')
      : [];

  beforeAll(async () => {
    git = await GitDaemon.start(await freePort());
  });
  afterEach(async () => {
    await stack?.dispose();
    stack = undefined;
    rmSync(join(markers, 'ran'), { force: true });
  });
  afterAll(async () => {
    await git.stop();
    rmSync(markers, { recursive: true, force: true });
  });

  async function repository(
    name: string,
    kilnYml: string,
    options: Parameters<typeof PipelineStack.start>[0],
  ): Promise<{ stack: PipelineStack; repositoryId: string }> {
    stack = await PipelineStack.start(options);
    git.createRepository(name)({ '.kiln.yml': kilnYml });
    const repo = await stack.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: `acme/${name}`,
      cloneUrl: git.url(name),
    });
    return { stack, repositoryId: repo.id };
  }

  async function restartServer(s: PipelineStack): Promise<void> {
    s.server.signal('SIGKILL');
    await s.server.exitCode();
  }

  it('runs a job queued while Redis was down once the server that queued it was killed', async () => {
    printProcessesOnFailure();
    const redis = await EphemeralRedis.start({
      appendOnlyDir: mkdtempSync(join(tmpdir(), 'kiln-e2e-queue-loss-redis-')),
    });
    const { stack: s, repositoryId } = await repository(
      'queued-while-down',
      `jobs:\n  a:\n    steps:\n      - run: sleep 2; ${mark('a')}\n  b:\n    needs: a\n    steps:\n      - run: ${mark('b')}\n`,
      { redis, agentEnv: { KILN_AGENT_CONTAINERIZERS: 'process' } },
    );
    const run = await s.ok<{ id: string }>('POST', `/api/v1/repositories/${repositoryId}/runs`, {
      branch: 'main',
    });
    await s.waitForRun(run.id, (r) => r.jobs.find((j) => j.key === 'a')?.state === 'running');
    await redis.stop();
    // a ends, and b is queued in the database, while its build cannot reach Redis.
    await s.waitForRun(run.id, (r) => r.jobs.find((j) => j.key === 'b')?.state === 'queued');
    await restartServer(s);
    await redis.start();
    await s.startServer();

    const ended = await s.waitForRun(run.id, undefined, 40_000);
    expect(ended.state).toBe('success');
    expect(
      ran()
        .map((line) => line.split(' ')[0])
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('runs a queued job waiting for room once Redis lost its data and the server was killed', async () => {
    printProcessesOnFailure();
    const { stack: s, repositoryId } = await repository(
      'lost-with-redis',
      `jobs:\n  only:\n    resources: { cpus: 1, mem: 64 }\n    steps:\n      - run: sleep 2; ${mark('only')}\n`,
      {
        agentEnv: {
          KILN_AGENT_CONTAINERIZERS: 'process',
          KILN_AGENT_RESOURCES: 'cpus:1;mem:4096;disk:4096',
        },
      },
    );
    const start = () =>
      s.ok<{ id: string }>('POST', `/api/v1/repositories/${repositoryId}/runs`, {
        branch: 'main',
      });
    const first = await start();
    const second = await start();
    await s.waitForRun(first.id, (r) => r.jobs[0]?.state === 'running');
    await s.waitForRun(second.id, (r) => r.jobs[0]?.state === 'queued');
    await restartServer(s);
    // This Redis keeps nothing across a restart.
    await s.redis.stop();
    await s.redis.start();
    await s.startServer();

    for (const id of [first.id, second.id]) {
      expect((await s.waitForRun(id, undefined, 40_000)).state).toBe('success');
    }
    expect(ran()).toHaveLength(2);
  });
});
