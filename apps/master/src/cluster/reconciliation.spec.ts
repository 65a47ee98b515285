import type { AgentTask, TaskState } from '@kiln/contracts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_AWAITED_TASKS, Reconciliation } from './reconciliation';
import { AGENT_INFO, clusterParts, RecordingStream, taskInfo } from './testing/cluster-parts';

const RECOVERY_MS = 1_000;

describe(Reconciliation.name, () => {
  let parts: ReturnType<typeof clusterParts>;
  let reconciliation: Reconciliation;
  let adopted: AgentTask[];
  let startedAt: number;

  beforeEach(() => {
    vi.useFakeTimers();
    parts = clusterParts();
    adopted = [];
    startedAt = Date.now();
    reconciliation = new Reconciliation(
      parts.tasks,
      parts.frameworks,
      parts.accounting,
      parts.agents,
      { startedAt, deadline: startedAt + RECOVERY_MS },
      (task) => adopted.push(task),
    );
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function placed(taskId: string, state: TaskState, heardFromAgent: boolean): void {
    parts.tasks.add({
      info: taskInfo(taskId),
      frameworkId: 'fw-1',
      agentId: 'agent-1',
      role: 'ci',
      state,
      heardFromAgent,
    });
  }

  function reported(taskId: string, state: TaskState, frameworkId = 'fw-1'): AgentTask {
    return { frameworkId, role: 'ci', taskInfo: taskInfo(taskId), state };
  }

  /** The agent back with nothing counted on it, as MasterService has it before reconciling. */
  function agentBack(): void {
    parts.accounting.removeAgent(AGENT_INFO.id);
    parts.accounting.addAgent(AGENT_INFO);
  }

  function allocatedOnAgent(): object | undefined {
    return parts.accounting.snapshot().agents[0]?.allocated;
  }

  it('answers a task nobody reported only once agents had the time to re-register', () => {
    reconciliation.reconcile(parts.framework, { tasks: [{ taskId: 'task-1' }] });
    expect(parts.frameworkStream.updates()).toEqual([]);

    vi.advanceTimersByTime(RECOVERY_MS);
    reconciliation.answerDeferred();
    expect(parts.frameworkStream.updates()).toMatchObject([
      { taskId: 'task-1', state: 'TASK_UNKNOWN', reason: 'RECONCILIATION' },
    ]);
  });

  it('answers a task unknown on a registered agent as unknown once past recovery', () => {
    vi.advanceTimersByTime(RECOVERY_MS);
    reconciliation.reconcile(parts.framework, {
      tasks: [{ taskId: 'task-1', agentId: 'agent-1' }],
    });
    expect(parts.frameworkStream.updates()).toMatchObject([
      { taskId: 'task-1', state: 'TASK_UNKNOWN', reason: 'RECONCILIATION' },
    ]);
  });

  it('answers a task on an agent that has not re-registered as unreachable since the master started', () => {
    reconciliation.reconcile(parts.framework, {
      tasks: [{ taskId: 'task-1', agentId: 'agent-9' }],
    });
    vi.advanceTimersByTime(RECOVERY_MS);
    reconciliation.answerDeferred();
    // Asked again (a framework re-subscribed): the same answer, from the same time.
    reconciliation.reconcile(parts.framework, {
      tasks: [{ taskId: 'task-1', agentId: 'agent-9' }],
    });

    const unreachable = {
      taskId: 'task-1',
      state: 'TASK_UNREACHABLE',
      reason: 'RECONCILIATION',
      agentId: 'agent-9',
      unreachableTime: startedAt / 1000,
    };
    expect(parts.frameworkStream.updates()).toMatchObject([unreachable, unreachable]);
  });

  it('tells of an awaited task when its agent returns: its state if it has it, unknown if not', () => {
    vi.advanceTimersByTime(RECOVERY_MS);
    reconciliation.reconcile(parts.framework, {
      tasks: [
        { taskId: 'kept', agentId: 'agent-9' },
        { taskId: 'never-reached', agentId: 'agent-9' },
      ],
    });
    parts.frameworkStream.sent.length = 0;
    parts.accounting.addAgent({ ...AGENT_INFO, id: 'agent-9' });

    reconciliation.agentReregistered('agent-9', [reported('kept', 'TASK_RUNNING')]);
    expect(parts.frameworkStream.updates()).toMatchObject([
      { taskId: 'kept', state: 'TASK_RUNNING', reason: 'RECONCILIATION', agentId: 'agent-9' },
      { taskId: 'never-reached', state: 'TASK_UNKNOWN', reason: 'RECONCILIATION' },
    ]);
    // Told once: the agent's next re-registration says nothing more of it.
    parts.frameworkStream.sent.length = 0;
    parts.accounting.removeAgent('agent-9');
    parts.accounting.addAgent({ ...AGENT_INFO, id: 'agent-9' });
    reconciliation.agentReregistered('agent-9', [reported('kept', 'TASK_RUNNING')]);
    expect(parts.frameworkStream.updates()).toEqual([]);
  });

  it('remembers at most a bounded number of tasks awaited on agents, answering every one', () => {
    vi.advanceTimersByTime(RECOVERY_MS);
    const asked = Array.from({ length: MAX_AWAITED_TASKS + 10 }, (_, i) => ({
      taskId: `t-${i}`,
      agentId: `gone-${i}`,
    }));
    reconciliation.reconcile(parts.framework, { tasks: asked });
    expect(parts.frameworkStream.updates()).toHaveLength(MAX_AWAITED_TASKS + 10);
    const remembered = (reconciliation as unknown as { awaitedAgents: Map<string, unknown> })
      .awaitedAgents;
    expect(remembered.size).toBe(MAX_AWAITED_TASKS);
  });

  it('answers every task of the framework when it names none', () => {
    placed('task-1', 'TASK_RUNNING', true);
    placed('task-2', 'TASK_STAGING', false);

    reconciliation.reconcile(parts.framework, { tasks: [] });
    expect(parts.frameworkStream.updates()).toMatchObject([
      { taskId: 'task-1', state: 'TASK_RUNNING', reason: 'RECONCILIATION', agentId: 'agent-1' },
      { taskId: 'task-2', state: 'TASK_STAGING', reason: 'RECONCILIATION' },
    ]);
  });

  it('counts the running tasks an agent comes back with, and loses or drops the ones it lacks', () => {
    placed('kept', 'TASK_RUNNING', true);
    placed('lost', 'TASK_RUNNING', true);
    placed('never-ran', 'TASK_STAGING', false);
    agentBack();

    reconciliation.agentReregistered('agent-1', [reported('kept', 'TASK_RUNNING')]);
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });
    expect(parts.frameworkStream.updates()).toMatchObject([
      { taskId: 'lost', state: 'TASK_LOST', reason: 'AGENT_RESTARTED' },
      { taskId: 'never-ran', state: 'TASK_DROPPED', reason: 'AGENT_RESTARTED' },
    ]);
    expect([...parts.tasks.values()].map((t) => t.info.taskId)).toEqual(['kept']);
  });

  it('counts nothing for a task the agent comes back with ended', () => {
    placed('task-1', 'TASK_RUNNING', true);
    agentBack();

    reconciliation.agentReregistered('agent-1', [reported('task-1', 'TASK_FINISHED')]);
    expect(parts.tasks.get('task-1')?.state).toBe('TASK_FINISHED');
    expect(parts.accounting.taskHolding('task-1')).toBeUndefined();
    expect(allocatedOnAgent()).toMatchObject({ cpus: 0, mem: 0 });
  });

  it('tells the framework again of a task whose agent was unreachable', () => {
    placed('task-1', 'TASK_UNREACHABLE', true);
    agentBack();

    reconciliation.agentReregistered('agent-1', [reported('task-1', 'TASK_RUNNING')]);
    expect(parts.frameworkStream.updates()).toMatchObject([
      { taskId: 'task-1', state: 'TASK_RUNNING', reason: 'RECONCILIATION' },
    ]);
  });

  it('adopts the framework of a reported task it does not know', () => {
    agentBack();

    reconciliation.agentReregistered('agent-1', [reported('task-1', 'TASK_RUNNING', 'fw-2')]);
    expect(adopted.map((t) => t.frameworkId)).toEqual(['fw-2']);
  });

  it('sends the kills asked for while the agent was away, once', () => {
    placed('task-1', 'TASK_UNREACHABLE', true);
    parts.tasks.get('task-1')!.killPending = true;
    const stream = new RecordingStream();
    const back = [reported('task-1', 'TASK_RUNNING')];

    reconciliation.sendPendingKills(back, stream.asStream());
    reconciliation.sendPendingKills(back, stream.asStream());
    expect(stream.sent).toEqual([
      { type: 'KILL', kill: { frameworkId: 'fw-1', taskId: 'task-1' } },
    ]);
  });
});
