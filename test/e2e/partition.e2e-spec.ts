import { freePort } from '@kiln/queue/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { CLUSTER_TOKEN, PipelineStack, type JobView } from './support/pipeline-stack';

/** Small enough for a test, large enough that a healthy agent on a busy machine keeps up. */
const AGENT_TIMEOUT_MS = 2_000;
const MASTER_ENV = {
  KILN_MASTER_AGENT_TIMEOUT_MS: String(AGENT_TIMEOUT_MS),
  KILN_MASTER_AGENT_HEARTBEAT_MS: '250',
};

interface AttemptView {
  attempt: number;
  taskId?: string;
  state: string;
  reason?: string;
  statusMessage?: string;
}

type JobWithAttempts = JobView & { attempts: AttemptView[] };

/**
 * Partitions, the way Mesos' partition-aware frameworks take them: an agent away longer than
 * the agent timeout makes its tasks UNREACHABLE, which ends nothing; only past the partition
 * timeout is a task given up, and a given-up task that comes back is killed.
 */
describe('partitions: an agent away past the agent timeout', () => {
  beforeEach(printProcessesOnFailure);
  let git: GitDaemon;

  beforeAll(async () => {
    git = await GitDaemon.start(await freePort());
  });

  afterAll(async () => {
    await git?.stop();
  });

  async function startRun(stack: PipelineStack, name: string, pipeline: string): Promise<string> {
    git.createRepository(name)({ '.kiln.yml': pipeline });
    const repo = await stack.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: `acme/${name}`,
      cloneUrl: git.url(name),
    });
    const run = await stack.ok<{ id: string }>('POST', `/api/v1/repositories/${repo.id}/runs`, {
      branch: 'main',
    });
    return run.id;
  }

  async function jobOf(stack: PipelineStack, runId: string, key: string): Promise<JobWithAttempts> {
    const run = await stack.run(runId);
    const job = run.jobs.find((j) => j.key === key);
    if (job === undefined) throw new Error(`run has no job ${key}: ${JSON.stringify(run)}`);
    return job as JobWithAttempts;
  }

  /** Waits until job `key` is still attempt 1, running, waiting for its unreachable agent. */
  async function untilWaitingForAgent(stack: PipelineStack, runId: string, key: string) {
    await vi.waitFor(
      async () => {
        const job = await jobOf(stack, runId, key);
        expect(job.statusMessage).toMatch(/is unreachable; waiting for it until/);
        expect(job).toMatchObject({ state: 'running', attempt: 1 });
      },
      { timeout: 30_000, interval: 200 },
    );
  }

  /** Waits until job `key`'s attempt 1 was given up and attempt 2 waits for an agent. */
  function untilRetryQueued(stack: PipelineStack, runId: string, key: string) {
    return vi.waitFor(
      async () => {
        const job = await jobOf(stack, runId, key);
        expect(job).toMatchObject({ state: 'queued', attempt: 2 });
        return job;
      },
      { timeout: 30_000, interval: 200 },
    );
  }

  async function masterTask(
    stack: PipelineStack,
    taskId: string,
  ): Promise<{ state: string } | undefined> {
    const res = await fetch(`${stack.masterUrl}/api/v1/state`, {
      headers: { authorization: `Bearer ${CLUSTER_TOKEN}` },
    });
    const state = (await res.json()) as {
      tasks: { taskId: string; state: string }[];
      completedTasks: { taskId: string; state: string }[];
    };
    return [...state.tasks, ...state.completedTasks].find((t) => t.taskId === taskId);
  }

  describe('within the partition timeout', () => {
    let stack: PipelineStack;

    beforeAll(async () => {
      stack = await PipelineStack.start({
        masterEnv: MASTER_ENV,
        serverEnv: { KILN_BUILD_PARTITION_TIMEOUT_MS: '600000' },
      });
    });

    afterAll(async () => {
      await stack?.dispose();
    });

    it('records the job its returning agent finished as success, at attempt 1', async () => {
      const runId = await startRun(
        stack,
        'partition-back',
        `
jobs:
  a:
    retry: 1
    steps:
      - run: echo "a-start $KILN_JOB_ATTEMPT"; sleep 4; echo a-end
  b:
    needs: a
    steps:
      - run: echo b-ran
`,
      );
      await stack.waitForRun(runId, (r) =>
        r.jobs.some((j) => j.key === 'a' && j.state === 'running'),
      );

      stack.agent.signal('SIGKILL');
      await stack.agent.exitCode();
      // The master lost the agent and told the server: the job waits, it does not fail or retry.
      await untilWaitingForAgent(stack, runId, 'a');
      await stack.restartAgent();

      const run = await stack.waitForRun(runId);
      const a = run.jobs.find((j) => j.key === 'a') as JobWithAttempts;
      expect(run.state, JSON.stringify(run)).toBe('success');
      expect(a).toMatchObject({ state: 'success', attempt: 1, exitCode: 0 });
      expect(a.attempts.map((t) => [t.attempt, t.state])).toEqual([[1, 'success']]);
      expect(run.jobs.find((j) => j.key === 'b')?.state).toBe('success');
      expect(await stack.log(a.id)).toMatch(/a-start 1\n(.*\n)?a-end/);
    });

    it('keeps a job whose agent re-registers only after a restarted master stopped waiting for it', async () => {
      const runId = await startRun(
        stack,
        'master-back-first',
        `
jobs:
  a:
    retry: 1
    steps:
      - run: echo "a-start $KILN_JOB_ATTEMPT"; sleep 5; echo a-end
`,
      );
      await stack.waitForRun(runId, (r) =>
        r.jobs.some((j) => j.key === 'a' && j.state === 'running'),
      );

      // The agent is frozen while the master restarts, and stays away past the master's recovery
      // window: the master cannot know the task, but must not say the cluster has none.
      stack.agent.signal('SIGSTOP');
      try {
        stack.master.signal('SIGKILL');
        await stack.master.exitCode();
        await stack.startMaster();
        await untilWaitingForAgent(stack, runId, 'a');
      } finally {
        stack.agent.signal('SIGCONT');
      }

      const run = await stack.waitForRun(runId);
      const a = run.jobs.find((j) => j.key === 'a') as JobWithAttempts;
      expect(run.state, JSON.stringify(run)).toBe('success');
      expect(a.attempts.map((t) => [t.attempt, t.state])).toEqual([[1, 'success']]);
      expect(await stack.log(a.id)).toMatch(/a-start 1\n(.*\n)?a-end/);
    });
  });

  describe('past the partition timeout', () => {
    let stack: PipelineStack;

    beforeAll(async () => {
      stack = await PipelineStack.start({
        masterEnv: MASTER_ENV,
        serverEnv: { KILN_BUILD_PARTITION_TIMEOUT_MS: '3000' },
      });
    });

    afterAll(async () => {
      await stack?.dispose();
    });

    it('gives the task up as lost, retries, and kills the task when its agent returns', async () => {
      const runId = await startRun(
        stack,
        'partition-gone',
        `
jobs:
  a:
    retry: 1
    steps:
      - run: echo "a-start $KILN_JOB_ATTEMPT"; if [ "$KILN_JOB_ATTEMPT" = 1 ]; then sleep 300; fi; echo a-end
`,
      );
      await stack.waitForRun(runId, (r) =>
        r.jobs.some((j) => j.key === 'a' && j.state === 'running'),
      );

      stack.agent.signal('SIGKILL');
      await stack.agent.exitCode();
      // Given up: attempt 1 is lost, attempt 2 waits for an agent.
      const retried = await untilRetryQueued(stack, runId, 'a');
      const lost = retried.attempts[0];
      expect(lost).toMatchObject({ attempt: 1, state: 'lost', reason: 'AGENT_UNREACHABLE' });
      expect(lost?.statusMessage).toMatch(/unreachable for more than 3 s/);

      // The agent returns with attempt 1 still running: it is killed, attempt 2 runs.
      await stack.restartAgent();
      const run = await stack.waitForRun(runId);
      const a = run.jobs.find((j) => j.key === 'a') as JobWithAttempts;
      expect(run.state, JSON.stringify(run)).toBe('success');
      expect(a.attempts.map((t) => [t.attempt, t.state])).toEqual([
        [1, 'lost'],
        [2, 'success'],
      ]);
      await vi.waitFor(
        async () => expect((await masterTask(stack, lost!.taskId!))?.state).toBe('TASK_KILLED'),
        { timeout: 20_000, interval: 200 },
      );
      // Its late end changed nothing.
      expect((await jobOf(stack, runId, 'a')).attempts[0]).toMatchObject({ state: 'lost' });
    });

    it('kills a given-up task whose agent returns only after a master restart', async () => {
      const runId = await startRun(
        stack,
        'partition-master-restart',
        `
jobs:
  a:
    retry: 1
    steps:
      - run: echo "a-start $KILN_JOB_ATTEMPT"; if [ "$KILN_JOB_ATTEMPT" = 1 ]; then sleep 300; fi; echo a-end
`,
      );
      await stack.waitForRun(runId, (r) =>
        r.jobs.some((j) => j.key === 'a' && j.state === 'running'),
      );
      stack.agent.signal('SIGKILL');
      await stack.agent.exitCode();
      const retried = await untilRetryQueued(stack, runId, 'a');
      const lostTaskId = retried.attempts[0]!.taskId!;

      // The new master never heard of the task: the server's kill of it finds nothing to kill.
      stack.master.signal('SIGKILL');
      await stack.master.exitCode();
      await stack.startMaster();
      await vi.waitFor(
        async () => {
          const res = await fetch(`${stack.masterUrl}/api/v1/state`, {
            headers: { authorization: `Bearer ${CLUSTER_TOKEN}` },
          });
          const state = (await res.json()) as { frameworks: { connected: boolean }[] };
          expect(state.frameworks.some((f) => f.connected)).toBe(true);
        },
        { timeout: 30_000, interval: 200 },
      );

      // Then the agent returns with attempt 1 still running: it must still be killed.
      await stack.restartAgent();
      const run = await stack.waitForRun(runId);
      expect(run.state, JSON.stringify(run)).toBe('success');
      await vi.waitFor(
        async () => expect((await masterTask(stack, lostTaskId))?.state).toBe('TASK_KILLED'),
        { timeout: 20_000, interval: 200 },
      );
      expect((await jobOf(stack, runId, 'a')).attempts.map((t) => [t.attempt, t.state])).toEqual([
        [1, 'lost'],
        [2, 'success'],
      ]);
    });
  });
});
