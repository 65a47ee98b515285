import {
  HierarchicalDrfAllocator,
  type Allocation,
  type AllocatorSnapshot,
  type QuotaLimit,
} from '@kiln/cluster';
import {
  contains,
  resources as toResources,
  subtract,
  sum,
  type AgentInfo,
  type Resources,
} from '@kiln/contracts';
import { randomUUID } from 'node:crypto';

/** What one offer or one task holds: resources of one agent, counted to one framework in one role. */
export interface Holding {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly role: string;
  readonly resources: Resources;
}

/** An allocation the allocator made, held under the id of the offer it becomes. */
export interface OfferHolding extends Holding {
  readonly offerId: string;
}

/**
 * The master's books of the cluster's resources: what each outstanding offer and each task holds
 * on each agent, kept in step with the DRF allocator (the only unit that talks to it).
 *
 * Each holding is given back at most once, by construction: giving it back deletes it, and taking
 * an agent or a framework out of the allocator deletes every holding it had (the allocator released
 * them itself). So a duplicate terminal update, an offer rescinded after its agent went, or a task
 * lost with its agent cannot free anything twice.
 */
export class ResourceAccounting {
  private readonly allocator = new HierarchicalDrfAllocator();
  /** Agents in the allocator: registered and not unreachable. */
  private readonly agents = new Set<string>();
  private readonly offers = new Map<string, OfferHolding>();
  private readonly tasks = new Map<string, Holding>();

  constructor(private readonly now: () => number = Date.now) {}

  // ---- Roles ------------------------------------------------------------------------------------

  setWeight(role: string, weight: number): void {
    this.allocator.setWeight(role, weight);
  }

  setQuota(role: string, quota: QuotaLimit): void {
    this.allocator.setQuota(role, quota);
  }

  // ---- Agents -----------------------------------------------------------------------------------

  /** Its whole total is free: the tasks it still runs are counted by {@link countTask}. */
  addAgent(info: AgentInfo): void {
    this.allocator.addAgent(info.id, toResources(info.resources), info.attributes);
    this.agents.add(info.id);
  }

  /** Out of the books with everything held on it (re-registering, or unreachable). */
  removeAgent(agentId: string): void {
    if (!this.agents.delete(agentId)) return;
    this.allocator.removeAgent(agentId);
    for (const [id, holding] of this.offers)
      if (holding.agentId === agentId) this.offers.delete(id);
    for (const [id, holding] of this.tasks) if (holding.agentId === agentId) this.tasks.delete(id);
  }

  hasAgent(agentId: string): boolean {
    return this.agents.has(agentId);
  }

  /** Disconnected: nothing is offered on it, what its tasks hold still counts. */
  deactivateAgent(agentId: string): void {
    this.allocator.deactivateAgent(agentId);
  }

  // ---- Frameworks -------------------------------------------------------------------------------

  addFramework(frameworkId: string, roles: readonly string[]): void {
    this.allocator.addFramework(frameworkId, roles);
  }

  /** A framework known only from an agent's tasks: counted, offered nothing until it returns. */
  addAbsentFramework(frameworkId: string, roles: readonly string[]): void {
    this.allocator.addFramework(frameworkId, roles);
    this.allocator.deactivateFramework(frameworkId);
  }

  /** Its offers must be given back first; what its tasks hold is counted again in the new roles. */
  changeRoles(frameworkId: string, roles: readonly string[]): void {
    this.allocator.removeFramework(frameworkId);
    this.allocator.addFramework(frameworkId, roles);
    for (const holding of this.tasks.values()) {
      if (holding.frameworkId !== frameworkId) continue;
      this.allocator.addAllocated(
        holding.agentId,
        holding.frameworkId,
        holding.role,
        holding.resources,
      );
    }
  }

  /** Out of the books with everything it held; its tasks, if they end later, free nothing more. */
  removeFramework(frameworkId: string): void {
    this.allocator.removeFramework(frameworkId);
    for (const [id, holding] of this.offers) {
      if (holding.frameworkId === frameworkId) this.offers.delete(id);
    }
    for (const [id, holding] of this.tasks) {
      if (holding.frameworkId === frameworkId) this.tasks.delete(id);
    }
  }

  activateFramework(frameworkId: string): void {
    this.allocator.activateFramework(frameworkId);
  }

  deactivateFramework(frameworkId: string): void {
    this.allocator.deactivateFramework(frameworkId);
  }

  revive(frameworkId: string, roles?: readonly string[]): void {
    this.allocator.revive(frameworkId, roles);
  }

  suppress(frameworkId: string, roles?: readonly string[]): void {
    this.allocator.suppress(frameworkId, roles);
  }

  // ---- Offers -----------------------------------------------------------------------------------

  /** One allocation cycle; each allocation is held under a new offer id until given back or used. */
  allocate(): OfferHolding[] {
    return this.allocator.allocate(this.now()).map((allocation: Allocation) => {
      const holding: OfferHolding = { offerId: randomUUID(), ...allocation };
      this.offers.set(holding.offerId, holding);
      return holding;
    });
  }

  /**
   * An offer declined, rescinded or never delivered gives back what it holds (nothing if its agent
   * or framework left the books meanwhile). `refuseSeconds > 0` keeps the framework from being
   * offered that agent again for that long.
   */
  releaseOffer(offerId: string, refuseSeconds = 0): void {
    const holding = this.offers.get(offerId);
    if (holding === undefined) return;
    this.offers.delete(offerId);
    this.recover(holding, holding.resources, refuseSeconds);
  }

  /**
   * Offers of one agent and one role accepted: the tasks hold what they need of them, the rest is
   * given back at once. The caller checked the offers are the framework's and hold enough.
   */
  launch(
    offerIds: readonly string[],
    tasks: ReadonlyArray<{ taskId: string; resources: Resources }>,
    refuseSeconds: number,
  ): void {
    const held = offerIds.flatMap((id) => this.offers.get(id) ?? []);
    const first = held[0];
    offerIds.forEach((id) => this.offers.delete(id));
    if (first === undefined) return; // the agent left the books: the tasks hold nothing there
    const { frameworkId, agentId, role } = first;
    const offered = sum(held.map((h) => h.resources));
    for (const task of tasks) {
      this.tasks.set(task.taskId, { frameworkId, agentId, role, resources: task.resources });
    }
    const used = sum(tasks.map((task) => task.resources));
    if (!contains(offered, used)) {
      throw new Error(`tasks launched with more than their offers hold on agent ${agentId}`);
    }
    this.recover(first, subtract(offered, used), refuseSeconds);
  }

  // ---- Tasks ------------------------------------------------------------------------------------

  /**
   * A task an agent reports running when it (re-)registers: counted as allocated on it. A task
   * still counted elsewhere is given back there first.
   */
  countTask(taskId: string, holding: Holding): void {
    this.releaseTask(taskId);
    if (!this.agents.has(holding.agentId)) return;
    this.allocator.addAllocated(
      holding.agentId,
      holding.frameworkId,
      holding.role,
      holding.resources,
    );
    this.tasks.set(taskId, holding);
  }

  /** A task ended: what it holds is given back, the first time only. True if it held anything. */
  releaseTask(taskId: string): boolean {
    const holding = this.tasks.get(taskId);
    if (holding === undefined) return false;
    // Given back first: should the allocator refuse, the task still holds it, not nobody.
    this.recover(holding, holding.resources, 0);
    this.tasks.delete(taskId);
    return true;
  }

  // ---- Views ------------------------------------------------------------------------------------

  /** What the task holds now, if anything. */
  taskHolding(taskId: string): Holding | undefined {
    return this.tasks.get(taskId);
  }

  offerHolding(offerId: string): OfferHolding | undefined {
    return this.offers.get(offerId);
  }

  /** Per agent, what its tasks hold (added up once per agent: an agent may run thousands). */
  usedByAgent(): Map<string, Resources> {
    const held = new Map<string, Resources[]>();
    for (const { agentId, resources } of this.tasks.values()) {
      const list = held.get(agentId) ?? [];
      list.push(resources);
      held.set(agentId, list);
    }
    return new Map([...held].map(([agentId, list]) => [agentId, sum(list)]));
  }

  snapshot(): AllocatorSnapshot {
    return this.allocator.snapshot();
  }

  private recover(holding: Holding, resources: Resources, refuseSeconds: number): void {
    if (!this.agents.has(holding.agentId)) return;
    this.allocator.recoverResources(
      holding.frameworkId,
      holding.agentId,
      holding.role,
      resources,
      refuseSeconds,
      this.now(),
    );
  }
}
