import {
  isTerminal,
  resources,
  type AgentTask,
  type Reconcile,
  type TaskStatus,
} from '@kiln/contracts';
import type { EventStream } from '../streams/event-stream';
import { sendUpdate, type FrameworkRecord, type FrameworkRegistry } from './framework-registry';
import type { ResourceAccounting } from './resource-accounting';
import { masterStatus, type TaskBook, type TaskRecord } from './task-book';

/**
 * Bringing the master's view of tasks and what frameworks and agents know back into agreement:
 * a framework's RECONCILE (all its tasks, or the ones it names), and an agent's re-registration
 * with the tasks it has (after a partition, an agent restart or a master restart).
 */
export class Reconciliation {
  constructor(
    private readonly tasks: TaskBook,
    private readonly frameworks: FrameworkRegistry,
    private readonly accounting: ResourceAccounting,
    /** Until then agents may still be re-registering after a master restart. */
    private readonly recoveryDeadline: number,
    /** Records a framework known only from an agent's task, until it re-subscribes. */
    private readonly adoptFramework: (task: AgentTask) => void,
  ) {}

  /** Answers with the latest state of each task asked for (all the framework's if none is named). */
  reconcile(framework: FrameworkRecord, reconcile: Reconcile): void {
    if (reconcile.tasks.length === 0) {
      for (const task of this.tasks.values()) {
        if (task.frameworkId === framework.id) this.sendLatest(framework, task);
      }
      return;
    }
    for (const { taskId } of reconcile.tasks) {
      const task = this.tasks.find(taskId);
      if (task !== undefined && task.frameworkId === framework.id) {
        this.sendLatest(framework, task);
      } else if (Date.now() < this.recoveryDeadline) {
        framework.deferredReconcile.push(taskId);
      } else {
        sendUpdate(
          framework,
          masterStatus(taskId, 'TASK_UNKNOWN', 'RECONCILIATION', 'the cluster has no such task'),
        );
      }
    }
  }

  /** Once agents had the time to re-register: answers the reconciliations deferred until then. */
  answerDeferred(): void {
    for (const framework of this.frameworks.values()) {
      const taskIds = framework.deferredReconcile.splice(0);
      if (taskIds.length > 0) {
        this.reconcile(framework, { tasks: taskIds.map((taskId) => ({ taskId })) });
      }
    }
  }

  /**
   * An agent (re-)registered with `reported` tasks: they are counted on it again, the tasks the
   * master placed there that it no longer has are lost or dropped. The agent must be in the
   * accounting's books, with nothing counted on it yet.
   */
  agentReregistered(agentId: string, reported: readonly AgentTask[]): void {
    const reportedIds = new Set(reported.map((t) => t.taskInfo.taskId));
    for (const task of reported) this.adoptTask(agentId, task);
    for (const task of this.tasks.runningOn(agentId)) {
      if (reportedIds.has(task.info.taskId)) continue;
      if (task.heardFromAgent === true) {
        this.tasks.masterTransition(
          task,
          'TASK_LOST',
          'AGENT_RESTARTED',
          'the agent no longer has the task',
        );
      } else {
        // The agent keeps a task from its LAUNCH on: one it never had, it never ran. A
        // partition-aware framework may launch it again (Mesos' TASK_DROPPED).
        this.tasks.masterTransition(
          task,
          'TASK_DROPPED',
          'AGENT_RESTARTED',
          'the agent restarted before the launch reached it; the task never ran',
        );
      }
    }
  }

  private adoptTask(agentId: string, reported: AgentTask): void {
    const taskId = reported.taskInfo.taskId;
    let task = this.tasks.get(taskId);
    // Its framework last heard something else: unreachable, or (from a master that has
    // restarted since) TASK_UNKNOWN in answer to a kill. It must learn what the task is now, to
    // kill one it gave up and replaced; Mesos tells partition-aware frameworks the same way.
    const wasUnreachable = task?.state === 'TASK_UNREACHABLE';
    const wasUnknown = task === undefined;
    if (task === undefined) {
      task = {
        info: reported.taskInfo,
        frameworkId: reported.frameworkId,
        agentId,
        role: reported.role,
        state: reported.state,
      };
      this.tasks.add(task);
    } else {
      task.state = reported.state;
      task.agentId = agentId;
    }
    task.heardFromAgent = true;
    if (!this.frameworks.has(reported.frameworkId)) this.adoptFramework(reported);
    // A task the agent tells of as ended holds nothing: its terminal update, still to come, frees
    // nothing either.
    if (!isTerminal(task.state)) {
      this.accounting.countTask(taskId, {
        frameworkId: task.frameworkId,
        agentId,
        role: task.role,
        resources: resources(task.info.resources),
      });
    }
    if (wasUnreachable || (wasUnknown && !isTerminal(task.state))) {
      const framework = this.frameworks.get(task.frameworkId);
      if (framework) this.sendLatest(framework, task);
    }
  }

  /** Kills the framework asked for while the agent was away, sent once it is subscribed again. */
  sendPendingKills(reported: readonly AgentTask[], stream: EventStream): void {
    for (const taskId of new Set(reported.map((t) => t.taskInfo.taskId))) {
      const task = this.tasks.get(taskId);
      if (task?.killPending !== true || isTerminal(task.state)) continue;
      task.killPending = false;
      stream.send({ type: 'KILL', kill: { frameworkId: task.frameworkId, taskId } });
    }
  }

  /** The task's latest state, as a reconciliation answer. */
  sendLatest(framework: FrameworkRecord, task: TaskRecord): void {
    const status: TaskStatus = masterStatus(
      task.info.taskId,
      task.state,
      'RECONCILIATION',
      task.status?.message,
    );
    status.agentId = task.agentId;
    if (task.status?.exitCode !== undefined) status.exitCode = task.status.exitCode;
    // The framework's give-up deadline counts from when the agent went silent, not from now.
    if (task.state === 'TASK_UNREACHABLE' && task.status?.unreachableTime !== undefined) {
      status.unreachableTime = task.status.unreachableTime;
    }
    sendUpdate(framework, status);
  }
}
