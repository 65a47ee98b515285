import type { TaskStatus } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HandAgent } from './support/hand-agent';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-updates-token-0123456789';
/** How long a round trip through the master may take on a busy machine. */
const WAIT = { timeout: 10_000 };

describe('master: task updates', () => {
  beforeEach(printProcessesOnFailure);
  let master: KilnProcess;
  let url: string;

  beforeAll(async () => {
    master = KilnProcess.start('master', { KILN_CLUSTER_TOKEN: TOKEN });
    url = await master.url();
  });
  afterAll(() => master.dispose());

  /**
   * A hand-driven agent and a framework, with task `taskId` launched on the agent; `status` makes
   * an update of it as the agent would send it.
   */
  async function launched(taskId: string, name: string) {
    const agent = new HandAgent(url, TOKEN);
    await agent.subscribe();
    const framework = await TestFramework.start(url, TOKEN, { name, roles: ['ci'] });
    framework.launch({
      ...shellTask(taskId, 'true'),
      resources: { cpus: 1, mem: 64, disk: 0, ports: [] },
    });
    await vi.waitFor(() => expect(agent.events.some((e) => e.type === 'LAUNCH')).toBe(true), WAIT);
    const status = (state: TaskStatus['state']): TaskStatus => ({
      taskId,
      state,
      source: 'AGENT',
      uuid: randomUUID(),
      timestamp: Date.now() / 1000,
      agentId: agent.id,
    });
    const close = async (): Promise<void> => {
      agent.close();
      await framework.close();
    };
    return { agent, framework, status, close };
  }

  it('acknowledges an overtaken update for the framework, and never forwards it', async () => {
    const { agent, framework, status, close } = await launched('t1', 'updates');
    try {
      const starting = status('TASK_STARTING');
      const running = status('TASK_RUNNING');
      await agent.update(framework.id, running);
      await vi.waitFor(() => expect(agent.acknowledged(running.uuid!)).toBe(true), WAIT);

      // A restarted agent resends the STARTING whose acknowledgement it never recorded.
      await agent.update(framework.id, starting);
      // The overtaken STARTING is acknowledged.
      await vi.waitFor(() => expect(agent.acknowledged(starting.uuid!)).toBe(true), WAIT);
      expect(framework.statusesOf('t1').map((u) => u.state)).toEqual(['TASK_RUNNING']);

      // And the task's later updates flow as before.
      const finished = status('TASK_FINISHED');
      await agent.update(framework.id, finished);
      await framework.waitForState('t1', 'TASK_FINISHED');
      expect(framework.statusesOf('t1').map((u) => u.state)).toEqual([
        'TASK_RUNNING',
        'TASK_FINISHED',
      ]);
    } finally {
      await close();
    }
  });

  it('never lets an ended task end again in another state', async () => {
    const { agent, framework, status, close } = await launched('t2', 'ends');
    try {
      await agent.update(framework.id, status('TASK_FINISHED'));
      await framework.waitForState('t2', 'TASK_FINISHED');

      // A replayed or corrupt checkpoint says the task ended otherwise, before and after the
      // framework acknowledged its end: acknowledged for the framework, never forwarded.
      for (const state of ['TASK_KILLED', 'TASK_FAILED'] as const) {
        const late = status(state);
        await agent.update(framework.id, late);
        await vi.waitFor(() => expect(agent.acknowledged(late.uuid!)).toBe(true), WAIT);
      }
      expect(framework.statusesOf('t2').map((u) => u.state)).toEqual(['TASK_FINISHED']);
      const res = await fetch(`${url}/api/v1/state`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const cluster = (await res.json()) as {
        tasks: { taskId: string; state: string }[];
        completedTasks: { taskId: string; state: string }[];
      };
      expect(
        [...cluster.tasks, ...cluster.completedTasks].filter((t) => t.taskId === 't2'),
      ).toEqual([expect.objectContaining({ state: 'TASK_FINISHED' })]);
    } finally {
      await close();
    }
  });
});
