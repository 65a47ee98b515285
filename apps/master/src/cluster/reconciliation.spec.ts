import type { AgentTask, TaskState } from '@kiln/contracts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ANSWER_SLICE,
  MAX_AWAITED_TASKS,
  MAX_DEFERRED_TASKS,
  MAX_UNANSWERED_TASKS,
  Reconciliation,
} from './reconciliation';
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
    for (let start = 0; start < asked.length; start += 10_000) {
      reconciliation.reconcile(parts.framework, { tasks: asked.slice(start, start + 10_000) });
      vi.runAllTimers();
    }
    expect(parts.frameworkStream.updates()).toHaveLength(MAX_AWAITED_TASKS + 10);
    const remembered = (reconciliation as unknown as { awaitedAgents: Map<string, unknown> })
      .awaitedAgents;
    expect(remembered.size).toBe(MAX_AWAITED_TASKS);
  });

  it('answers a large reconciliation in slices, in order, letting other work run between them', async () => {
    vi.useRealTimers();
    const total = 2 * ANSWER_SLICE + ANSWER_SLICE / 2;
    const asked = Array.from({ length: total }, (_, i) => `task-${i}`);
    for (const taskId of asked) placed(taskId, 'TASK_RUNNING', true);
    const updates = (): string[] => parts.frameworkStream.updates().map((u) => u.taskId);

    reconciliation.reconcile(parts.framework, { tasks: asked.map((taskId) => ({ taskId })) });
    // A slice in the turn that brought the call; the rest after other work had its turn: an
    // agent's heartbeat, another framework's call, here the test's own callback.
    expect(updates()).toHaveLength(ANSWER_SLICE);
    const seenBetween = new Promise<number>((resolve) =>
      setImmediate(() => resolve(updates().length)),
    );
    expect(await seenBetween).toBeLessThan(total);
    await vi.waitFor(() => expect(updates()).toHaveLength(total), { timeout: 10_000 });
    expect(updates()).toEqual(asked);
  });

  it('answers the reconciliations of several frameworks in turn', () => {
    const other = new RecordingStream();
    const second = { ...parts.framework, id: 'fw-2', stream: other.asStream() };
    second.deferredReconcile = new Map();
    parts.frameworks.add(second);
    vi.advanceTimersByTime(RECOVERY_MS);
    const asked = (prefix: string): { taskId: string; agentId: string }[] =>
      Array.from({ length: 3 * ANSWER_SLICE }, (_, i) => ({
        taskId: `${prefix}-${i}`,
        agentId: 'agent-1',
      }));

    reconciliation.reconcile(parts.framework, { tasks: asked('a') });
    reconciliation.reconcile(second, { tasks: asked('b') });
    // Each had a slice; the second does not wait for the whole of the first's.
    expect(parts.frameworkStream.updates()).toHaveLength(ANSWER_SLICE);
    expect(other.updates()).toHaveLength(ANSWER_SLICE);
    vi.runOnlyPendingTimers();
    vi.runOnlyPendingTimers();
    expect(parts.frameworkStream.updates()).toHaveLength(2 * ANSWER_SLICE);
    expect(other.updates()).toHaveLength(2 * ANSWER_SLICE);
    vi.runAllTimers();
    expect(other.updates()).toHaveLength(3 * ANSWER_SLICE);
  });

  it('stops answering a subscription that ended: the framework asks again on its new one', () => {
    vi.advanceTimersByTime(RECOVERY_MS);
    const tasks = Array.from({ length: 3 * ANSWER_SLICE }, (_, i) => ({
      taskId: `t-${i}`,
      agentId: 'agent-1',
    }));
    reconciliation.reconcile(parts.framework, { tasks });
    const next = new RecordingStream();
    parts.framework.stream = next.asStream();
    vi.runAllTimers();
    expect(parts.frameworkStream.updates()).toHaveLength(ANSWER_SLICE);
    expect(next.updates()).toEqual([]);
  });

  it("refuses a reconciliation while too many of the framework's tasks wait for their answers", () => {
    vi.advanceTimersByTime(RECOVERY_MS);
    const call = (n: number): void =>
      reconciliation.reconcile(parts.framework, {
        tasks: Array.from({ length: 10_000 }, (_, i) => ({ taskId: `t-${n}-${i}` })),
      });
    let calls = 0;
    for (; calls * 10_000 - ANSWER_SLICE < MAX_UNANSWERED_TASKS; calls++) call(calls);
    expect(thrownBy(() => call(calls))).toMatchObject({
      status: 429,
      message: expect.stringMatching(
        new RegExp(`still being sent, and may have at most ${MAX_UNANSWERED_TASKS}`),
      ) as unknown,
    });
    // Nothing of the refused call is answered; once the others are out, it may ask again.
    vi.runAllTimers();
    expect(parts.frameworkStream.updates()).toHaveLength(calls * 10_000);
    expect(() => call(calls)).not.toThrow();
  });

  it('keeps a task asked about during recovery once, however often it is asked about', () => {
    const asked = { tasks: [{ taskId: 'task-1', agentId: 'agent-9' }] };
    for (let i = 0; i < 3; i++) reconciliation.reconcile(parts.framework, asked);
    reconciliation.reconcile(parts.framework, {
      tasks: [{ taskId: 'task-1', agentId: 'agent-1' }],
    });
    expect([...parts.framework.deferredReconcile.values()]).toEqual([
      { taskId: 'task-1', agentId: 'agent-1' },
    ]);

    vi.advanceTimersByTime(RECOVERY_MS);
    reconciliation.answerDeferred();
    expect(parts.frameworkStream.updates()).toMatchObject([
      { taskId: 'task-1', state: 'TASK_UNKNOWN', reason: 'RECONCILIATION' },
    ]);
  });

  it('refuses a call that would keep more tasks through recovery than one framework may, keeping none of it', () => {
    const call = (from: number, n: number): void =>
      reconciliation.reconcile(parts.framework, {
        tasks: Array.from({ length: n }, (_, i) => ({ taskId: `t-${from + i}` })),
      });
    for (let from = 0; from < MAX_DEFERRED_TASKS; from += 10_000) call(from, 10_000);
    expect(parts.framework.deferredReconcile.size).toBe(MAX_DEFERRED_TASKS);

    // Asking again about tasks already kept grows nothing, and is taken.
    call(0, 10_000);
    // One more: refused whole, naming the bound, what is kept and what the call adds.
    expect(thrownBy(() => call(MAX_DEFERRED_TASKS - 5, 10))).toMatchObject({
      status: 429,
      message: expect.stringMatching(
        new RegExp(
          `keeps at most ${MAX_DEFERRED_TASKS} of them per framework, framework fw-1 has ` +
            `${MAX_DEFERRED_TASKS}, and this call adds 5`,
        ),
      ) as unknown,
    });
    expect(parts.framework.deferredReconcile.size).toBe(MAX_DEFERRED_TASKS);
    expect(parts.frameworkStream.updates()).toEqual([]);

    vi.advanceTimersByTime(RECOVERY_MS);
    reconciliation.answerDeferred();
    vi.runAllTimers();
    expect(parts.frameworkStream.updates()).toHaveLength(MAX_DEFERRED_TASKS);
    expect(parts.framework.deferredReconcile.size).toBe(0);
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

  it("answers a framework's implicit reconciliation from its own tasks, never every task's", () => {
    placed('task-1', 'TASK_RUNNING', true);
    parts.tasks.add({
      ...parts.tasks.get('task-1')!,
      info: taskInfo('other'),
      frameworkId: 'fw-2',
    });
    // Read for each of a frame's thousands of calls, every task of the cluster held the loop.
    parts.tasks.values = () => {
      throw new Error('an implicit reconciliation read every task of the cluster');
    };

    reconciliation.reconcile(parts.framework, { tasks: [] });
    expect(parts.frameworkStream.updates()).toMatchObject([{ taskId: 'task-1' }]);
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

  it('leaves a task where it runs when another agent comes back with a copy of it, for that copy to be killed', () => {
    placed('task-1', 'TASK_RUNNING', true);
    agentBack();
    reconciliation.agentReregistered('agent-1', [reported('task-1', 'TASK_RUNNING')]);
    const second = { ...AGENT_INFO, id: 'agent-2', hostname: 'second' };
    parts.agents.register(second, new RecordingStream().asStream());
    parts.accounting.addAgent(second);

    const strays = reconciliation.agentReregistered('agent-2', [
      reported('task-1', 'TASK_RUNNING'),
    ]);

    expect(strays.map((t) => t.taskInfo.taskId)).toEqual(['task-1']);
    expect(parts.tasks.get('task-1')).toMatchObject({ agentId: 'agent-1', state: 'TASK_RUNNING' });
    expect(allocatedOnAgent()).toMatchObject({ cpus: 1, mem: 512 });
    expect(parts.frameworkStream.updates()).toEqual([]);
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

/** What `fn` throws (it must throw). */
function thrownBy(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
