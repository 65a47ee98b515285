import {
  contains,
  formatResources,
  isTerminal,
  resources,
  sharedPorts,
  shortfall,
  sum,
  type AgentInfo,
  type AgentTask,
  type Reconcile,
  type ReconcileTask,
  type Resources,
  type TaskStatus,
} from '@kiln/contracts';
import { BadRequestException, HttpException, HttpStatus } from '@nestjs/common';
import type { EventStream } from '../streams/event-stream';
import type { AgentRegistry } from './agent-registry';
import { sendUpdate, type FrameworkRecord, type FrameworkRegistry } from './framework-registry';
import type { ResourceAccounting } from './resource-accounting';
import { masterStatus, type TaskBook, type TaskRecord } from './task-book';

/**
 * Bringing the master's view of tasks and what frameworks and agents know back into agreement:
 * a framework's RECONCILE (all its tasks, or the ones it names), and an agent's re-registration
 * with the tasks it has (after a partition, an agent restart or a master restart).
 */
/** Tasks on agents not heard from that the master remembers being asked about, at most. */
export const MAX_AWAITED_TASKS = 100_000;

/**
 * Tasks of one framework the master keeps to answer once agents had the time to re-register
 * after its restart, at most: as many as it remembers awaited on agents, for all frameworks.
 */
export const MAX_DEFERRED_TASKS = 100_000;

/**
 * Tasks of one framework whose answers may wait to be sent, at most: its further RECONCILEs are
 * refused until they are out, so a framework cannot ask faster than it is answered for ever.
 */
export const MAX_UNANSWERED_TASKS = 100_000;

/**
 * Tasks answered in one turn of the event loop, at most (a few milliseconds' work): a large
 * reconciliation goes out in slices, with agents' heartbeats and other frameworks' calls between.
 */
export const ANSWER_SLICE = 1_000;

/** One RECONCILE's tasks, answered from `next` on. */
interface Asked {
  readonly tasks: readonly ReconcileTask[];
  /** Implicit reconciliation: the framework's live tasks when it asked, each answered if still live. */
  readonly implicit: boolean;
  next: number;
}

/** A framework's reconciliations still to answer, oldest first, on the subscription that asked. */
interface Unanswered {
  readonly framework: FrameworkRecord;
  readonly stream: EventStream | undefined;
  readonly calls: Asked[];
  /** The tasks of {@link calls} not answered yet. */
  count: number;
}

export class Reconciliation {
  /**
   * Tasks a framework asked about that are on agents this master has not heard from since it
   * started (agent id to task id to framework id): answered unreachable until the agent returns.
   */
  private readonly awaitedAgents = new Map<string, Map<string, string>>();
  /** The tasks in {@link awaitedAgents}, all agents together. */
  private awaitedTasks = 0;
  /** Frameworks with reconciliations to answer, in the order they are served, by id. */
  private readonly unanswered = new Map<string, Unanswered>();
  private sliceScheduled = false;
  /** Whether the reconciliations deferred through the recovery were handed on to be answered. */
  private recovered = false;

  constructor(
    private readonly tasks: TaskBook,
    private readonly frameworks: FrameworkRegistry,
    private readonly accounting: ResourceAccounting,
    private readonly agents: AgentRegistry,
    /**
     * When this master started, and until when agents may still be re-registering: a task nobody
     * reported yet is not answered before then.
     */
    private readonly recovery: { readonly startedAt: number; readonly deadline: number },
    /** Records a framework known only from an agent's task, until it re-subscribes. */
    private readonly adoptFramework: (task: AgentTask) => void,
  ) {}

  /**
   * Answers with the latest state of each task asked for (all the framework's if none is named).
   * A task's state is read as its answer is sent, so an answer never tells of an older state than
   * an update sent before it; answers to one framework go out in the order it asked. A call is
   * refused whole, before any of it is answered or kept, when too many of the framework's tasks
   * still wait for their answers, or (while the master recovers) to be answered at all.
   */
  reconcile(framework: FrameworkRecord, reconcile: Reconcile): void {
    const waiting = this.unansweredOf(framework)?.count ?? 0;
    if (waiting >= MAX_UNANSWERED_TASKS) {
      throw new HttpException(
        `framework ${framework.id} has ${waiting} reconciled tasks whose answers are still being ` +
          `sent, and may have at most ${MAX_UNANSWERED_TASKS}: ask again once they have come`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    if (reconcile.tasks.length === 0) {
      const tasks: ReconcileTask[] = [];
      for (const task of this.tasks.ofFramework(framework.id)) {
        tasks.push({ taskId: task.info.taskId });
      }
      this.enqueue(framework, { tasks, implicit: true, next: 0 });
      return;
    }
    const now = this.recovering() ? this.defer(framework, reconcile.tasks) : reconcile.tasks;
    this.enqueue(framework, { tasks: now, implicit: false, next: 0 });
  }

  /** Once agents had the time to re-register: answers the reconciliations deferred until then. */
  answerDeferred(): void {
    this.recovered = true;
    for (const framework of this.frameworks.values()) {
      const deferred = [...framework.deferredReconcile.values()];
      framework.deferredReconcile.clear();
      this.enqueue(framework, { tasks: deferred, implicit: false, next: 0 });
    }
  }

  private recovering(): boolean {
    return !this.recovered && Date.now() < this.recovery.deadline;
  }

  /**
   * While agents may still be re-registering: keeps the tasks asked for that this master does not
   * know, to answer once they had the time, and returns the others, to answer now. A task asked
   * about again is kept once, with the agent named last.
   *
   * Past {@link MAX_DEFERRED_TASKS}, the call is refused whole (429), and nothing of it is kept or
   * answered. A Mesos master answers nothing for a task whose agent may still re-register, and
   * its frameworks ask again, with backoff, until every task is answered; Kiln keeps the question
   * instead, which spares that retry but costs memory the framework decides. Dropping the oldest
   * kept tasks would break the promise silently, for tasks the framework no longer knows it must
   * ask about again; a refusal tells it exactly which ones to ask about, and when.
   */
  private defer(framework: FrameworkRecord, asked: readonly ReconcileTask[]): ReconcileTask[] {
    const known: ReconcileTask[] = [];
    const unknown = new Map<string, ReconcileTask>();
    for (const task of asked) {
      if (this.isKnown(framework, task.taskId)) known.push(task);
      else unknown.set(task.taskId, task);
    }
    const deferred = framework.deferredReconcile;
    let added = 0;
    for (const taskId of unknown.keys()) if (!deferred.has(taskId)) added += 1;
    if (deferred.size + added > MAX_DEFERRED_TASKS) {
      const seconds = Math.ceil((this.recovery.deadline - Date.now()) / 1000);
      throw new HttpException(
        `the master restarted and answers tasks it does not know yet once agents had the time ` +
          `to re-register (in ${seconds} s); it keeps at most ${MAX_DEFERRED_TASKS} of them per ` +
          `framework, framework ${framework.id} has ${deferred.size}, and this call adds ` +
          `${added}: ask about them then`,
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    for (const [taskId, task] of unknown) deferred.set(taskId, copyAsked(task));
    return known;
  }

  private isKnown(framework: FrameworkRecord, taskId: string): boolean {
    return this.tasks.find(taskId)?.frameworkId === framework.id;
  }

  /**
   * Queues a call's tasks to answer, behind the framework's earlier ones. A framework with none
   * waiting is answered a slice at once: most calls are no larger, and are answered in the turn
   * that brought them.
   */
  private enqueue(framework: FrameworkRecord, asked: Asked): void {
    if (asked.tasks.length === 0) return;
    let waiting = this.unansweredOf(framework);
    if (waiting === undefined) {
      waiting = { framework, stream: framework.stream, calls: [], count: 0 };
      this.unanswered.set(framework.id, waiting);
    }
    waiting.calls.push(asked);
    waiting.count += asked.tasks.length;
    if (waiting.calls.length === 1) {
      this.answerSlice(waiting);
      if (waiting.count === 0) this.unanswered.delete(framework.id);
    }
    this.scheduleSlice();
  }

  /**
   * The framework's reconciliations still to answer. Those its previous subscription asked for
   * are dropped: nothing would tell their answers from the new subscription's, and a framework
   * that subscribes again reconciles again.
   */
  private unansweredOf(framework: FrameworkRecord): Unanswered | undefined {
    const waiting = this.unanswered.get(framework.id);
    if (waiting !== undefined && !this.stillAsking(waiting)) {
      this.unanswered.delete(framework.id);
      return undefined;
    }
    return waiting;
  }

  private stillAsking(waiting: Unanswered): boolean {
    const { framework, stream } = waiting;
    return this.frameworks.get(framework.id) === framework && framework.stream === stream;
  }

  private scheduleSlice(): void {
    if (this.sliceScheduled || this.unanswered.size === 0) return;
    this.sliceScheduled = true;
    setImmediate(() => {
      this.sliceScheduled = false;
      this.answerNext();
      this.scheduleSlice();
    });
  }

  /** Answers a slice of the next framework's tasks; the frameworks take turns. */
  private answerNext(): void {
    const waiting = this.unanswered.values().next().value;
    if (waiting === undefined) return;
    const id = waiting.framework.id;
    this.unanswered.delete(id);
    if (!this.stillAsking(waiting)) return;
    this.answerSlice(waiting);
    if (waiting.count > 0) this.unanswered.set(id, waiting);
  }

  private answerSlice(waiting: Unanswered): void {
    let budget = ANSWER_SLICE;
    while (budget > 0) {
      const asked = waiting.calls[0];
      if (asked === undefined) return;
      const end = Math.min(asked.tasks.length, asked.next + budget);
      budget -= end - asked.next;
      waiting.count -= end - asked.next;
      for (; asked.next < end; asked.next++) {
        this.answerOne(waiting.framework, asked, asked.tasks[asked.next]!);
      }
      if (asked.next === asked.tasks.length) waiting.calls.shift();
    }
  }

  private answerOne(
    framework: FrameworkRecord,
    asked: Asked,
    { taskId, agentId }: ReconcileTask,
  ): void {
    if (asked.implicit) {
      // Gone from the live tasks since: the framework acknowledged its end.
      const task = this.tasks.get(taskId);
      if (task?.frameworkId === framework.id) this.sendLatest(framework, task);
      return;
    }
    const task = this.tasks.find(taskId);
    if (task !== undefined && task.frameworkId === framework.id) {
      this.sendLatest(framework, task);
    } else if (this.recovering()) {
      // Known when asked for, and no longer (out of the completed tasks kept): kept like the
      // unknown tasks of its call if there is room; if not, left unanswered, as Mesos leaves it.
      const deferred = framework.deferredReconcile;
      if (deferred.has(taskId) || deferred.size < MAX_DEFERRED_TASKS) {
        deferred.set(taskId, copyAsked({ taskId, agentId }));
      }
    } else if (agentId !== undefined && this.agents.get(agentId) === undefined) {
      this.awaitAgent(framework, taskId, agentId);
    } else {
      sendUpdate(
        framework,
        masterStatus(taskId, 'TASK_UNKNOWN', 'RECONCILIATION', 'the cluster has no such task'),
      );
    }
  }

  /**
   * A task on an agent this master has not heard from since it started: the agent may be on the
   * far side of a partition with the task still running, so the cluster cannot say it has no such
   * task (a framework would launch it again). As Mesos does for an agent its registry lists as
   * unreachable, the task is unreachable, since the master started (the agent's silence began
   * before, but no earlier time is known); the framework's partition timeout decides from there.
   */
  private awaitAgent(framework: FrameworkRecord, taskId: string, agentId: string): void {
    const awaited = this.awaitedAgents.get(agentId) ?? new Map<string, string>();
    // Past the bound, a task is answered but not remembered: when its agent returns, its
    // framework learns nothing more of it unless it asks again. Agent ids are the framework's
    // word, so without a bound any id it names would be kept for ever.
    if (awaited.has(taskId) || this.awaitedTasks < MAX_AWAITED_TASKS) {
      if (!awaited.has(taskId)) this.awaitedTasks += 1;
      awaited.set(taskId, framework.id);
      this.awaitedAgents.set(agentId, awaited);
    }
    const status = masterStatus(
      taskId,
      'TASK_UNREACHABLE',
      'RECONCILIATION',
      `agent ${agentId} has not re-registered since the master restarted`,
    );
    status.agentId = agentId;
    status.unreachableTime = this.recovery.startedAt / 1000;
    sendUpdate(framework, status);
  }

  /**
   * Refuses, before anything changes, a (re-)registration whose tasks the agent cannot hold. Its
   * live tasks are counted on it as {@link agentReregistered} counts them (as the master launched
   * them, if it did), and the allocator cannot count more than the agent has: halfway through,
   * the agent would be registered, some tasks adopted, and no SUBSCRIBED ever sent. An agent that
   * restarted with less than its tasks still use, or whose list is corrupt, is told what is wrong.
   */
  checkReported(info: AgentInfo, reported: readonly AgentTask[]): void {
    const seen = new Set<string>();
    const live: { taskId: string; holds: Resources }[] = [];
    for (const task of reported) {
      const taskId = task.taskInfo.taskId;
      if (seen.has(taskId)) throw new BadRequestException(`task ${taskId} is reported twice`);
      seen.add(taskId);
      if (isTerminal(task.state)) continue;
      const launched = this.tasks.get(taskId)?.info ?? task.taskInfo;
      live.push({ taskId, holds: resources(launched.resources) });
    }
    const shared = sharedPorts(live.map((t) => t.holds));
    if (shared !== undefined) {
      const [first, second] = [live[shared.holders[0]], live[shared.holders[1]]];
      throw new BadRequestException(
        `tasks ${first?.taskId} and ${second?.taskId} both hold ports ${shared.range[0]}-${shared.range[1]}`,
      );
    }
    const total = resources(info.resources);
    const used = sum(live.map((t) => t.holds));
    if (!contains(total, used)) {
      throw new BadRequestException(
        `agent ${info.id}'s tasks hold more than it has: ${shortfall(total, used).join('; ')} ` +
          `(it has ${formatResources(total)})`,
      );
    }
  }

  /**
   * An agent (re-)registered with `reported` tasks: they are counted on it again, the tasks the
   * master placed there that it no longer has are lost or dropped. The agent must be in the
   * accounting's books, with nothing counted on it yet. Returns the reported tasks that are second
   * copies of a task another agent runs (see {@link isStray}), for the agent to be told to kill.
   */
  agentReregistered(agentId: string, reported: readonly AgentTask[]): AgentTask[] {
    const reportedIds = new Set(reported.map((t) => t.taskInfo.taskId));
    const strays: AgentTask[] = [];
    for (const task of reported) {
      if (this.isStray(agentId, task)) strays.push(task);
      else this.adoptTask(agentId, task);
    }
    this.answerAwaited(agentId, reportedIds);
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
    return strays;
  }

  /**
   * Whether the agent's running `reported` task is a second copy of one another agent runs and
   * told of: a framework that launched an id again while this master did not know the first (it
   * had restarted), as Mesos takes it, a framework's error. The task stays where it is: moving it
   * freed what the other copy holds, and left that agent's word on it refused for good.
   */
  private isStray(agentId: string, reported: AgentTask): boolean {
    const task = this.tasks.get(reported.taskInfo.taskId);
    return (
      task !== undefined &&
      task.agentId !== agentId &&
      task.heardFromAgent === true &&
      !isTerminal(task.state) &&
      !isTerminal(reported.state) &&
      this.agents.get(task.agentId)?.state === 'ACTIVE'
    );
  }

  /**
   * The agent that frameworks' tasks were awaited on is back: the ones it reported were told of
   * as it adopted them; the others it does not have, and their frameworks learn so now.
   */
  private answerAwaited(agentId: string, reportedIds: ReadonlySet<string>): void {
    const awaited = this.awaitedAgents.get(agentId);
    if (awaited === undefined) return;
    this.awaitedAgents.delete(agentId);
    this.awaitedTasks -= awaited.size;
    for (const [taskId, frameworkId] of awaited) {
      const framework = this.frameworks.get(frameworkId);
      if (reportedIds.has(taskId) || framework === undefined) continue;
      sendUpdate(
        framework,
        masterStatus(
          taskId,
          'TASK_UNKNOWN',
          'RECONCILIATION',
          `agent ${agentId} re-registered without the task`,
        ),
      );
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

/** A task asked about, as kept until it is answered: its id, and its agent if one was named. */
function copyAsked({ taskId, agentId }: ReconcileTask): ReconcileTask {
  return agentId === undefined ? { taskId } : { taskId, agentId };
}
