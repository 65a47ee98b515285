import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-status-token-0123456789abcdef';
const TASKS = 24;

describe("an agent's status updates across its kill -9", () => {
  beforeEach(printProcessesOnFailure);
  let master: KilnProcess;
  let agent: KilnProcess;
  let framework: TestFramework;

  function startAgent(url: string, dataDir?: string): KilnProcess {
    return KilnProcess.start('agent', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_URL: url,
      KILN_AGENT_RESOURCES: 'cpus:8;mem:4096;disk:100',
      KILN_AGENT_CONTAINERIZERS: 'process',
      ...(dataDir === undefined ? {} : { KILN_DATA_DIR: dataDir }),
    });
  }

  beforeAll(async () => {
    master = KilnProcess.start('master', { KILN_CLUSTER_TOKEN: TOKEN });
    const url = await master.url();
    agent = startAgent(url);
    await agent.url();
    framework = await TestFramework.start(
      url,
      TOKEN,
      { name: 'journal', roles: ['journal'] },
      { transport: 'websocket' },
    );
  });

  afterAll(async () => {
    await framework.close();
    await Promise.all([agent.dispose(), master.dispose()]);
  });

  it('loses none of a batch written and sent but not yet acknowledged', async () => {
    const url = await master.url();
    const ids = Array.from({ length: TASKS }, (_, i) => `batch-${i}`);
    // Nothing is acknowledged: every update stays in the agent's journal, sent in batches.
    framework.acknowledging = false;
    framework.launch(
      ...ids.map((id) => ({
        ...shellTask(id, 'true'),
        resources: { cpus: 0.25, mem: 16, disk: 0, ports: [] },
      })),
    );
    const finished = (): Set<string> =>
      new Set(framework.arrivals.filter((a) => a.state === 'TASK_FINISHED').map((a) => a.taskId));
    await framework.waitFor(
      () => (finished().size === TASKS ? true : undefined),
      60_000,
      'every task finished',
    );
    const before = framework.arrivals.length;

    agent.signal('SIGKILL');
    await agent.exitCode();
    framework.acknowledging = true;
    agent = startAgent(url, agent.dataDir);
    await agent.url();

    // The restarted agent sends again, from its journal, every update of every task, in order;
    // once acknowledged, it forgets them.
    await framework.waitFor(
      () => {
        const again = framework.arrivals.slice(before);
        return ids.every((id) => again.some((a) => a.taskId === id && a.state === 'TASK_FINISHED'))
          ? true
          : undefined;
      },
      60_000,
      'every update sent again',
    );
    for (const id of ids) {
      const states = framework.statusesOf(id).map((s) => s.state);
      expect(states, id).not.toContain('TASK_FAILED');
      expect(states, id).not.toContain('TASK_LOST');
      expect(states.filter((s) => s === 'TASK_FINISHED').length, id).toBeGreaterThanOrEqual(2);
    }
    await framework.waitFor(
      async () => {
        const res = await fetch(`${url}/api/v1/state`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        const state = (await res.json()) as { tasks: { taskId: string; state: string }[] };
        const live = state.tasks.filter(
          (t) => ids.includes(t.taskId) && t.state !== 'TASK_FINISHED',
        );
        return live.length === 0 ? true : undefined;
      },
      30_000,
      'the master has every task finished',
    );
  });
});
