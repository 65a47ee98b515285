import { MasterEnv } from '@kiln/config';
import {
  formatResources,
  isTerminal,
  type AgentCall,
  type AgentSubscribe,
  type AgentTask,
  type FrameworkInfo,
  type SchedulerCall,
} from '@kiln/contracts';
import {
  BadRequestException,
  HttpException,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EventStream } from '../streams/event-stream';
import { AgentRegistry, type AgentRecord } from './agent-registry';
import { AllocationLoop } from './allocation-loop';
import {
  describeCluster,
  refreshGauges,
  type ClusterParts,
  type ClusterState,
} from './cluster-state';
import { FrameworkRegistry, type FrameworkRecord } from './framework-registry';
import { MasterMetrics } from './master.metrics';
import { OfferBook } from './offer-book';
import { Reconciliation } from './reconciliation';
import { ResourceAccounting } from './resource-accounting';
import { parseQuotas, parseWeights } from './role-settings';
import { TaskBook } from './task-book';
import { TaskLifecycle } from './task-lifecycle';

export type { ClusterState } from './cluster-state';

/**
 * The most frameworks the master keeps at once, subscribed or waiting out their failover timeout
 * (up to a week): a framework's every subscription with a new id is one more, and each is in
 * every allocation cycle's sort. Kiln runs a handful (its builds, its services); Mesos clusters
 * run tens.
 */
export const MAX_FRAMEWORKS = 1_000;

/** How long the master keeps a framework nobody re-subscribed after a master restart. */
const ADOPTED_FRAMEWORK_FAILOVER_MS = 10 * 60_000;
const DEFAULT_REFUSE_SECONDS = 5;
const DEFAULT_FAILOVER_SECONDS = 60;

/**
 * Kiln's cluster master, as the scheduler and agent APIs see it: framework and agent sessions
 * (subscribe, fail over, disconnect, tear down, time out), each call checked against its
 * subscription and carried out on the master's parts, each in its own file:
 * - the registries of agents and frameworks, the offer book and the task book (what is known);
 * - the resource accounting: what each offer and task holds, in step with the DRF allocator;
 * - the allocation loop, which turns allocations into offers;
 * - the task lifecycle: launch, kill, status updates, acknowledgements;
 * - reconciliation: a framework's RECONCILE, and an agent's re-registration with its tasks.
 * It holds its state in memory like a Mesos master without a registry: after a restart, agents
 * re-register with their running tasks and frameworks re-subscribe and reconcile, which rebuilds
 * everything that matters. All methods run on the one JS thread, so each call sees and leaves a
 * consistent state; validation always happens before any mutation.
 */
@Injectable()
export class MasterService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(MasterService.name);
  private readonly accounting = new ResourceAccounting();
  private readonly agents = new AgentRegistry();
  private readonly frameworks = new FrameworkRegistry();
  private readonly tasks = new TaskBook(this.accounting, this.frameworks);
  private readonly offers: OfferBook;
  private readonly allocation: AllocationLoop;
  private readonly reconciliation: Reconciliation;
  private readonly lifecycle: TaskLifecycle;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();

  constructor(
    private readonly env: MasterEnv,
    readonly metrics: MasterMetrics,
  ) {
    for (const [role, weight] of parseWeights(env.KILN_MASTER_ROLE_WEIGHTS)) {
      this.accounting.setWeight(role, weight);
    }
    for (const [role, quota] of parseQuotas(env.KILN_MASTER_ROLE_QUOTAS)) {
      this.accounting.setQuota(role, quota);
    }
    this.offers = new OfferBook(this.accounting, this.frameworks, metrics);
    this.allocation = new AllocationLoop(
      this.accounting,
      this.agents,
      this.frameworks,
      this.offers,
      metrics,
    );
    this.reconciliation = new Reconciliation(
      this.tasks,
      this.frameworks,
      this.accounting,
      this.agents,
      { startedAt: this.startedAt, deadline: this.recoveryDeadline() },
      (task) => this.adoptFramework(task),
    );
    this.lifecycle = new TaskLifecycle(
      this.tasks,
      this.offers,
      this.accounting,
      this.agents,
      this.frameworks,
      this.allocation,
      DEFAULT_REFUSE_SECONDS,
    );
  }

  onApplicationBootstrap(): void {
    const every = (ms: number, fn: () => void): void => {
      this.timers.push(setInterval(fn, ms).unref());
    };
    every(this.env.KILN_MASTER_ALLOCATION_INTERVAL_MS, () => this.allocation.allocate());
    const sweep = Math.max(50, Math.min(1_000, this.env.KILN_MASTER_AGENT_TIMEOUT_MS / 4));
    every(sweep, () => this.sweep());
    every(this.env.KILN_MASTER_FRAMEWORK_HEARTBEAT_MS, () =>
      this.frameworks.broadcast({ type: 'HEARTBEAT' }),
    );
    every(this.env.KILN_MASTER_AGENT_HEARTBEAT_MS, () =>
      this.agents.broadcast({ type: 'HEARTBEAT' }),
    );
    // Explicit reconciliation of a task nobody reported yet waits until agents had the time of
    // one agent timeout to re-register after a master restart.
    this.timers.push(
      setTimeout(() => this.reconciliation.answerDeferred(), this.recoveryDeadline() - Date.now()),
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

  /**
   * Refuses (429) a subscription of a new framework while the master keeps
   * {@link MAX_FRAMEWORKS}; a framework it keeps may always subscribe again. Called before an
   * HTTP subscription's stream starts, so that the refusal is its answer.
   */
  checkSubscription(info: FrameworkInfo): void {
    if (info.id !== undefined && this.frameworks.has(info.id)) return;
    if (this.frameworks.size < MAX_FRAMEWORKS) return;
    throw new HttpException(
      `the master keeps ${MAX_FRAMEWORKS} frameworks already, its most: a framework that` +
        ' disconnected is torn down once its failover timeout has passed; subscribe again then',
      429,
    );
  }

  /** Subscribes (or fails over) a framework on `stream`; returns its id. */
  subscribeFramework(info: FrameworkInfo, stream: EventStream): string {
    this.checkSubscription(info);
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
        deferredReconcile: new Map(),
      };
      this.frameworks.add(framework);
      this.accounting.addFramework(id, framework.roles);
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
    this.accounting.activateFramework(id);
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
    this.accounting.deactivateFramework(frameworkId);
    this.offers.rescind(
      ({ offer }) => offer.frameworkId === frameworkId,
      'framework_disconnected',
      false,
    );
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
    // Before the framework is looked up: a SUBSCRIBE names its id elsewhere (in its info).
    if (call.type === 'SUBSCRIBE') {
      throw new BadRequestException('SUBSCRIBE opens a stream: send it without a stream id');
    }
    const framework = this.frameworks.subscribed(call.frameworkId, streamId);
    switch (call.type) {
      case 'ACCEPT':
        return this.lifecycle.accept(framework, required(call.accept, 'accept'));
      case 'DECLINE': {
        const decline = required(call.decline, 'decline');
        const offers = this.offers.owned(framework.id, decline.offerIds);
        this.offers.decline(offers, decline.filters?.refuseSeconds ?? DEFAULT_REFUSE_SECONDS);
        return this.scheduleAllocation();
      }
      case 'REVIVE':
        this.accounting.revive(framework.id, subscribedRoles(framework, call.revive?.roles));
        return this.scheduleAllocation();
      case 'SUPPRESS':
        this.accounting.suppress(framework.id, subscribedRoles(framework, call.suppress?.roles));
        return;
      case 'KILL':
        return this.lifecycle.kill(framework, required(call.kill, 'kill').taskId);
      case 'ACKNOWLEDGE':
        return this.lifecycle.acknowledge(framework, required(call.acknowledge, 'acknowledge'));
      case 'RECONCILE':
        return this.reconciliation.reconcile(framework, required(call.reconcile, 'reconcile'));
      case 'TEARDOWN':
        return this.teardown(framework);
    }
  }

  private teardown(framework: FrameworkRecord): void {
    clearTimeout(framework.failoverTimer);
    this.offers.rescind(
      ({ offer }) => offer.frameworkId === framework.id,
      'framework_removed',
      false,
    );
    for (const task of this.tasks.values()) {
      if (task.frameworkId !== framework.id || isTerminal(task.state)) continue;
      this.agents.get(task.agentId)?.stream?.send({
        type: 'KILL',
        kill: { frameworkId: framework.id, taskId: task.info.taskId },
      });
    }
    this.accounting.removeFramework(framework.id);
    this.frameworks.delete(framework.id);
    framework.stream?.end();
    this.logger.log(`framework ${framework.name} (${framework.id}) torn down`);
  }

  private updateFrameworkRoles(framework: FrameworkRecord, roles: readonly string[]): void {
    const same =
      roles.length === framework.roles.length && roles.every((r) => framework.roles.includes(r));
    if (same) return;
    this.offers.rescind(
      ({ offer }) => offer.frameworkId === framework.id,
      'framework_roles_changed',
      false,
    );
    framework.roles = [...roles];
    this.accounting.changeRoles(framework.id, framework.roles);
  }

  /** A framework known only from an agent's tasks (after a master restart), until it returns. */
  private adoptFramework(task: AgentTask): void {
    const framework: FrameworkRecord = {
      id: task.frameworkId,
      name: '(awaiting re-subscription)',
      roles: [task.role],
      failoverTimeoutMs: ADOPTED_FRAMEWORK_FAILOVER_MS,
      deferredReconcile: new Map(),
    };
    this.frameworks.add(framework);
    this.accounting.addAbsentFramework(framework.id, framework.roles);
    framework.failoverTimer = setTimeout(
      () => this.teardown(framework),
      framework.failoverTimeoutMs,
    ).unref();
  }

  // ---- Agents ---------------------------------------------------------------------------------

  /**
   * Registers (or re-registers) an agent with the tasks it reports, on the stream `open` opens
   * once the registration is known to be acceptable: a refused one is answered with its reason
   * (a 4xx over HTTP) and leaves the master as it was.
   */
  subscribeAgent(subscribe: AgentSubscribe, open: () => EventStream): void {
    const { agentInfo: info } = subscribe;
    this.reconciliation.checkReported(info, subscribe.tasks);
    const stream = open();
    // Whatever the master counted on the agent before is replaced by what it reports now.
    this.offers.rescind(({ offer }) => offer.agentId === info.id, 'agent_reregistered', false);
    this.accounting.removeAgent(info.id);
    const previous = this.agents.register(info, stream);
    this.accounting.addAgent(info);
    const strays = this.reconciliation.agentReregistered(info.id, subscribe.tasks);
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
    this.reconciliation.sendPendingKills(subscribe.tasks, stream);
    for (const { frameworkId, taskInfo } of strays) {
      this.logger.warn(
        `agent ${info.id} runs a second copy of task ${taskInfo.taskId}, which runs on another ` +
          'agent: killing it',
      );
      stream.send({ type: 'KILL', kill: { frameworkId, taskId: taskInfo.taskId } });
    }
    this.scheduleAllocation();
  }

  agentDisconnected(agentId: string, stream: EventStream): void {
    const agent = this.agents.get(agentId);
    if (agent?.stream !== stream) return;
    agent.stream = undefined;
    if (agent.state !== 'ACTIVE') return;
    agent.state = 'DISCONNECTED';
    this.accounting.deactivateAgent(agentId);
    this.offers.rescind(({ offer }) => offer.agentId === agentId, 'agent_disconnected', false);
    this.logger.warn(`agent ${agent.info.hostname} (${agentId}) disconnected`);
  }

  /** Checks a non-SUBSCRIBE agent call's agent and stream, then carries it out. */
  handleAgentCall(call: AgentCall, streamId: string | undefined): void {
    if (call.type === 'SUBSCRIBE') {
      throw new BadRequestException('SUBSCRIBE opens a stream: send it without a stream id');
    }
    const agent = this.agents.subscribed(call.agentId, streamId);
    agent.lastSeen = Date.now();
    if (call.type === 'UPDATE') this.lifecycle.agentUpdate(agent, required(call.update, 'update'));
  }

  /** Marks agents that stopped heartbeating unreachable, and rescinds offers held too long. */
  private sweep(): void {
    const now = Date.now();
    for (const agent of this.agents.silentFor(this.env.KILN_MASTER_AGENT_TIMEOUT_MS, now)) {
      this.markUnreachable(agent);
    }
    const expired = now - this.env.KILN_MASTER_OFFER_TIMEOUT_MS;
    this.offers.rescind(({ createdAt }) => createdAt <= expired, 'timeout', true);
  }

  private markUnreachable(agent: AgentRecord): void {
    this.logger.warn(
      `agent ${agent.info.hostname} (${agent.info.id}) missed heartbeats for ` +
        `${this.env.KILN_MASTER_AGENT_TIMEOUT_MS} ms: unreachable`,
    );
    agent.stream?.end();
    agent.stream = undefined;
    agent.state = 'UNREACHABLE';
    this.offers.rescind(({ offer }) => offer.agentId === agent.info.id, 'agent_unreachable', false);
    // Out of the books with everything on it: its tasks may come back, counted again then.
    this.accounting.removeAgent(agent.info.id);
    for (const task of this.tasks.runningOn(agent.info.id)) {
      this.tasks.masterTransition(
        task,
        'TASK_UNREACHABLE',
        'AGENT_UNREACHABLE',
        `agent ${agent.info.hostname} stopped answering`,
      );
    }
    this.frameworks.broadcast({
      type: 'FAILURE',
      failure: { agentId: agent.info.id, message: 'agent unreachable' },
    });
  }

  // ---- Allocation -----------------------------------------------------------------------------

  /** Allocates on the next tick, once, however many events asked for it meanwhile. */
  scheduleAllocation(): void {
    this.allocation.schedule();
  }

  private recoveryDeadline(): number {
    return this.startedAt + this.env.KILN_MASTER_AGENT_TIMEOUT_MS;
  }

  // ---- Operator view ------------------------------------------------------------------------

  state(): ClusterState {
    return describeCluster(this.parts());
  }

  /** Refreshes the gauges that are computed from state rather than counted. */
  refreshGauges(): void {
    refreshGauges(this.metrics, this.parts());
  }

  private parts(): ClusterParts {
    const { accounting, agents, frameworks, offers, tasks } = this;
    return { accounting, agents, frameworks, offers, tasks };
  }
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new BadRequestException(`${field} is required for this call`);
  return value;
}

/** The roles a REVIVE or SUPPRESS names (all when none): each one the framework subscribed to. */
function subscribedRoles(
  framework: FrameworkRecord,
  roles: readonly string[] | undefined,
): readonly string[] | undefined {
  const unknown = roles?.filter((role) => !framework.roles.includes(role)) ?? [];
  if (unknown.length > 0) {
    throw new BadRequestException(
      `framework ${framework.id} is not subscribed to role ${unknown.join(', ')}: its roles are ${framework.roles.join(', ')}`,
    );
  }
  return roles;
}
