import { HierarchicalDrfAllocator, type Allocation } from '@kiln/cluster';
import { MasterEnv } from '@kiln/config';
import {
  add,
  contains,
  emptyResources,
  formatResources,
  isTerminal,
  resources,
  shortfall,
  subtract,
  type AgentInfo,
  type AgentSubscribe,
  type AgentTask,
  type AgentUpdate,
  type FrameworkInfo,
  type Offer,
  type Reconcile,
  type Resources,
  type SchedulerCall,
  type SchedulerEvent,
  type TaskInfo,
  type TaskReason,
  type TaskState,
  type TaskStatus,
} from '@kiln/contracts';
import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EventStream } from '../streams/event-stream';
import { MasterMetrics } from './master.metrics';
import { parseQuotas, parseWeights } from './role-settings';

/** How long the master keeps a framework nobody re-subscribed after a master restart. */
const ADOPTED_FRAMEWORK_FAILOVER_MS = 10 * 60_000;
/** Terminal tasks kept for the operator API once acknowledged. */
const COMPLETED_TASKS_KEPT = 1_000;
const DEFAULT_REFUSE_SECONDS = 5;
const DEFAULT_FAILOVER_SECONDS = 60;

interface FrameworkRecord {
  id: string;
  name: string;
  roles: string[];
  failoverTimeoutMs: number;
  stream?: EventStream;
  failoverTimer?: NodeJS.Timeout;
  /** Explicit reconciliations of tasks not known yet, answered when agents had time to return. */
  deferredReconcile: string[];
}

type AgentState = 'ACTIVE' | 'DISCONNECTED' | 'UNREACHABLE';

interface AgentRecord {
  info: AgentInfo;
  state: AgentState;
  stream?: EventStream;
  lastSeen: number;
  registeredAt: number;
}

interface OfferRecord {
  offer: Offer;
  createdAt: number;
}

interface TaskRecord {
  info: TaskInfo;
  frameworkId: string;
  agentId: string;
  role: string;
  state: TaskState;
  status?: TaskStatus;
  /** Whether the task's resources were already given back to the allocator. */
  recovered: boolean;
  /** The framework asked for a kill the agent could not get yet (it was away): sent on return. */
  killPending?: boolean;
  /**
   * Whether the agent has ever told of the task (an update, or its list on re-registering): until
   * then its LAUNCH may have been lost on the way, with nothing of the task ever run.
   */
  heardFromAgent?: boolean;
}

export interface ClusterState {
  agents: object[];
  frameworks: object[];
  roles: object[];
  tasks: object[];
  completedTasks: object[];
  offers: object[];
}

/**
 * Kiln's cluster master: the agent registry, offer bookkeeping, task tracking and the allocation
 * loop, in one place. It holds its state in memory like a Mesos master without a registry: after
 * a restart, agents re-register with their running tasks and frameworks re-subscribe and
 * reconcile, which rebuilds everything that matters. All methods run on the one JS thread, so
 * each call sees and leaves a consistent state; validation always happens before any mutation.
 */
@Injectable()
export class MasterService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(MasterService.name);
  private readonly allocator = new HierarchicalDrfAllocator();
  private readonly frameworks = new Map<string, FrameworkRecord>();
  private readonly agents = new Map<string, AgentRecord>();
  private readonly offers = new Map<string, OfferRecord>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly completed: TaskRecord[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private allocationPending = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly env: MasterEnv,
    readonly metrics: MasterMetrics,
  ) {
    for (const [role, weight] of parseWeights(env.KILN_MASTER_ROLE_WEIGHTS)) {
      this.allocator.setWeight(role, weight);
    }
    for (const [role, quota] of parseQuotas(env.KILN_MASTER_ROLE_QUOTAS)) {
      this.allocator.setQuota(role, quota);
    }
  }

  onApplicationBootstrap(): void {
    const every = (ms: number, fn: () => void): void => {
      this.timers.push(setInterval(fn, ms).unref());
    };
    every(this.env.KILN_MASTER_ALLOCATION_INTERVAL_MS, () => this.allocate());
    const sweep = Math.max(50, Math.min(1_000, this.env.KILN_MASTER_AGENT_TIMEOUT_MS / 4));
    every(sweep, () => this.sweep());
    every(this.env.KILN_MASTER_FRAMEWORK_HEARTBEAT_MS, () => {
      for (const framework of this.frameworks.values())
        framework.stream?.send({ type: 'HEARTBEAT' });
    });
    every(this.env.KILN_MASTER_AGENT_HEARTBEAT_MS, () => {
      for (const agent of this.agents.values()) agent.stream?.send({ type: 'HEARTBEAT' });
    });
    // Explicit reconciliation of a task nobody reported yet waits until agents had the time of
    // one agent timeout to re-register after a master restart.
    this.timers.push(
      setTimeout(() => this.answerDeferredReconciliations(), this.recoveryDeadline() - Date.now()),
    );
  }

  /** Ends every stream so the HTTP server can close; subscribers reconnect to the next master. */
  onModuleDestroy(): void {
    this.timers.forEach((timer) => clearTimeout(timer));
    for (const framework of this.frameworks.values()) {
      clearTimeout(framework.failoverTimer);
      framework.stream?.end();
    }
    for (const agent of this.agents.values()) agent.stream?.end();
  }

  // ---- Frameworks -----------------------------------------------------------------------------

  /** Subscribes (or fails over) a framework on `stream`; returns its id. */
  subscribeFramework(info: FrameworkInfo, stream: EventStream): string {
    const id = info.id ?? randomUUID();
    let framework = this.frameworks.get(id);
    if (framework?.stream?.isOpen === true) {
      // Failover: the newest scheduler wins, the old one is told why its stream ends.
      framework.stream.send({
        type: 'ERROR',
        error: { message: 'framework failed over to a new subscription' },
      });
      framework.stream.end();
    }
    if (framework === undefined) {
      framework = {
        id,
        name: info.name,
        roles: [...info.roles],
        failoverTimeoutMs: (info.failoverTimeoutSeconds ?? DEFAULT_FAILOVER_SECONDS) * 1000,
        deferredReconcile: [],
      };
      this.frameworks.set(id, framework);
      this.allocator.addFramework(id, framework.roles);
      this.logger.log(
        `framework ${info.name} (${id}) subscribed in roles ${info.roles.join(', ')}`,
      );
    } else {
      clearTimeout(framework.failoverTimer);
      framework.failoverTimer = undefined;
      framework.name = info.name;
      framework.failoverTimeoutMs =
        (info.failoverTimeoutSeconds ?? DEFAULT_FAILOVER_SECONDS) * 1000;
      this.updateFrameworkRoles(framework, info.roles);
      this.logger.log(`framework ${info.name} (${id}) re-subscribed`);
    }
    framework.stream = stream;
    this.allocator.activateFramework(id);
    stream.send({
      type: 'SUBSCRIBED',
      subscribed: {
        frameworkId: id,
        heartbeatIntervalSeconds: this.env.KILN_MASTER_FRAMEWORK_HEARTBEAT_MS / 1000,
      },
    });
    this.scheduleAllocation();
    return id;
  }

  /** Called when a framework's stream closes, whoever closed it. */
  frameworkDisconnected(frameworkId: string, stream: EventStream): void {
    const framework = this.frameworks.get(frameworkId);
    if (framework?.stream !== stream) return; // an old stream of a framework that failed over
    framework.stream = undefined;
    this.allocator.deactivateFramework(frameworkId);
    this.rescindOffers((o) => o.frameworkId === frameworkId, 'framework_disconnected', false);
    this.logger.warn(
      `framework ${framework.name} (${frameworkId}) disconnected; its tasks are kept for ` +
        `${framework.failoverTimeoutMs / 1000} s`,
    );
    framework.failoverTimer = setTimeout(() => {
      this.logger.warn(`framework ${frameworkId} did not come back: tearing it down`);
      this.teardown(framework);
    }, framework.failoverTimeoutMs).unref();
  }

  /** Checks a non-SUBSCRIBE call's framework and stream, then carries it out. */
  handleSchedulerCall(call: SchedulerCall, streamId: string | undefined): void {
    const framework = this.subscribedFramework(call.frameworkId, streamId);
    switch (call.type) {
      case 'SUBSCRIBE':
        throw new BadRequestException('SUBSCRIBE opens a stream: send it without a stream id');
      case 'ACCEPT':
        return this.accept(framework, required(call.accept, 'accept'));
      case 'DECLINE': {
        const decline = required(call.decline, 'decline');
        const records = this.ownedOffers(framework, decline.offerIds);
        const refuse = decline.filters?.refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
        for (const { offer } of records) {
          this.offers.delete(offer.id);
          this.recover(framework.id, offer.agentId, offer.role, offer.resources, refuse);
          this.metrics.offersDeclined.inc();
        }
        return this.scheduleAllocation();
      }
      case 'REVIVE':
        this.allocator.revive(framework.id, call.revive?.roles);
        return this.scheduleAllocation();
      case 'SUPPRESS':
        this.allocator.suppress(framework.id, call.suppress?.roles);
        return;
      case 'KILL':
        return this.kill(framework, required(call.kill, 'kill').taskId);
      case 'ACKNOWLEDGE':
        return this.acknowledge(framework, required(call.acknowledge, 'acknowledge'));
      case 'RECONCILE':
        return this.reconcile(framework, required(call.reconcile, 'reconcile'));
      case 'TEARDOWN':
        return this.teardown(framework);
    }
  }

  private subscribedFramework(
    frameworkId: string | undefined,
    streamId: string | undefined,
  ): FrameworkRecord {
    const framework = frameworkId === undefined ? undefined : this.frameworks.get(frameworkId);
    if (framework === undefined) {
      throw new ForbiddenException(`framework ${frameworkId} is not subscribed`);
    }
    if (streamId === undefined || streamId === '') {
      throw new BadRequestException('the Kiln-Stream-Id header of the subscription is missing');
    }
    if (framework.stream?.id !== streamId) {
      throw new ForbiddenException(
        `stream ${streamId} is not framework ${framework.id}'s current subscription`,
      );
    }
    return framework;
  }

  private ownedOffers(framework: FrameworkRecord, offerIds: readonly string[]): OfferRecord[] {
    if (new Set(offerIds).size !== offerIds.length) {
      throw new BadRequestException('an offer id is listed twice');
    }
    return offerIds.map((id) => {
      const record = this.offers.get(id);
      if (record === undefined || record.offer.frameworkId !== framework.id) {
        throw new BadRequestException(
          `offer ${id} is not an outstanding offer of this framework (unknown, used, declined or rescinded)`,
        );
      }
      return record;
    });
  }

  private accept(framework: FrameworkRecord, accept: NonNullable<SchedulerCall['accept']>): void {
    // Everything is checked before anything changes: a refused ACCEPT leaves offers, tasks and
    // agents exactly as they were.
    const records = this.ownedOffers(framework, accept.offerIds);
    const agentIds = new Set(records.map((r) => r.offer.agentId));
    const roles = new Set(records.map((r) => r.offer.role));
    const first = records[0];
    if (first === undefined || agentIds.size !== 1 || roles.size !== 1) {
      throw new BadRequestException('offers accepted together must be of one agent and one role');
    }
    const { agentId, role } = first.offer;
    const agent = this.agents.get(agentId);
    if (agent?.state !== 'ACTIVE' || agent.stream === undefined) {
      throw new ConflictException(`agent ${agentId} is no longer connected`);
    }
    const offered = records.reduce((sum, r) => add(sum, r.offer.resources), emptyResources());
    const launches = accept.operations.flatMap((op) => op.launch.taskInfos);
    const seen = new Set<string>();
    let wanted = emptyResources();
    for (const task of launches) {
      if (seen.has(task.taskId) || this.tasks.has(task.taskId)) {
        throw new ConflictException(`task id ${task.taskId} is already in use`);
      }
      seen.add(task.taskId);
      // Whether the agent can contain the task is the agent's call: it answers TASK_ERROR with
      // the reason, which the framework sees like any other outcome of the task.
      wanted = add(wanted, resources(task.resources));
    }
    if (!contains(offered, wanted)) {
      throw new BadRequestException(
        `the tasks need more than the offers hold: ${shortfall(offered, wanted).join('; ')} ` +
          `(offered ${formatResources(offered)})`,
      );
    }

    for (const { offer } of records) this.offers.delete(offer.id);
    this.metrics.offersAccepted.inc(records.length);
    for (const task of launches) {
      this.tasks.set(task.taskId, {
        info: task,
        frameworkId: framework.id,
        agentId,
        role,
        state: 'TASK_STAGING',
        recovered: false,
      });
      agent.stream.send({ type: 'LAUNCH', launch: { frameworkId: framework.id, role, task } });
    }
    const unused = subtract(offered, wanted);
    const refuse = accept.filters?.refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
    this.recover(framework.id, agentId, role, unused, refuse);
    this.scheduleAllocation();
  }

  private kill(framework: FrameworkRecord, taskId: string): void {
    const task = this.tasks.get(taskId);
    if (task === undefined || task.frameworkId !== framework.id) {
      this.sendUpdate(
        framework,
        this.masterStatus(taskId, 'TASK_UNKNOWN', undefined, 'unknown task'),
      );
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

  private acknowledge(
    framework: FrameworkRecord,
    ack: NonNullable<SchedulerCall['acknowledge']>,
  ): void {
    const task = this.tasks.get(ack.taskId);
    if (task !== undefined && task.frameworkId !== framework.id) {
      throw new ForbiddenException(`task ${ack.taskId} belongs to another framework`);
    }
    const agent = this.agents.get(ack.agentId);
    agent?.stream?.send({
      type: 'ACKNOWLEDGED',
      acknowledged: { taskId: ack.taskId, uuid: ack.uuid },
    });
    if (task !== undefined && isTerminal(task.state) && task.status?.uuid === ack.uuid) {
      this.complete(task);
    }
  }

  private reconcile(framework: FrameworkRecord, reconcile: Reconcile): void {
    if (reconcile.tasks.length === 0) {
      for (const task of this.tasks.values()) {
        if (task.frameworkId === framework.id) this.sendLatest(framework, task);
      }
      return;
    }
    for (const { taskId } of reconcile.tasks) {
      const task = this.tasks.get(taskId) ?? this.completed.find((t) => t.info.taskId === taskId);
      if (task !== undefined && task.frameworkId === framework.id) {
        this.sendLatest(framework, task);
      } else if (Date.now() < this.recoveryDeadline()) {
        framework.deferredReconcile.push(taskId);
      } else {
        this.sendUpdate(
          framework,
          this.masterStatus(
            taskId,
            'TASK_UNKNOWN',
            'RECONCILIATION',
            'the cluster has no such task',
          ),
        );
      }
    }
  }

  private answerDeferredReconciliations(): void {
    for (const framework of this.frameworks.values()) {
      const taskIds = framework.deferredReconcile.splice(0);
      if (taskIds.length > 0)
        this.reconcile(framework, { tasks: taskIds.map((taskId) => ({ taskId })) });
    }
  }

  private sendLatest(framework: FrameworkRecord, task: TaskRecord): void {
    const status = this.masterStatus(
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
    this.sendUpdate(framework, status);
  }

  private teardown(framework: FrameworkRecord): void {
    clearTimeout(framework.failoverTimer);
    this.rescindOffers((o) => o.frameworkId === framework.id, 'framework_removed', false);
    for (const task of this.tasks.values()) {
      if (task.frameworkId !== framework.id || isTerminal(task.state)) continue;
      this.agents.get(task.agentId)?.stream?.send({
        type: 'KILL',
        kill: { frameworkId: framework.id, taskId: task.info.taskId },
      });
    }
    this.allocator.removeFramework(framework.id);
    this.frameworks.delete(framework.id);
    framework.stream?.end();
    this.logger.log(`framework ${framework.name} (${framework.id}) torn down`);
  }

  private updateFrameworkRoles(framework: FrameworkRecord, roles: readonly string[]): void {
    const same =
      roles.length === framework.roles.length && roles.every((r) => framework.roles.includes(r));
    if (same) return;
    // Re-adding the framework keeps the allocator's books right: its live tasks are counted again.
    this.rescindOffers((o) => o.frameworkId === framework.id, 'framework_roles_changed', false);
    this.allocator.removeFramework(framework.id);
    framework.roles = [...roles];
    this.allocator.addFramework(framework.id, framework.roles);
    for (const task of this.tasks.values()) {
      if (
        task.frameworkId === framework.id &&
        !task.recovered &&
        this.agentInAllocator(task.agentId)
      ) {
        this.allocator.addAllocated(
          task.agentId,
          framework.id,
          task.role,
          resources(task.info.resources),
        );
      }
    }
  }

  // ---- Agents ---------------------------------------------------------------------------------

  subscribeAgent(subscribe: AgentSubscribe, stream: EventStream): void {
    const { agentInfo: info } = subscribe;
    const previous = this.agents.get(info.id);
    if (previous?.stream?.isOpen === true) previous.stream.end();
    this.rescindOffers((o) => o.agentId === info.id, 'agent_reregistered', false);
    if (this.agentInAllocator(info.id)) this.allocator.removeAgent(info.id);

    const now = Date.now();
    const agent: AgentRecord = {
      info,
      state: 'ACTIVE',
      stream,
      lastSeen: now,
      registeredAt: previous?.registeredAt ?? now,
    };
    this.agents.set(info.id, agent);
    this.allocator.addAgent(info.id, resources(info.resources), info.attributes);

    const reported = new Map(subscribe.tasks.map((t) => [t.taskInfo.taskId, t]));
    for (const reportedTask of subscribe.tasks) this.adoptTask(info.id, reportedTask);
    // Tasks the master placed on this agent that the agent no longer has are gone.
    for (const task of this.tasks.values()) {
      if (task.agentId !== info.id || isTerminal(task.state) || reported.has(task.info.taskId)) {
        continue;
      }
      if (task.heardFromAgent === true) {
        this.masterTransition(
          task,
          'TASK_LOST',
          'AGENT_RESTARTED',
          'the agent no longer has the task',
        );
      } else {
        // The agent keeps a task from its LAUNCH on: one it never had, it never ran. A
        // partition-aware framework may launch it again (Mesos' TASK_DROPPED).
        this.masterTransition(
          task,
          'TASK_DROPPED',
          'AGENT_RESTARTED',
          'the agent restarted before the launch reached it; the task never ran',
        );
      }
    }
    this.logger.log(
      `agent ${info.hostname} (${info.id}) ${previous ? 're-registered' : 'registered'} with ` +
        `${formatResources(info.resources)} and ${subscribe.tasks.length} task(s)`,
    );
    stream.send({
      type: 'SUBSCRIBED',
      subscribed: {
        agentId: info.id,
        heartbeatIntervalMs: this.env.KILN_MASTER_AGENT_HEARTBEAT_MS,
      },
    });
    for (const taskId of reported.keys()) {
      const task = this.tasks.get(taskId);
      if (task?.killPending !== true || isTerminal(task.state)) continue;
      task.killPending = false;
      stream.send({ type: 'KILL', kill: { frameworkId: task.frameworkId, taskId } });
    }
    this.scheduleAllocation();
  }

  private adoptTask(agentId: string, reported: AgentTask): void {
    const taskId = reported.taskInfo.taskId;
    let task = this.tasks.get(taskId);
    const wasUnreachable = task?.state === 'TASK_UNREACHABLE';
    if (task === undefined) {
      task = {
        info: reported.taskInfo,
        frameworkId: reported.frameworkId,
        agentId,
        role: reported.role,
        state: reported.state,
        recovered: isTerminal(reported.state),
      };
      this.tasks.set(taskId, task);
    } else {
      task.state = reported.state;
      task.agentId = agentId;
      // Re-registering took the agent's holdings out of the books: a task it tells of as ended
      // holds nothing, so its terminal update, still to come, must not give anything back.
      if (isTerminal(task.state)) task.recovered = true;
    }
    task.heardFromAgent = true;
    if (!this.frameworks.has(reported.frameworkId)) this.adoptFramework(reported);
    if (!isTerminal(task.state)) {
      task.recovered = false;
      this.allocator.addAllocated(
        agentId,
        task.frameworkId,
        task.role,
        resources(task.info.resources),
      );
    }
    if (wasUnreachable) {
      const framework = this.frameworks.get(task.frameworkId);
      if (framework) this.sendLatest(framework, task);
    }
  }

  /** A framework known only from an agent's tasks (after a master restart), until it returns. */
  private adoptFramework(task: AgentTask): void {
    const framework: FrameworkRecord = {
      id: task.frameworkId,
      name: '(awaiting re-subscription)',
      roles: [task.role],
      failoverTimeoutMs: ADOPTED_FRAMEWORK_FAILOVER_MS,
      deferredReconcile: [],
    };
    this.frameworks.set(framework.id, framework);
    this.allocator.addFramework(framework.id, framework.roles);
    this.allocator.deactivateFramework(framework.id);
    framework.failoverTimer = setTimeout(
      () => this.teardown(framework),
      framework.failoverTimeoutMs,
    ).unref();
  }

  agentDisconnected(agentId: string, stream: EventStream): void {
    const agent = this.agents.get(agentId);
    if (agent?.stream !== stream) return;
    agent.stream = undefined;
    if (agent.state !== 'ACTIVE') return;
    agent.state = 'DISCONNECTED';
    this.allocator.deactivateAgent(agentId);
    this.rescindOffers((o) => o.agentId === agentId, 'agent_disconnected', false);
    this.logger.warn(`agent ${agent.info.hostname} (${agentId}) disconnected`);
  }

  heartbeat(agentId: string | undefined, streamId: string | undefined): void {
    this.subscribedAgent(agentId, streamId).lastSeen = Date.now();
  }

  agentUpdate(
    agentId: string | undefined,
    streamId: string | undefined,
    update: AgentUpdate,
  ): void {
    const agent = this.subscribedAgent(agentId, streamId);
    agent.lastSeen = Date.now();
    const { status } = update;
    if (status.uuid === undefined) {
      throw new BadRequestException('an agent status update needs a uuid to be acknowledged');
    }
    status.agentId = agent.info.id;
    status.frameworkId = update.frameworkId;
    const task =
      this.tasks.get(status.taskId) ?? this.completed.find((t) => t.info.taskId === status.taskId);
    if (task !== undefined && progress(status.state) < progress(task.state)) {
      // An update overtaken by a later one: a retry that reached us late, or one a restarted
      // agent resends because its acknowledgement was lost with the agent. A framework must
      // never see a task go back (say run again after it ended), so it is not forwarded; but
      // the agent waits for its acknowledgement before it sends the next, so the master gives
      // it, on the framework's behalf, or the task's later updates would never leave the agent.
      agent.stream?.send({
        type: 'ACKNOWLEDGED',
        acknowledged: { taskId: status.taskId, uuid: status.uuid },
      });
      return;
    }
    if (task !== undefined && task.frameworkId === update.frameworkId) {
      task.state = status.state;
      task.status = status;
      task.heardFromAgent = true;
      if (isTerminal(status.state) && !task.recovered) {
        task.recovered = true;
        this.recover(task.frameworkId, task.agentId, task.role, resources(task.info.resources), 0);
        this.scheduleAllocation();
      }
    }
    const framework = this.frameworks.get(update.frameworkId);
    if (framework === undefined) {
      // Nobody will ever acknowledge it: answer for the framework so the agent stops retrying.
      agent.stream?.send({
        type: 'ACKNOWLEDGED',
        acknowledged: { taskId: status.taskId, uuid: status.uuid },
      });
      if (task !== undefined && isTerminal(task.state)) this.complete(task);
      return;
    }
    // A disconnected framework misses it; the agent retries until it is acknowledged.
    this.sendUpdate(framework, status);
  }

  private subscribedAgent(agentId: string | undefined, streamId: string | undefined): AgentRecord {
    const agent = agentId === undefined ? undefined : this.agents.get(agentId);
    if (agent === undefined) throw new ForbiddenException(`agent ${agentId} is not registered`);
    if (streamId === undefined || streamId === '') {
      throw new BadRequestException('the Kiln-Stream-Id header of the subscription is missing');
    }
    if (agent.stream?.id !== streamId) {
      throw new ForbiddenException(
        `stream ${streamId} is not agent ${agent.info.id}'s subscription`,
      );
    }
    return agent;
  }

  /** Marks agents that stopped heartbeating unreachable, and rescinds offers held too long. */
  private sweep(): void {
    const now = Date.now();
    for (const agent of this.agents.values()) {
      if (agent.state === 'UNREACHABLE') continue;
      if (now - agent.lastSeen < this.env.KILN_MASTER_AGENT_TIMEOUT_MS) continue;
      this.markUnreachable(agent);
    }
    const expired = now - this.env.KILN_MASTER_OFFER_TIMEOUT_MS;
    this.rescindOffers(
      (o) => (this.offers.get(o.id)?.createdAt ?? now) <= expired,
      'timeout',
      true,
    );
  }

  private markUnreachable(agent: AgentRecord): void {
    this.logger.warn(
      `agent ${agent.info.hostname} (${agent.info.id}) missed heartbeats for ` +
        `${this.env.KILN_MASTER_AGENT_TIMEOUT_MS} ms: unreachable`,
    );
    agent.stream?.end();
    agent.stream = undefined;
    agent.state = 'UNREACHABLE';
    this.rescindOffers((o) => o.agentId === agent.info.id, 'agent_unreachable', false);
    this.allocator.removeAgent(agent.info.id);
    for (const task of this.tasks.values()) {
      if (task.agentId !== agent.info.id || isTerminal(task.state)) continue;
      task.recovered = true; // removing the agent took its resources out of the books
      this.masterTransition(
        task,
        'TASK_UNREACHABLE',
        'AGENT_UNREACHABLE',
        `agent ${agent.info.hostname} stopped answering`,
      );
    }
    for (const framework of this.frameworks.values()) {
      framework.stream?.send({
        type: 'FAILURE',
        failure: { agentId: agent.info.id, message: 'agent unreachable' },
      });
    }
  }

  private agentInAllocator(agentId: string): boolean {
    const agent = this.agents.get(agentId);
    return agent !== undefined && agent.state !== 'UNREACHABLE';
  }

  // ---- Allocation -----------------------------------------------------------------------------

  /** Allocates on the next tick, once, however many events asked for it meanwhile. */
  scheduleAllocation(): void {
    if (this.allocationPending) return;
    this.allocationPending = true;
    setImmediate(() => {
      this.allocationPending = false;
      this.allocate();
    });
  }

  private allocate(): void {
    const stop = this.metrics.allocationCycle.startTimer();
    const allocations = this.allocator.allocate(Date.now());
    stop();
    const byFramework = new Map<string, Offer[]>();
    for (const allocation of allocations) {
      const offer = this.makeOffer(allocation);
      if (offer === undefined) continue;
      const list = byFramework.get(offer.frameworkId) ?? [];
      list.push(offer);
      byFramework.set(offer.frameworkId, list);
    }
    for (const [frameworkId, offers] of byFramework) {
      const framework = this.frameworks.get(frameworkId);
      const sent = framework?.stream?.send({ type: 'OFFERS', offers: { offers } }) === true;
      if (sent) {
        this.metrics.offersMade.inc(offers.length);
      } else {
        for (const offer of offers) {
          this.offers.delete(offer.id);
          this.recover(frameworkId, offer.agentId, offer.role, offer.resources, 0);
        }
      }
    }
  }

  private makeOffer(allocation: Allocation): Offer | undefined {
    const agent = this.agents.get(allocation.agentId);
    if (agent === undefined) return undefined;
    const offer: Offer = {
      id: randomUUID(),
      frameworkId: allocation.frameworkId,
      agentId: allocation.agentId,
      hostname: agent.info.hostname,
      role: allocation.role,
      resources: allocation.resources,
      attributes: agent.info.attributes,
      containerizers: agent.info.containerizers,
    };
    this.offers.set(offer.id, { offer, createdAt: Date.now() });
    return offer;
  }

  private rescindOffers(matches: (offer: Offer) => boolean, reason: string, notify: boolean): void {
    for (const [id, { offer }] of this.offers) {
      if (!matches(offer)) continue;
      this.offers.delete(id);
      this.metrics.offersRescinded.inc({ reason });
      if (this.agentInAllocator(offer.agentId)) {
        this.recover(offer.frameworkId, offer.agentId, offer.role, offer.resources, 0);
      }
      if (notify) {
        this.frameworks.get(offer.frameworkId)?.stream?.send({
          type: 'RESCIND',
          rescind: { offerId: id },
        });
      }
    }
  }

  private recover(
    frameworkId: string,
    agentId: string,
    role: string,
    recovered: Resources,
    refuseSeconds: number,
  ): void {
    if (!this.agentInAllocator(agentId)) return;
    this.allocator.recoverResources(
      frameworkId,
      agentId,
      role,
      recovered,
      refuseSeconds,
      Date.now(),
    );
  }

  // ---- Task statuses ----------------------------------------------------------------------------

  private masterStatus(
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

  /** A state change the master decides (agent lost, unreachable): told to the framework once. */
  private masterTransition(
    task: TaskRecord,
    state: TaskState,
    reason: TaskReason,
    message: string,
  ): void {
    task.state = state;
    // Only the paths that already took the task out of the allocator's books end it here.
    if (isTerminal(state)) task.recovered = true;
    const status = this.masterStatus(task.info.taskId, state, reason, message);
    status.agentId = task.agentId;
    if (state === 'TASK_UNREACHABLE') status.unreachableTime = status.timestamp;
    task.status = status;
    const framework = this.frameworks.get(task.frameworkId);
    if (framework) this.sendUpdate(framework, status);
    if (isTerminal(state)) this.complete(task);
  }

  private sendUpdate(framework: FrameworkRecord, status: TaskStatus): void {
    status.frameworkId = framework.id;
    const event: SchedulerEvent = { type: 'UPDATE', update: { status } };
    framework.stream?.send(event);
  }

  private complete(task: TaskRecord): void {
    if (this.tasks.get(task.info.taskId) !== task) return;
    this.tasks.delete(task.info.taskId);
    this.completed.push(task);
    if (this.completed.length > COMPLETED_TASKS_KEPT) this.completed.shift();
  }

  private recoveryDeadline(): number {
    return this.startedAt + this.env.KILN_MASTER_AGENT_TIMEOUT_MS;
  }

  // ---- Operator view ------------------------------------------------------------------------

  state(): ClusterState {
    const snapshot = this.allocator.snapshot();
    const used = new Map<string, Resources>();
    for (const task of this.tasks.values()) {
      if (isTerminal(task.state) || task.recovered) continue;
      used.set(
        task.agentId,
        add(used.get(task.agentId) ?? emptyResources(), resources(task.info.resources)),
      );
    }
    const offered = new Map<string, Resources>();
    for (const { offer } of this.offers.values()) {
      offered.set(
        offer.agentId,
        add(offered.get(offer.agentId) ?? emptyResources(), offer.resources),
      );
    }
    const shares = new Map(snapshot.frameworks.map((f) => [f.frameworkId, f]));
    const now = Date.now();
    const describeTask = (task: TaskRecord): object => ({
      taskId: task.info.taskId,
      name: task.info.name,
      frameworkId: task.frameworkId,
      agentId: task.agentId,
      role: task.role,
      state: task.state,
      reason: task.status?.reason,
      exitCode: task.status?.exitCode,
      resources: task.info.resources,
    });
    return {
      agents: [...this.agents.values()].map((agent) => ({
        id: agent.info.id,
        hostname: agent.info.hostname,
        state: agent.state,
        attributes: agent.info.attributes,
        containerizers: agent.info.containerizers,
        resources: {
          total: agent.info.resources,
          used: used.get(agent.info.id) ?? emptyResources(),
          offered: offered.get(agent.info.id) ?? emptyResources(),
        },
        lastSeenMsAgo: now - agent.lastSeen,
      })),
      frameworks: [...this.frameworks.values()].map((framework) => ({
        id: framework.id,
        name: framework.name,
        roles: framework.roles,
        connected: framework.stream !== undefined,
        share: shares.get(framework.id)?.share ?? 0,
        allocated: shares.get(framework.id)?.allocated ?? emptyResources(),
        suppressedRoles: shares.get(framework.id)?.suppressedRoles ?? [],
      })),
      roles: snapshot.roles,
      tasks: [...this.tasks.values()].map(describeTask),
      completedTasks: this.completed.slice(-100).map(describeTask),
      offers: [...this.offers.values()].map(({ offer, createdAt }) => ({
        id: offer.id,
        frameworkId: offer.frameworkId,
        agentId: offer.agentId,
        role: offer.role,
        resources: offer.resources,
        ageMs: now - createdAt,
      })),
    };
  }

  /** Refreshes the gauges that are computed from state rather than counted. */
  refreshGauges(): void {
    this.metrics.tasks.reset();
    for (const task of this.tasks.values()) this.metrics.tasks.inc({ state: task.state });
    for (const task of this.completed) this.metrics.tasks.inc({ state: task.state });
    this.metrics.agents.reset();
    for (const agent of this.agents.values()) this.metrics.agents.inc({ state: agent.state });
    this.metrics.frameworks.reset();
    for (const framework of this.frameworks.values()) {
      this.metrics.frameworks.inc({ connected: String(framework.stream !== undefined) });
    }
  }
}

/** How far along its life a task is: states only ever move forward. */
function progress(state: TaskState): number {
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

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new BadRequestException(`${field} is required for this call`);
  return value;
}
