import {
  isTerminal,
  type TaskInfo,
  type TaskReason,
  type TaskState,
  type TaskStatus,
} from '@kiln/contracts';
import { sendUpdate, type FrameworkRegistry } from './framework-registry';
import type { ResourceAccounting } from './resource-accounting';

/** Terminal tasks kept for the operator API once acknowledged. */
const COMPLETED_TASKS_KEPT = 1_000;

export interface TaskRecord {
  info: TaskInfo;
  frameworkId: string;
  agentId: string;
  role: string;
  state: TaskState;
  status?: TaskStatus;
  /** The framework asked for a kill the agent could not get yet (it was away): sent on return. */
  killPending?: boolean;
  /**
   * Whether the agent has ever told of the task (an update, or its list on re-registering): until
   * then its LAUNCH may have been lost on the way, with nothing of the task ever run.
   */
  heardFromAgent?: boolean;
}

/**
 * The tasks the master knows: live ones (including ended ones whose end the framework has not
 * acknowledged yet) and the last completed ones. What they hold is the accounting's business.
 */
export class TaskBook {
  private readonly live = new Map<string, TaskRecord>();
  private readonly completedTasks: TaskRecord[] = [];
  /**
   * The completed tasks by id (the latest of an id): a reconciliation of thousands of unknown
   * tasks looks each up here, and a search of the list took each a thousand comparisons.
   */
  private readonly completedById = new Map<string, TaskRecord>();
  /**
   * The live tasks of each framework: a framework's implicit reconciliation reads its own, where a
   * walk of every task of the cluster for each of a frame's thousands of calls held the master's
   * loop for seconds (its agents' heartbeats unread, and the agents taken for lost).
   */
  private readonly byFramework = new Map<string, Set<TaskRecord>>();

  constructor(
    private readonly accounting: ResourceAccounting,
    private readonly frameworks: FrameworkRegistry,
  ) {}

  get(taskId: string): TaskRecord | undefined {
    return this.live.get(taskId);
  }

  /** A live task, or else a completed one. */
  find(taskId: string): TaskRecord | undefined {
    return this.live.get(taskId) ?? this.completedById.get(taskId);
  }

  has(taskId: string): boolean {
    return this.live.has(taskId);
  }

  add(task: TaskRecord): void {
    const earlier = this.live.get(task.info.taskId);
    if (earlier !== undefined) this.unindex(earlier);
    this.live.set(task.info.taskId, task);
    let ofFramework = this.byFramework.get(task.frameworkId);
    if (ofFramework === undefined) {
      ofFramework = new Set();
      this.byFramework.set(task.frameworkId, ofFramework);
    }
    ofFramework.add(task);
  }

  values(): IterableIterator<TaskRecord> {
    return this.live.values();
  }

  /** The framework's live tasks. */
  ofFramework(frameworkId: string): Iterable<TaskRecord> {
    return this.byFramework.get(frameworkId) ?? [];
  }

  /** Live tasks placed on `agentId` that have not ended. */
  runningOn(agentId: string): TaskRecord[] {
    return [...this.live.values()].filter((t) => t.agentId === agentId && !isTerminal(t.state));
  }

  completed(): readonly TaskRecord[] {
    return this.completedTasks;
  }

  /** A state change the master decides (agent lost, unreachable): told to the framework once. */
  masterTransition(task: TaskRecord, state: TaskState, reason: TaskReason, message: string): void {
    task.state = state;
    // An ended task holds nothing (the paths that end it here took it out of the books already).
    if (isTerminal(state)) this.accounting.releaseTask(task.info.taskId);
    const status = masterStatus(task.info.taskId, state, reason, message);
    status.agentId = task.agentId;
    if (state === 'TASK_UNREACHABLE') status.unreachableTime = status.timestamp;
    task.status = status;
    const framework = this.frameworks.get(task.frameworkId);
    if (framework) sendUpdate(framework, status);
    if (isTerminal(state)) this.complete(task);
  }

  private unindex(task: TaskRecord): void {
    const ofFramework = this.byFramework.get(task.frameworkId);
    ofFramework?.delete(task);
    if (ofFramework?.size === 0) this.byFramework.delete(task.frameworkId);
  }

  /** An ended task whose end was acknowledged (or never will be) leaves the live set. */
  complete(task: TaskRecord): void {
    if (this.live.get(task.info.taskId) !== task) return;
    this.live.delete(task.info.taskId);
    this.unindex(task);
    this.completedTasks.push(task);
    this.completedById.set(task.info.taskId, task);
    if (this.completedTasks.length > COMPLETED_TASKS_KEPT) {
      const dropped = this.completedTasks.shift();
      if (dropped !== undefined && this.completedById.get(dropped.info.taskId) === dropped) {
        this.completedById.delete(dropped.info.taskId);
      }
    }
  }
}

/** A status the master writes itself (no agent uuid: nothing to acknowledge). */
export function masterStatus(
  taskId: string,
  state: TaskState,
  reason: TaskReason | undefined,
  message: string | undefined,
): TaskStatus {
  const status: TaskStatus = { taskId, state, source: 'MASTER', timestamp: Date.now() / 1000 };
  if (reason !== undefined) status.reason = reason;
  if (message !== undefined) status.message = message;
  return status;
}

/** How far along its life a task is: states only ever move forward. */
export function progress(state: TaskState): number {
  if (isTerminal(state)) return 3;
  switch (state) {
    case 'TASK_STAGING':
      return 0;
    case 'TASK_STARTING':
      return 1;
    default:
      return 2; // running, killing, unreachable: a re-registered agent may say RUNNING again
  }
}
