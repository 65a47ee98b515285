import {
  contains,
  formatResources,
  isTerminal,
  resources,
  sharedPorts,
  shortfall,
  sum,
  type AgentUpdate,
  type SchedulerCall,
  type TaskState,
} from '@kiln/contracts';
import { BadRequestException, ConflictException, ForbiddenException, Logger } from '@nestjs/common';
import type { AgentRecord, AgentRegistry } from './agent-registry';
import type { AllocationLoop } from './allocation-loop';
import { sendUpdate, type FrameworkRecord, type FrameworkRegistry } from './framework-registry';
import type { OfferBook } from './offer-book';
import type { ResourceAccounting } from './resource-accounting';
import { masterStatus, progress, type TaskBook } from './task-book';

type Accept = NonNullable<SchedulerCall['accept']>;
type Acknowledge = NonNullable<SchedulerCall['acknowledge']>;

/**
 * A task's life through the master: launched from a framework's offers, killed, its agent's status
 * updates forwarded to the framework (and its resources given back when one says it ended), and
 * completed once the framework acknowledged its end.
 */
export class TaskLifecycle {
  private readonly logger = new Logger(TaskLifecycle.name);

  constructor(
    private readonly tasks: TaskBook,
    private readonly offers: OfferBook,
    private readonly accounting: ResourceAccounting,
    private readonly agents: AgentRegistry,
    private readonly frameworks: FrameworkRegistry,
    private readonly allocation: AllocationLoop,
    private readonly defaultRefuseSeconds: number,
  ) {}

  /** LAUNCHes the tasks on the offers' agent; the offers' unused part goes back at once. */
  accept(framework: FrameworkRecord, accept: Accept): void {
    // Everything is checked before anything changes: a refused ACCEPT leaves offers, tasks and
    // agents exactly as they were.
    const offers = this.offers.owned(framework.id, accept.offerIds);
    const agentIds = new Set(offers.map((o) => o.agentId));
    const roles = new Set(offers.map((o) => o.role));
    const first = offers[0];
    if (first === undefined || agentIds.size !== 1 || roles.size !== 1) {
      throw new BadRequestException('offers accepted together must be of one agent and one role');
    }
    const { agentId, role } = first;
    const agent = this.agents.get(agentId);
    if (agent?.state !== 'ACTIVE' || agent.stream === undefined) {
      throw new ConflictException(`agent ${agentId} is no longer connected`);
    }
    const offered = sum(offers.map((o) => o.resources));
    const launches = accept.operations.flatMap((op) => op.launch.taskInfos);
    const seen = new Set<string>();
    for (const task of launches) {
      if (seen.has(task.taskId) || this.tasks.has(task.taskId)) {
        throw new ConflictException(`task id ${task.taskId} is already in use`);
      }
      seen.add(task.taskId);
    }
    // Whether the agent can contain a task is the agent's call: it answers TASK_ERROR with the
    // reason, which the framework sees like any other outcome of the task. Summed in one pass:
    // tens of thousands of tasks, each on a port of its own, must not stall the master.
    const needs = launches.map((task) => ({
      taskId: task.taskId,
      resources: resources(task.resources),
    }));
    // Summed, a port two tasks ask for counts once: it would be held once and freed twice.
    const shared = sharedPorts(needs.map((task) => task.resources));
    if (shared !== undefined) {
      const [begin, end] = shared.range;
      throw new BadRequestException(
        `task ${needs[shared.holders[1]]?.taskId} asks for ports ${begin}-${end}, which another task of the call asks for too`,
      );
    }
    const wanted = sum(needs.map((task) => task.resources));
    if (!contains(offered, wanted)) {
      throw new BadRequestException(
        `the tasks need more than the offers hold: ${shortfall(offered, wanted).join('; ')} ` +
          `(offered ${formatResources(offered)})`,
      );
    }

    this.offers.use(offers);
    this.accounting.launch(
      offers.map((o) => o.id),
      needs,
      accept.filters?.refuseSeconds ?? this.defaultRefuseSeconds,
    );
    for (const task of launches) {
      this.tasks.add({
        info: task,
        frameworkId: framework.id,
        agentId,
        role,
        state: 'TASK_STAGING',
      });
      agent.stream.send({ type: 'LAUNCH', launch: { frameworkId: framework.id, role, task } });
    }
    this.allocation.schedule();
  }

  kill(framework: FrameworkRecord, taskId: string): void {
    const task = this.tasks.get(taskId);
    if (task === undefined || task.frameworkId !== framework.id) {
      sendUpdate(framework, masterStatus(taskId, 'TASK_UNKNOWN', undefined, 'unknown task'));
      return;
    }
    const agent = this.agents.get(task.agentId);
    if (isTerminal(task.state)) return;
    if (agent?.state === 'ACTIVE') {
      agent.stream?.send({ type: 'KILL', kill: { frameworkId: framework.id, taskId } });
    } else {
      // A partitioned agent may come back with the task still running (the framework gave it
      // up and replaced it meanwhile): it is killed then, whatever the framework does.
      task.killPending = true;
      this.logger.warn(`kill of ${taskId} waits: agent ${task.agentId} is ${agent?.state}`);
    }
  }

  /** Passes the framework's acknowledgement on to the agent; an acknowledged end completes the task. */
  acknowledge(framework: FrameworkRecord, ack: Acknowledge): void {
    const task = this.tasks.get(ack.taskId);
    if (task !== undefined && task.frameworkId !== framework.id) {
      throw new ForbiddenException(`task ${ack.taskId} belongs to another framework`);
    }
    // The task's agent waits for this acknowledgement before it sends its next update: one that
    // names another agent would never reach it, yet complete the task here.
    if (task !== undefined && task.agentId !== ack.agentId) {
      throw new BadRequestException(
        `task ${ack.taskId} runs on agent ${task.agentId}, not on agent ${ack.agentId}`,
      );
    }
    const agent = this.agents.get(ack.agentId);
    agent?.stream?.send({
      type: 'ACKNOWLEDGED',
      acknowledged: { taskId: ack.taskId, uuid: ack.uuid },
    });
    if (task !== undefined && isTerminal(task.state) && task.status?.uuid === ack.uuid) {
      this.tasks.complete(task);
    }
  }

  /** A status update from `agent` (whose subscription was checked): recorded and forwarded. */
  agentUpdate(agent: AgentRecord, update: AgentUpdate): void {
    const { status } = update;
    if (status.uuid === undefined) {
      throw new BadRequestException('an agent status update needs a uuid to be acknowledged');
    }
    status.agentId = agent.info.id;
    status.frameworkId = update.frameworkId;
    const acknowledgeForFramework = (): void => {
      agent.stream?.send({
        type: 'ACKNOWLEDGED',
        acknowledged: { taskId: status.taskId, uuid: status.uuid },
      });
    };
    const task = this.tasks.find(status.taskId);
    // Only the agent that runs a task speaks for it, and only to its framework: another agent's
    // word would end it (and free what it holds) while it runs on. Such a word is of a second copy
    // of the task (killed when its agent registered, see Reconciliation.isStray): it is
    // acknowledged, so that the agent stops sending it, and goes no further.
    if (task !== undefined && task.agentId !== agent.info.id) {
      this.logger.warn(
        `dropped ${status.state} of task ${status.taskId} from agent ${agent.info.id}: the task ` +
          `runs on agent ${task.agentId}`,
      );
      acknowledgeForFramework();
      return;
    }
    if (task !== undefined && task.frameworkId !== update.frameworkId) {
      throw new ForbiddenException(
        `task ${status.taskId} is of framework ${task.frameworkId}, not of ${update.frameworkId}`,
      );
    }
    if (task !== undefined && overtaken(task.state, status.state)) {
      // An update overtaken by a later one: a retry that reached us late, or one a restarted
      // agent resends because its acknowledgement was lost with the agent. A framework must
      // never see a task go back (say run again after it ended), so it is not forwarded; but
      // the agent waits for its acknowledgement before it sends the next, so the master gives
      // it, on the framework's behalf, or the task's later updates would never leave the agent.
      return acknowledgeForFramework();
    }
    if (task !== undefined) {
      task.state = status.state;
      task.status = status;
      task.heardFromAgent = true;
      // The first word that the task ended frees what it held, even if that is only the latest
      // state an earlier update carries; releaseTask gives each holding back once.
      const ended =
        isTerminal(status.state) ||
        (update.latestState !== undefined && isTerminal(update.latestState));
      if (ended && this.accounting.releaseTask(task.info.taskId)) this.allocation.schedule();
    }
    const framework = this.frameworks.get(update.frameworkId);
    if (framework === undefined) {
      // Nobody will ever acknowledge it: answer for the framework so the agent stops retrying.
      acknowledgeForFramework();
      if (task !== undefined && isTerminal(task.state)) this.tasks.complete(task);
      return;
    }
    // A disconnected framework misses it; the agent retries until it is acknowledged.
    sendUpdate(framework, status);
  }
}

/**
 * Whether an update in `next` comes too late for a task in `current`: it would move the task
 * back, or end an ended task again in another state (a replayed or corrupt checkpoint), which
 * would tell its framework it ended twice, differently, and show it as it no longer is. A repeat
 * of the end it had is a retry, and goes through.
 */
function overtaken(current: TaskState, next: TaskState): boolean {
  return progress(next) < progress(current) || (isTerminal(current) && next !== current);
}
