import type { TaskInfo, TaskState } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TaskLifecycle } from './task-lifecycle';
import {
  AGENT_INFO,
  clusterParts,
  offersSent,
  RecordingStream,
  taskInfo,
} from './testing/cluster-parts';

describe(TaskLifecycle.name, () => {
  let parts: ReturnType<typeof clusterParts>;
  let lifecycle: TaskLifecycle;

  beforeEach(() => {
    vi.useFakeTimers();
    parts = clusterParts();
    lifecycle = new TaskLifecycle(
      parts.tasks,
      parts.offers,
      parts.accounting,
      parts.agents,
      parts.frameworks,
      parts.allocation,
      5,
    );
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function allocatedOnAgent(): object | undefined {
    return parts.accounting.snapshot().agents[0]?.allocated;
  }

  /** Offers the agent and launches task-1 on the offer. */
  function launch(): void {
    parts.allocation.allocate();
    const [offer] = offersSent(parts.frameworkStream);
    lifecycle.accept(parts.framework, {
      offerIds: [offer!.id],
      operations: [{ type: 'LAUNCH', launch: { taskInfos: [taskInfo('task-1')] } }],
    });
  }

  function update(state: TaskState, latestState?: TaskState): string {
    const uuid = randomUUID();
    lifecycle.agentUpdate(parts.agent, {
      frameworkId: parts.framework.id,
      status: { taskId: 'task-1', state, source: 'AGENT', uuid, timestamp: Date.now() / 1000 },
      ...(latestState === undefined ? {} : { latestState }),
    });
    return uuid;
  }

  it("frees the task when an update's latest state says it ended, before its end arrives", () => {
    launch();
    update('TASK_STARTING', 'TASK_RUNNING');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });

    // TASK_RUNNING still waits for the framework's acknowledgement of TASK_STARTING; the agent
    // already knows the task finished.
    update('TASK_RUNNING', 'TASK_FINISHED');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    expect(parts.tasks.get('task-1')?.state).toBe('TASK_RUNNING');
    expect(parts.frameworkStream.sent.at(-1)).toMatchObject({ type: 'UPDATE' });

    update('TASK_FINISHED', 'TASK_FINISHED');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    expect(parts.tasks.get('task-1')?.state).toBe('TASK_FINISHED');
  });

  it("drops an agent's word on a task that runs on another agent, and refuses one for another framework", () => {
    launch();
    update('TASK_RUNNING');
    const sent = parts.frameworkStream.sent.length;
    const otherStream = new RecordingStream();
    parts.agents.register({ ...AGENT_INFO, id: 'agent-2' }, otherStream.asStream());
    const other = parts.agents.get('agent-2')!;
    const status = (state: TaskState) => ({
      taskId: 'task-1',
      state,
      source: 'AGENT' as const,
      uuid: randomUUID(),
      timestamp: Date.now() / 1000,
    });
    // A second copy's word (the first runs on agent-1): acknowledged, so that agent-2 stops
    // sending it, and told to nobody; the task runs on, still counted.
    const stray = status('TASK_FAILED');
    lifecycle.agentUpdate(other, { frameworkId: parts.framework.id, status: stray });
    expect(otherStream.sent).toEqual([
      { type: 'ACKNOWLEDGED', acknowledged: { taskId: 'task-1', uuid: stray.uuid } },
    ]);
    expect(parts.tasks.get('task-1')).toMatchObject({ state: 'TASK_RUNNING', agentId: 'agent-1' });
    expect(parts.accounting.taskHolding('task-1')).toBeDefined();
    expect(() =>
      lifecycle.agentUpdate(parts.agent, {
        frameworkId: 'fw-other',
        status: status('TASK_FAILED'),
      }),
    ).toThrow('task task-1 is of framework fw-1, not of fw-other');
    // Still running, still holding what it holds, and the framework told nothing.
    expect(parts.tasks.get('task-1')?.state).toBe('TASK_RUNNING');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });
    expect(parts.frameworkStream.sent.length).toBe(sent);
  });

  it('refuses an ACCEPT in which two tasks ask for the same port', () => {
    const withPorts = {
      ...AGENT_INFO,
      id: 'agent-ports',
      resources: { ...AGENT_INFO.resources, ports: [[31000, 31009]] as [number, number][] },
    };
    parts.agents.register(withPorts, new RecordingStream().asStream());
    parts.accounting.addAgent(withPorts);
    parts.allocation.allocate();
    const offer = offersSent(parts.frameworkStream).find(
      (o) => (o.resources as { ports?: unknown[] }).ports?.length === 1,
    );
    const onPort = (taskId: string): TaskInfo => ({
      ...taskInfo(taskId),
      resources: { cpus: 1, mem: 64, disk: 0, ports: [[31000, 31000]] },
    });

    expect(() =>
      lifecycle.accept(parts.framework, {
        offerIds: [offer!.id],
        operations: [{ type: 'LAUNCH', launch: { taskInfos: [onPort('a'), onPort('b')] } }],
      }),
    ).toThrow('task b asks for ports 31000-31000, which another task of the call asks for too');
    expect(parts.tasks.has('a')).toBe(false);
  });

  it('gives back what a task holds of an amount finer than the grid sums are kept on', () => {
    parts.allocation.allocate();
    const [offer] = offersSent(parts.frameworkStream);
    const fine = {
      ...taskInfo('task-1'),
      resources: { cpus: 1, mem: 512, disk: 4e-7 },
    } as TaskInfo;
    lifecycle.accept(parts.framework, {
      offerIds: [offer!.id],
      operations: [{ type: 'LAUNCH', launch: { taskInfos: [fine] } }],
    });
    update('TASK_FINISHED');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0, disk: 0 });
  });

  it('launches the tasks on the agent and keeps only what they need held', () => {
    launch();

    expect(parts.agentStream.types()).toEqual(['LAUNCH']);
    expect(parts.tasks.get('task-1')).toMatchObject({ agentId: 'agent-1', state: 'TASK_STAGING' });
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });
  });

  it('refuses an ACCEPT needing more than its offers hold and changes nothing', () => {
    parts.allocation.allocate();
    const [offer] = offersSent(parts.frameworkStream);
    const big = { ...taskInfo('task-1'), resources: { cpus: 8, mem: 512 } } as TaskInfo;

    expect(() =>
      lifecycle.accept(parts.framework, {
        offerIds: [offer!.id],
        operations: [{ type: 'LAUNCH', launch: { taskInfos: [big] } }],
      }),
    ).toThrow(/need more than the offers hold/);
    expect(parts.agentStream.sent).toEqual([]);
    expect(parts.tasks.has('task-1')).toBe(false);
    expect([...parts.offers.values()]).toHaveLength(1);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 4, mem: 4096 });
  });

  it('frees the task on its first terminal update, and not again on a duplicate', () => {
    launch();
    update('TASK_RUNNING');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });

    update('TASK_FINISHED');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
    parts.allocation.allocate(); // the agent is whole on offer again
    expect(allocatedOnAgent()).toMatchObject({ cpus: 4, mem: 4096 });

    update('TASK_FINISHED');
    expect(allocatedOnAgent()).toMatchObject({ cpus: 4, mem: 4096 });
    expect(parts.frameworkStream.updates().map((s) => s.state)).toEqual([
      'TASK_RUNNING',
      'TASK_FINISHED',
      'TASK_FINISHED',
    ]);
  });

  it('acknowledges an overtaken update for the framework instead of forwarding it', () => {
    launch();
    update('TASK_FINISHED');
    const late = update('TASK_RUNNING');

    expect(parts.frameworkStream.updates().map((s) => s.state)).toEqual(['TASK_FINISHED']);
    expect(parts.agentStream.sent.at(-1)).toEqual({
      type: 'ACKNOWLEDGED',
      acknowledged: { taskId: 'task-1', uuid: late },
    });
  });

  it('completes an ended task once the framework acknowledges its end', () => {
    launch();
    const end = update('TASK_FAILED');

    lifecycle.acknowledge(parts.framework, { agentId: 'agent-1', taskId: 'task-1', uuid: end });
    expect(parts.tasks.has('task-1')).toBe(false);
    expect(parts.tasks.find('task-1')).toMatchObject({ state: 'TASK_FAILED' });
    expect(parts.agentStream.sent.at(-1)).toMatchObject({ type: 'ACKNOWLEDGED' });
  });

  it("refuses an acknowledgement that names another agent than the task's, and keeps the task", () => {
    launch();
    const end = update('TASK_FAILED');
    expect(() =>
      lifecycle.acknowledge(parts.framework, { agentId: 'agent-9', taskId: 'task-1', uuid: end }),
    ).toThrow('task task-1 runs on agent agent-1, not on agent agent-9');
    expect(parts.tasks.has('task-1')).toBe(true);
  });

  it('keeps a kill for an agent that is away, and answers TASK_UNKNOWN for a task it never had', () => {
    launch();
    parts.agent.state = 'DISCONNECTED';
    lifecycle.kill(parts.framework, 'task-1');
    expect(parts.tasks.get('task-1')?.killPending).toBe(true);
    expect(parts.agentStream.types()).toEqual(['LAUNCH']);

    lifecycle.kill(parts.framework, 'task-9');
    expect(parts.frameworkStream.updates().at(-1)).toMatchObject({
      taskId: 'task-9',
      state: 'TASK_UNKNOWN',
    });
  });
});
