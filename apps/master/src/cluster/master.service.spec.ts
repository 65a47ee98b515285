import type { MasterEnv } from '@kiln/config';
import type { AgentEvent, SchedulerEvent, TaskInfo, TaskStatus } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MasterMetrics } from './master.metrics';
import { MAX_FRAMEWORKS, MasterService } from './master.service';

const AGENT_TIMEOUT_MS = 1_000;

/** A subscriber's stream that keeps what the master sent it. */
class RecordingStream {
  readonly id = randomUUID();
  readonly sent: object[] = [];
  isOpen = true;

  send(event: object): boolean {
    if (!this.isOpen) return false;
    this.sent.push(event);
    return true;
  }

  end(): void {
    this.isOpen = false;
  }

  updates(): TaskStatus[] {
    return (this.sent as SchedulerEvent[]).flatMap((e) =>
      e.type === 'UPDATE' ? [e.update.status] : [],
    );
  }
}

const TASK: TaskInfo = {
  taskId: 'task-1',
  name: 'build',
  resources: { cpus: 1, mem: 128 },
  command: { shell: true, value: 'sleep 600' },
} as TaskInfo;

describe(MasterService.name, () => {
  let master: MasterService;
  let framework: RecordingStream;
  let frameworkId: string;

  function subscribeAgent(tasks: 'none' | 'running', id = 'agent-1'): RecordingStream {
    const stream = new RecordingStream();
    master.subscribeAgent(
      {
        agentInfo: {
          id,
          hostname: id,
          resources: { cpus: 4, mem: 4096, disk: 0, ports: [] },
          attributes: {},
          containerizers: ['process'],
          version: 'test',
        },
        tasks:
          tasks === 'none'
            ? []
            : [{ frameworkId, role: 'ci', taskInfo: TASK, state: 'TASK_RUNNING' }],
      },
      () => stream,
    );
    return stream;
  }

  beforeEach(() => {
    vi.useFakeTimers();
    master = new MasterService(
      {
        KILN_MASTER_AGENT_TIMEOUT_MS: AGENT_TIMEOUT_MS,
        KILN_MASTER_AGENT_HEARTBEAT_MS: 100,
        KILN_MASTER_FRAMEWORK_HEARTBEAT_MS: 60_000,
        KILN_MASTER_ALLOCATION_INTERVAL_MS: 60_000,
        KILN_MASTER_OFFER_TIMEOUT_MS: 60_000,
      } as MasterEnv,
      new MasterMetrics(),
    );
    master.onApplicationBootstrap();
    framework = new RecordingStream();
    frameworkId = master.subscribeFramework({ name: 'builds', roles: ['ci'] }, framework);
  });

  afterEach(() => {
    master.onModuleDestroy();
    vi.useRealTimers();
  });

  /** Launches TASK through an offer of agent-1 and has the agent report it running. */
  async function launchRunning(agent: RecordingStream): Promise<void> {
    await launch();
    reportState('TASK_RUNNING', agent);
  }

  /** agent-1 reports TASK in `state` on `agent`'s stream. */
  function reportState(state: TaskStatus['state'], agent: RecordingStream): void {
    master.handleAgentCall(
      {
        type: 'UPDATE',
        agentId: 'agent-1',
        update: {
          frameworkId,
          status: {
            taskId: TASK.taskId,
            state,
            source: 'AGENT',
            uuid: randomUUID(),
            timestamp: Date.now() / 1000,
          },
        },
      },
      agent.id,
    );
  }

  /** Launches TASK through an offer of agent-1; the agent says nothing of it yet. */
  async function launch(): Promise<void> {
    await vi.advanceTimersByTimeAsync(1);
    const offers = (framework.sent as SchedulerEvent[]).flatMap((e) =>
      e.type === 'OFFERS' ? e.offers.offers : [],
    );
    master.handleSchedulerCall(
      {
        type: 'ACCEPT',
        frameworkId,
        accept: {
          offerIds: [offers[0]!.id],
          operations: [{ type: 'LAUNCH', launch: { taskInfos: [TASK] } }],
        },
      },
      framework.id,
    );
  }

  it('refuses a SUBSCRIBE sent on a subscribed stream as one that opens a stream (400)', () => {
    const again = {
      type: 'SUBSCRIBE' as const,
      subscribe: { frameworkInfo: { name: 'builds', roles: ['ci'], id: frameworkId } },
    };
    expect(() => master.handleSchedulerCall(again, framework.id)).toThrow(
      expect.objectContaining({
        status: 400,
        message: 'SUBSCRIBE opens a stream: send it without a stream id',
      }) as Error,
    );
  });

  it('refuses to suppress or revive a role the framework did not subscribe to (400)', () => {
    for (const type of ['SUPPRESS', 'REVIVE'] as const) {
      const roles = { roles: ['other'] };
      expect(() =>
        master.handleSchedulerCall(
          { type, frameworkId, ...(type === 'SUPPRESS' ? { suppress: roles } : { revive: roles }) },
          framework.id,
        ),
      ).toThrow(expect.objectContaining({ status: 400 }) as Error);
    }
  });

  it('tells the framework when it lost the agent, again on reconciliation, and kills on return', async () => {
    const agent = subscribeAgent('none');
    await launchRunning(agent);

    // No heartbeats: the agent becomes unreachable, its task UNREACHABLE, not ended.
    const lostAt = Date.now();
    await vi.advanceTimersByTimeAsync(AGENT_TIMEOUT_MS + 500);
    const unreachable = framework.updates().find((s) => s.state === 'TASK_UNREACHABLE');
    expect(unreachable).toMatchObject({ taskId: 'task-1', reason: 'AGENT_UNREACHABLE' });
    expect(unreachable!.unreachableTime! * 1000).toBeGreaterThanOrEqual(lostAt);

    await vi.advanceTimersByTimeAsync(60_000);
    master.handleSchedulerCall(
      { type: 'RECONCILE', frameworkId, reconcile: { tasks: [{ taskId: 'task-1' }] } },
      framework.id,
    );
    expect(framework.updates().at(-1)).toMatchObject({
      state: 'TASK_UNREACHABLE',
      reason: 'RECONCILIATION',
      unreachableTime: unreachable!.unreachableTime,
    });

    // The framework gave the task up; the agent cannot be told yet.
    master.handleSchedulerCall(
      { type: 'KILL', frameworkId, kill: { taskId: 'task-1' } },
      framework.id,
    );
    expect(agent.sent).not.toContainEqual(expect.objectContaining({ type: 'KILL' }));

    const back = subscribeAgent('running');
    expect((back.sent as AgentEvent[]).map((e) => e.type)).toEqual(['SUBSCRIBED', 'KILL']);
    expect(back.sent[1]).toEqual({ type: 'KILL', kill: { frameworkId, taskId: 'task-1' } });
    expect(framework.updates().at(-1)).toMatchObject({ taskId: 'task-1', state: 'TASK_RUNNING' });
  });

  it('kills a second copy of a running task that another agent comes back with', async () => {
    const agent = subscribeAgent('none');
    await launchRunning(agent);

    const second = subscribeAgent('running', 'agent-2');
    expect((second.sent as AgentEvent[]).map((e) => e.type)).toEqual(['SUBSCRIBED', 'KILL']);
    expect(second.sent[1]).toEqual({ type: 'KILL', kill: { frameworkId, taskId: 'task-1' } });
    // The task runs on where it was, and agent-1 was told nothing.
    expect(agent.sent).not.toContainEqual(expect.objectContaining({ type: 'KILL' }));
  });

  it('sends no kill to a returning agent whose tasks nobody asked to kill', async () => {
    const agent = subscribeAgent('none');
    await launchRunning(agent);
    await vi.advanceTimersByTimeAsync(AGENT_TIMEOUT_MS + 500);

    const back = subscribeAgent('running');
    expect((back.sent as AgentEvent[]).map((e) => e.type)).toEqual(['SUBSCRIBED']);
  });

  it('drops a task whose agent restarted before the launch reached it, and loses one it had', async () => {
    subscribeAgent('none');
    await launch();

    // Back without the task it never had: dropped (never ran), which may be launched again.
    subscribeAgent('none');
    expect(framework.updates().at(-1)).toMatchObject({
      taskId: 'task-1',
      state: 'TASK_DROPPED',
      reason: 'AGENT_RESTARTED',
    });
  });

  it('frees a task once when its agent re-registers with it ended and then sends the end', async () => {
    const agent = subscribeAgent('none');
    await launchRunning(agent);

    // The stream dropped while the task finished: the agent comes back telling it FINISHED, then
    // sends the FINISHED update it still holds (the framework never saw it).
    const back = new RecordingStream();
    master.subscribeAgent(
      {
        agentInfo: {
          id: 'agent-1',
          hostname: 'a1',
          resources: { cpus: 4, mem: 4096, disk: 0, ports: [] },
          attributes: {},
          containerizers: ['process'],
          version: 'test',
        },
        tasks: [{ frameworkId, role: 'ci', taskInfo: TASK, state: 'TASK_FINISHED' }],
      },
      () => back,
    );
    await vi.advanceTimersByTimeAsync(1);
    expect(() => reportState('TASK_FINISHED', back)).not.toThrow();
    expect(framework.updates().at(-1)).toMatchObject({ taskId: 'task-1', state: 'TASK_FINISHED' });

    // The whole agent is on offer again, and declining it gives back exactly what it holds.
    const offers = (framework.sent as SchedulerEvent[]).flatMap((e) =>
      e.type === 'OFFERS' ? e.offers.offers : [],
    );
    const outstanding = offers.at(-1)!;
    expect(outstanding.resources).toMatchObject({ cpus: 4, mem: 4096 });
    master.handleSchedulerCall(
      { type: 'DECLINE', frameworkId, decline: { offerIds: [outstanding.id] } },
      framework.id,
    );
    const books = master.state().frameworks as Array<{ allocated: { cpus: number; mem: number } }>;
    expect(books[0]!.allocated).toMatchObject({ cpus: 0, mem: 0 });
  });

  it('loses a task the agent had told of but no longer has on its return', async () => {
    const agent = subscribeAgent('none');
    await launchRunning(agent);

    subscribeAgent('none');
    expect(framework.updates().at(-1)).toMatchObject({
      taskId: 'task-1',
      state: 'TASK_LOST',
      reason: 'AGENT_RESTARTED',
    });
  });

  describe('frameworks it keeps', () => {
    /** Subscribes frameworks with new ids until the master keeps MAX_FRAMEWORKS. */
    function fill(): string[] {
      const ids = [frameworkId];
      while (ids.length < MAX_FRAMEWORKS) {
        ids.push(master.subscribeFramework({ name: 'f', roles: ['ci'] }, new RecordingStream()));
      }
      return ids;
    }

    it('refuses a new framework once it keeps the most, naming the limit', () => {
      fill();
      expect(() =>
        master.subscribeFramework({ name: 'one-too-many', roles: ['ci'] }, new RecordingStream()),
      ).toThrow(`the master keeps ${MAX_FRAMEWORKS} frameworks already`);
      expect(() =>
        master.checkSubscription({ id: randomUUID(), name: 'unknown-id', roles: ['ci'] }),
      ).toThrow(expect.objectContaining({ status: 429 }) as Error);
    });

    it('lets a framework it keeps subscribe again, and a new one once another is torn down', () => {
      const ids = fill();
      const again = new RecordingStream();
      expect(master.subscribeFramework({ id: ids[1], name: 'f', roles: ['ci'] }, again)).toBe(
        ids[1],
      );
      // Gone, with no failover timeout to wait out: torn down, and its place is free.
      const gone = new RecordingStream();
      const goneId = master.subscribeFramework(
        { id: ids[2], name: 'f', roles: ['ci'], failoverTimeoutSeconds: 0 },
        gone,
      );
      master.frameworkDisconnected(goneId, gone);
      vi.advanceTimersByTime(1);
      expect(() =>
        master.subscribeFramework({ name: 'newcomer', roles: ['ci'] }, new RecordingStream()),
      ).not.toThrow();
    });
  });
});
