import { CallSocket, SocketCallError } from '@kiln/common';
import {
  MAX_RECONCILE_TASKS,
  STREAM_ID_HEADER,
  type AgentCall,
  type AgentTask,
  type Offer,
  type ResourcesMessage,
  type TaskInfo,
} from '@kiln/contracts';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HandAgent } from './support/hand-agent';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { SocketFramework } from './support/socket-framework';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-refusals-token-0123456789';
/** How long a round trip through the master (an offer: an allocation cycle) may take when busy. */
const WAIT = { timeout: 10_000 };

/** What a refused call must leave as it was. */
interface StateView {
  agents: { id: string; state: string; resources: { used: object } }[];
  frameworks: { id: string }[];
  tasks: { taskId: string; state: string }[];
}

describe('the master refuses what it cannot carry out, and stays whole', () => {
  beforeEach(printProcessesOnFailure);
  let master: KilnProcess;
  let url: string;

  beforeAll(async () => {
    master = KilnProcess.start('master', { KILN_CLUSTER_TOKEN: TOKEN });
    url = await master.url();
  });
  afterAll(() => master.dispose());

  async function state(): Promise<StateView> {
    const res = await fetch(`${url}/api/v1/state`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as StateView;
    return {
      agents: body.agents.map(({ id, state, resources }) => ({
        id,
        state,
        resources: { used: resources.used },
      })),
      frameworks: body.frameworks.map(({ id }) => ({ id })),
      tasks: body.tasks.map(({ taskId, state }) => ({ taskId, state })),
    };
  }

  /** A task an agent says it still runs, as it does when it re-registers after a restart. */
  function running(taskId: string, resources: ResourcesMessage): AgentTask {
    return {
      frameworkId: 'framework-gone-with-the-master',
      role: 'ci',
      state: 'TASK_RUNNING',
      taskInfo: { ...shellTask(taskId, 'sleep 600'), resources },
    };
  }

  const small: ResourcesMessage = { cpus: 1, mem: 128, disk: 0, ports: [[31000, 31010]] };

  it('refuses an agent whose tasks hold more than it has, and registers none of it', async () => {
    const agent = new HandAgent(url, TOKEN);
    const before = await state();
    try {
      // Restarted with fewer cpus than its two running tasks use.
      const tasks = [
        running('over-1', { cpus: 0.8, mem: 64, disk: 0, ports: [] }),
        running('over-2', { cpus: 0.8, mem: 64, disk: 0, ports: [] }),
      ];
      const refused = await agent.trySubscribe({ resources: small, tasks });
      expect(refused.status).toBe(400);
      expect(refused.message).toMatch(/tasks hold more than it has: needs 1\.6 cpus, has 1/);
      expect(await state()).toEqual(before);

      // Over a WebSocket the same: the call is refused, the connection stays for another try.
      const socket = await CallSocket.open<AgentCall>(`${url}/api/v1/agent`, TOKEN);
      try {
        const subscribe = (reported: AgentTask[]): Promise<void> =>
          socket.call({
            type: 'SUBSCRIBE',
            subscribe: {
              agentInfo: {
                id: agent.id,
                hostname: 'hand',
                resources: small,
                attributes: {},
                containerizers: ['process'],
                version: 'test',
              },
              tasks: reported,
            },
          });
        const clash = subscribe([
          running('port-1', { cpus: 0.1, mem: 8, disk: 0, ports: [[31000, 31002]] }),
          running('port-2', { cpus: 0.1, mem: 8, disk: 0, ports: [[31002, 31002]] }),
        ]);
        await expect(clash).rejects.toBeInstanceOf(SocketCallError);
        await expect(clash).rejects.toMatchObject({
          status: 400,
          message: expect.stringMatching(
            /port-1 and port-2 both hold ports 31002-31002/,
          ) as unknown,
        });
        expect(await state()).toEqual(before);

        // Told what is wrong, it comes back with what it can hold, and its task is counted.
        await subscribe([running('over-1', { cpus: 0.8, mem: 64, disk: 0, ports: [] })]);
        await vi.waitFor(async () => {
          const after = await state();
          expect(after.agents).toContainEqual({
            id: agent.id,
            state: 'ACTIVE',
            resources: { used: { cpus: 0.8, mem: 64, disk: 0, ports: [] } },
          });
          expect(after.tasks).toContainEqual({ taskId: 'over-1', state: 'TASK_RUNNING' });
        }, WAIT);
      } finally {
        socket.close();
      }
    } finally {
      agent.close();
    }
  });

  it('refuses a RECONCILE naming more tasks than one may, over HTTP and a WebSocket, saying so', async () => {
    const limit = MAX_RECONCILE_TASKS;
    const named = (n: number): { taskId: string; agentId: string }[] =>
      Array.from({ length: n }, (_, i) => ({ taskId: `reconciled-${i}`, agentId: `agent-${i}` }));
    const tooMany = new RegExp(
      `reconcile\\.tasks names ${limit + 1} tasks: one RECONCILE may name at most ${limit}`,
    );
    const framework = await TestFramework.start(url, TOKEN, { name: 'asks', roles: ['ci'] });
    try {
      const reconcile = (n: number): Promise<Response> =>
        fetch(`${url}/api/v1/scheduler`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            [STREAM_ID_HEADER]: framework.client.streamId!,
          },
          body: JSON.stringify({
            type: 'RECONCILE',
            frameworkId: framework.id,
            reconcile: { tasks: named(n) },
          }),
        });
      const refused = await reconcile(limit + 1);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { message: string }).message).toMatch(tooMany);
      // At the limit, the call is taken (its body is far over the 100 kB HTTP bodies once had).
      expect((await reconcile(limit)).status).toBe(202);
      // Kiln's client asks about more in several calls.
      await framework.client.reconcile(named(limit + 1));
    } finally {
      await framework.close();
    }

    const onSocket = await SocketFramework.open(url, TOKEN);
    const { socket } = onSocket;
    try {
      const frameworkId = await onSocket.subscribe('asks-on-a-socket', ['ci']);
      const call = socket.call({
        type: 'RECONCILE',
        frameworkId,
        reconcile: { tasks: named(limit + 1) },
      });
      await expect(call).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(tooMany) as unknown,
      });
      // The connection stays: the next call is carried out.
      await socket.call({ type: 'SUPPRESS', frameworkId });
    } finally {
      onSocket.close();
    }
  });

  it('answers an ACCEPT of tens of thousands of tasks, each on a port of its own, at once', async () => {
    const agent = new HandAgent(url, TOKEN);
    await agent.subscribe({ resources: { cpus: 64, mem: 65_536, disk: 0, ports: [[1, 65_535]] } });
    const framework = await SocketFramework.open(url, TOKEN);
    const { socket, events } = framework;
    try {
      const frameworkId = await framework.subscribe('many-ports', ['ports']);
      const offer = await vi.waitFor(() => {
        const offers = events.flatMap((e) => (e.type === 'OFFERS' ? e.offers.offers : []));
        const found = offers.find((o: Offer) => o.agentId === agent.id);
        if (found === undefined) throw new Error('no offer of the agent yet');
        return found;
      }, WAIT);
      // Every other port, so that no two tasks' ports merge into one range: what the master
      // adds up, checks and takes from the offer is 30,000 ranges.
      const tasks: TaskInfo[] = Array.from({ length: 30_000 }, (_, i) => ({
        ...shellTask(`port-${i}`, 'true'),
        resources: { cpus: 0, mem: 0, disk: 0, ports: [[2 * i + 1, 2 * i + 1]] },
      }));
      const accept = (taskInfos: TaskInfo[]): Promise<void> =>
        socket.call({
          type: 'ACCEPT',
          frameworkId,
          accept: {
            offerIds: [offer.id],
            operations: Array.from({ length: Math.ceil(taskInfos.length / 1000) }, (_, op) => ({
              type: 'LAUNCH' as const,
              launch: { taskInfos: taskInfos.slice(op * 1000, (op + 1) * 1000) },
            })),
          },
        });

      // One task too many for the offer: the whole call is refused, and nothing changes.
      const before = await state();
      const beyond = {
        ...shellTask('port-beyond', 'true'),
        resources: { cpus: 65, mem: 0, disk: 0, ports: [] },
      };
      await expect(accept([...tasks, beyond])).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/needs 65 cpus, has 64/) as unknown,
      });
      expect(await state()).toEqual(before);

      await accept(tasks);
      const after = await state();
      expect(after.tasks.filter((t) => t.taskId.startsWith('port-'))).toHaveLength(30_000);
      const used = after.agents.find((a) => a.id === agent.id)?.resources.used as {
        ports: [number, number][];
      };
      expect(used.ports).toHaveLength(30_000);
      expect(used.ports.at(-1)).toEqual([59_999, 59_999]);
    } finally {
      framework.close();
      agent.close();
    }
  });
});
