import { EphemeralRedis, freePort } from '@kiln/queue/testing';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitDaemon } from './support/git-daemon';
import type { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { CLUSTER_TOKEN, PipelineStack, type RunView } from './support/pipeline-stack';

const RUNS = 12;
/** The master's agent timeout here: the agent stays away once for longer than this. */
const AGENT_TIMEOUT_MS = 3_000;

/**
 * A bounded chaos run (issue 13): a dozen runs in flight while every process Kiln has is killed
 * with SIGKILL and started again (the agent once within and once beyond the agent timeout, the
 * server, the master) and a Redis with an append-only file is killed and restarted under them.
 * What must hold: every run ends; each job attempt's side effect (a marker file the step writes
 * on the host, through the `process` containerizer) happens exactly once; every job whose step
 * ran to its end is recorded as a success of attempt 1; and no launch waited for reconciliation.
 */
describe('Kiln under kill -9 of every process', () => {
  let stack: PipelineStack;
  let git: GitDaemon;
  let redis: EphemeralRedis;
  const redisDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-chaos-redis-'));
  const markers = mkdtempSync(join(tmpdir(), 'kiln-e2e-chaos-markers-'));

  beforeAll(async () => {
    git = await GitDaemon.start(await freePort());
    redis = await EphemeralRedis.start({ appendOnlyDir: redisDir });
    stack = await PipelineStack.start({
      redis,
      masterEnv: { KILN_MASTER_AGENT_TIMEOUT_MS: String(AGENT_TIMEOUT_MS) },
      agentEnv: { KILN_AGENT_CONTAINERIZERS: 'process' },
    });
  });

  afterAll(async () => {
    await Promise.allSettled([stack?.dispose(), git?.stop()]);
    rmSync(redisDir, { recursive: true, force: true });
    rmSync(markers, { recursive: true, force: true });
  });

  async function kill(process: KilnProcess): Promise<void> {
    process.signal('SIGKILL');
    await process.exitCode();
  }

  async function agentState(): Promise<string | undefined> {
    const res = await fetch(`${stack.masterUrl}/api/v1/state`, {
      headers: { authorization: `Bearer ${CLUSTER_TOKEN}` },
    });
    const state = (await res.json()) as { agents: { state: string }[] };
    return state.agents[0]?.state;
  }

  /** Waits, polling the runs, until at least `count` jobs have had a task. */
  async function untilJobsStarted(ids: string[], count: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const runs = await Promise.all(ids.map((id) => stack.run(id)));
      const started = runs.flatMap((run) => run.jobs).filter((job) => job.taskId !== undefined);
      if (started.length >= count) return;
      if (Date.now() > deadline) throw new Error(`${started.length} of ${count} jobs started`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('ends every run, runs each job attempt once, and records what ran', async () => {
    printProcessesOnFailure();
    const commit = git.createRepository('chaos');
    commit({
      '.kiln.yml': `
jobs:
  build:
    resources: { cpus: 1, mem: 64 }
    steps:
      - run: sleep 4; echo "$KILN_JOB_ATTEMPT" >> "${markers}/$KILN_JOB_ID"
  test:
    needs: build
    resources: { cpus: 1, mem: 64 }
    steps:
      - run: sleep 4; echo "$KILN_JOB_ATTEMPT" >> "${markers}/$KILN_JOB_ID"
`,
    });
    const repo = await stack.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/chaos',
      cloneUrl: git.url('chaos'),
    });
    const ids: string[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const run = await stack.ok<{ id: string }>('POST', `/api/v1/repositories/${repo.id}/runs`, {
        branch: 'main',
      });
      ids.push(run.id);
    }

    // The agent, killed and back within the agent timeout.
    await untilJobsStarted(ids, 2);
    await kill(stack.agent);
    await stack.startAgent();

    // The server, then the master, then Redis.
    await untilJobsStarted(ids, 5);
    await kill(stack.server);
    await stack.startServer();
    await untilJobsStarted(ids, 8);
    await kill(stack.master);
    await stack.startMaster();
    await untilJobsStarted(ids, 11);
    await redis.stop();
    await redis.start();

    // The agent again, away until the master has declared it unreachable.
    await untilJobsStarted(ids, 14);
    await kill(stack.agent);
    const deadline = Date.now() + 30_000;
    while ((await agentState()) !== 'UNREACHABLE') {
      if (Date.now() > deadline) throw new Error('the master never marked the agent unreachable');
      await new Promise((r) => setTimeout(r, 100));
    }
    await stack.startAgent();

    const ended: RunView[] = [];
    for (const id of ids) ended.push(await stack.waitForRun(id, undefined, 180_000));

    const written = new Map(
      readdirSync(markers).map((jobId) => [
        jobId,
        readFileSync(join(markers, jobId), 'utf8').trim().split('\n'),
      ]),
    );
    for (const run of ended) {
      expect(run.state, JSON.stringify(run)).toBe('success');
      for (const job of run.jobs) {
        expect([job.key, job.state, job.attempt]).toEqual([job.key, 'success', 1]);
        // Attempt 1 wrote its marker, once; no other attempt ever ran.
        expect(written.get(job.id), `markers of ${job.id}`).toEqual(['1']);
      }
    }
    const servers = stack.processes.filter((p) => p.app === 'server');
    for (const server of servers) {
      expect(server.output).not.toMatch(/still unreconciled after/);
    }
  }, 300_000);
});
