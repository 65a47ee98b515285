import {
  SCALARS,
  add,
  capScalars,
  contains,
  emptyResources,
  formatResources,
  isEmpty,
  subtract,
  type Resources,
  type Scalar,
} from '@kiln/contracts';
import { DrfSorter, type SorterClient } from './drf-sorter';

/** Resources offered to (or found in use by) one framework in one role on one agent. */
/** A framework declined `refused` on an agent: offers within it are not made until `until`. */
interface DeclineFilter {
  until: number;
  refused: Resources;
}

export interface Allocation {
  frameworkId: string;
  role: string;
  agentId: string;
  resources: Resources;
}

/** An upper limit per scalar; a scalar left out is unlimited. */
export type QuotaLimit = Partial<Record<Scalar, number>>;

export interface AllocatorOptions {
  /**
   * Agents with less free than this are not offered (default cpus 0.01 AND mem 32 MiB). Mesos'
   * default is either one; but every task needs both, and an offer of memory without cpus
   * only counts against the framework's share until it is declined.
   */
  minAllocatable?: { cpus: number; mem: number };
}

export interface AllocatorSnapshot {
  /** Scalars only: port ranges of different agents cannot be added up. */
  totals: Resources;
  roles: Array<{
    role: string;
    weight: number;
    quota?: QuotaLimit;
    /** Scalars only, over all agents. */
    allocated: Resources;
    /** The dominant share, before dividing by the weight. */
    share: number;
  }>;
  frameworks: Array<{
    frameworkId: string;
    /** Empty for a framework only known from agents' running tasks (addAllocated) and not yet added. */
    roles: string[];
    active: boolean;
    suppressedRoles: string[];
    /** Scalars only, over all its roles and agents. */
    allocated: Resources;
    share: number;
  }>;
  agents: Array<{ agentId: string; total: Resources; allocated: Resources; active: boolean }>;
}

/** Counters of the last allocation cycle, to tell where a slow cycle spent its time. */
export interface AllocationCycleMetrics {
  /** Active agents with enough free resources to be offered. */
  agentsConsidered: number;
  allocations: number;
  /** Times a framework was passed over for an agent because it had declined it (live filter). */
  filteredSkips: number;
}

const DEFAULT_MIN_ALLOCATABLE = { cpus: 0.01, mem: 32 };

interface AgentState {
  readonly id: string;
  readonly total: Resources;
  /** Kept rather than what is allocated: it is what every cycle reads. */
  free: Resources;
  active: boolean;
  readonly attributes: Readonly<Record<string, string>>;
  /** Decline filters of frameworks on this agent. */
  readonly filters: Map<FrameworkState, DeclineFilter>;
  /** A handful per agent, so an array beats a Map's hashing and its churn on every offer. */
  readonly holdings: Holding[];
}

interface FrameworkState {
  readonly id: string;
  /**
   * False while the framework is known only because a re-registering agent reported its tasks
   * (addAllocated): after a master failover agents may come back before their frameworks do.
   */
  added: boolean;
  active: boolean;
  roles: ReadonlySet<string>;
  readonly suppressed: Set<string>;
  readonly clients: Map<string, Client>;
  readonly allocated: Tally;
  /** The same filters as on the agents, indexed the other way so revive and removal are cheap. */
  readonly filters: Map<AgentState, DeclineFilter>;
}

interface RoleState extends SorterClient {
  readonly allocated: Tally;
  /** Unweighted dominant share; `key` is this divided by the weight. */
  share: number;
  readonly clients: Map<string, Client>;
  /** The role's clients that may be offered anything at all (active, subscribed, not suppressed). */
  readonly offerable: DrfSorter<Client>;
}

/** A framework as seen by one role: a framework in several roles competes in each separately. */
interface Client extends SorterClient {
  readonly framework: FrameworkState;
  readonly role: RoleState;
  /** `key` is its dominant share. */
  readonly allocated: Tally;
  /** On how many agents it holds something. */
  holdingCount: number;
}

/** What one client holds on one agent. */
interface Holding {
  readonly agent: AgentState;
  readonly client: Client;
  resources: Resources;
}

/**
 * Hierarchical dominant-resource-fairness allocator, after Mesos' HierarchicalAllocator: each cycle
 * offers every agent's free resources to one framework, picking first the role with the lowest
 * weighted dominant share, then that role's framework with the lowest dominant share. Pure: no
 * I/O and no clock; the caller passes `now` in ms.
 *
 * Unknown ids are caller bugs and throw, except in {@link recoverResources}: there the framework or
 * agent may have been removed while the offer was in flight, and removal already released it.
 */
export class HierarchicalDrfAllocator {
  private readonly minAllocatable: { cpus: number; mem: number };
  private readonly agents = new Map<string, AgentState>();
  /** Registration order, the basis of the rotating walk. */
  private readonly agentOrder: AgentState[] = [];
  private readonly frameworks = new Map<string, FrameworkState>();
  /** Roles that have clients; weights and quotas live apart since they outlive them. */
  private readonly roles = new Map<string, RoleState>();
  private readonly roleSorter = new DrfSorter<RoleState>();
  private readonly weights = new Map<string, number>();
  private readonly quotas = new Map<string, QuotaLimit>();
  /** Scalars of all agents, the denominators of every share. */
  private readonly totals = newTally();
  /** Set when the totals moved, so every share is stale; recomputed once, before it is needed. */
  private sharesStale = false;
  private cycles = 0;
  private lastCycle: AllocationCycleMetrics = {
    agentsConsidered: 0,
    allocations: 0,
    filteredSkips: 0,
  };

  constructor(options: AllocatorOptions = {}) {
    const min = options.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE;
    if (!(min.cpus >= 0 && min.mem >= 0 && Number.isFinite(min.cpus + min.mem))) {
      throw new Error(`minAllocatable must be finite and non-negative, got ${JSON.stringify(min)}`);
    }
    this.minAllocatable = { ...min };
  }

  addAgent(agentId: string, total: Resources, attributes: Record<string, string> = {}): void {
    if (this.agents.has(agentId)) throw new Error(`agent "${agentId}" is already added`);
    const agent: AgentState = {
      id: agentId,
      total: clone(total),
      free: clone(total),
      active: true,
      attributes: { ...attributes },
      filters: new Map(),
      holdings: [],
    };
    this.agents.set(agentId, agent);
    this.agentOrder.push(agent);
    addTo(this.totals, total, 1);
    this.invalidateShares();
  }

  /** Resources already in use on an agent when it (re-)registers, e.g. its running tasks: count as allocated. */
  addAllocated(agentId: string, frameworkId: string, role: string, resources: Resources): void {
    const agent = this.requireAgent(agentId);
    if (!contains(agent.free, resources)) {
      throw new Error(
        `agent "${agentId}" has ${formatResources(agent.free)} free, ` +
          `cannot count ${formatResources(resources)} as used by "${frameworkId}"`,
      );
    }
    assertRoleName(role);
    let framework = this.frameworks.get(frameworkId);
    if (!framework) {
      framework = newFramework(frameworkId, false, []);
      this.frameworks.set(frameworkId, framework);
    }
    this.track(agent, this.clientOf(framework, role), resources);
  }

  /** Its allocations vanish from the shares, and decline filters on it with them. */
  removeAgent(agentId: string): void {
    const agent = this.requireAgent(agentId);
    for (const holding of [...agent.holdings]) {
      this.untrack(holding, holding.resources);
      this.dropClientIfIdle(holding.client);
    }
    for (const framework of agent.filters.keys()) framework.filters.delete(agent);
    this.agents.delete(agentId);
    this.agentOrder.splice(this.agentOrder.indexOf(agent), 1);
    addTo(this.totals, agent.total, -1);
    this.invalidateShares();
  }

  /** Disconnected: no offers until {@link activateAgent}; what it holds still counts. */
  deactivateAgent(agentId: string): void {
    this.requireAgent(agentId).active = false;
  }

  activateAgent(agentId: string): void {
    this.requireAgent(agentId).active = true;
  }

  addFramework(frameworkId: string, roles: readonly string[]): void {
    roles.forEach(assertRoleName);
    const known = this.frameworks.get(frameworkId);
    if (known?.added) throw new Error(`framework "${frameworkId}" is already added`);
    const framework = known ?? newFramework(frameworkId, true, roles);
    framework.added = true;
    framework.active = true;
    framework.roles = new Set(roles);
    this.frameworks.set(frameworkId, framework);
    for (const role of framework.roles) this.refreshOfferable(this.clientOf(framework, role));
  }

  /** Releases all its allocations and drops its filters. Also for one never added, only known from addAllocated. */
  removeFramework(frameworkId: string): void {
    const framework = this.frameworks.get(frameworkId);
    if (!framework) throw new Error(`unknown framework "${frameworkId}"`);
    framework.roles = new Set();
    // A walk over all agents, as holdings are only indexed by agent: removal is rare, offers are not.
    for (const agent of this.agentOrder) {
      for (const holding of [...agent.holdings]) {
        if (holding.client.framework === framework) this.untrack(holding, holding.resources);
      }
    }
    for (const client of [...framework.clients.values()]) this.dropClientIfIdle(client);
    for (const agent of framework.filters.keys()) agent.filters.delete(framework);
    framework.filters.clear();
    this.frameworks.delete(frameworkId);
  }

  /** E.g. its scheduler disconnected: no offers until {@link activateFramework}; what it holds still counts. */
  deactivateFramework(frameworkId: string): void {
    const framework = this.requireFramework(frameworkId);
    framework.active = false;
    for (const client of framework.clients.values()) this.refreshOfferable(client);
  }

  activateFramework(frameworkId: string): void {
    const framework = this.requireFramework(frameworkId);
    framework.active = true;
    for (const client of framework.clients.values()) this.refreshOfferable(client);
  }

  /** A role's weight divides its share: a role of weight 2 is offered twice what one of weight 1 is. */
  setWeight(role: string, weight: number): void {
    assertRoleName(role);
    if (!(weight > 0 && Number.isFinite(weight))) {
      throw new Error(`weight of role "${role}" must be a finite number > 0, got ${weight}`);
    }
    this.weights.set(role, weight);
    const state = this.roles.get(role);
    if (state && !this.sharesStale) this.roleSorter.rekey(state, state.share / weight);
  }

  /**
   * Upper limit of what the role may hold, offers included; `undefined` lifts it. Lowering it below
   * what the role holds takes nothing back (as in Mesos): the role just gets no offers until it
   * holds less.
   */
  setQuota(role: string, limit: QuotaLimit | undefined): void {
    assertRoleName(role);
    if (limit === undefined) {
      this.quotas.delete(role);
      return;
    }
    const quota: QuotaLimit = {};
    for (const [kind, amount] of Object.entries(limit)) {
      if (amount === undefined) continue;
      if (!isScalar(kind) || !(amount >= 0)) {
        throw new Error(`quota of role "${role}" has invalid ${kind}: ${amount}`);
      }
      quota[kind] = amount;
    }
    this.quotas.set(role, quota);
  }

  /**
   * Resources come back (declined, unused part of an offer, finished task, rescinded offer).
   * `refuseSeconds > 0` installs a decline filter: that framework is not offered that agent again
   * until `now + refuseSeconds * 1000`.
   *
   * A framework or agent that is no longer known is a no-op: removing it already released what it
   * held, and the master may still be rescinding offers made before. Recovering more than the
   * framework holds in that role on that agent is a bookkeeping bug and throws.
   */
  recoverResources(
    frameworkId: string,
    agentId: string,
    role: string,
    resources: Resources,
    refuseSeconds: number,
    now: number,
  ): void {
    const framework = this.frameworks.get(frameworkId);
    const agent = this.agents.get(agentId);
    if (!framework || !agent) return;
    const client = framework.clients.get(role);
    const holding = client && holdingOf(agent, client);
    if (!contains(holding?.resources ?? emptyResources(), resources)) {
      throw new Error(
        `framework "${frameworkId}" holds ${formatResources(holding?.resources ?? emptyResources())} ` +
          `in role "${role}" on agent "${agentId}", cannot recover ${formatResources(resources)}`,
      );
    }
    if (holding) {
      this.untrack(holding, resources);
      this.dropClientIfIdle(holding.client);
    }
    // A framework only known from addAllocated is never offered anything, so it needs no filter.
    if (refuseSeconds > 0 && framework.added) {
      const until = now + refuseSeconds * 1000;
      // Of several declines of one agent, the one that lasts longest stands.
      const current = agent.filters.get(framework)?.until ?? -Infinity;
      if (until > current) {
        const filter: DeclineFilter = { until, refused: clone(resources) };
        agent.filters.set(framework, filter);
        framework.filters.set(agent, filter);
      }
    }
  }

  /** No offers for those roles (all its roles if omitted) until {@link revive}. */
  suppress(frameworkId: string, roles?: readonly string[]): void {
    const framework = this.requireFramework(frameworkId);
    for (const role of this.subscribedRoles(framework, roles)) {
      framework.suppressed.add(role);
      this.refreshOfferable(this.clientOf(framework, role));
    }
  }

  /**
   * Unsuppresses those roles (all if omitted) and clears all the framework's decline filters:
   * filters are per agent, not per role, and a revive means it wants offers again now.
   */
  revive(frameworkId: string, roles?: readonly string[]): void {
    const framework = this.requireFramework(frameworkId);
    for (const role of this.subscribedRoles(framework, roles)) {
      framework.suppressed.delete(role);
      this.refreshOfferable(this.clientOf(framework, role));
    }
    for (const agent of framework.filters.keys()) agent.filters.delete(framework);
    framework.filters.clear();
  }

  /**
   * One allocation cycle: walks the agents, starting one further each cycle so that no agent is
   * always offered first, and offers each active agent's free resources to one framework.
   */
  allocate(now: number): Allocation[] {
    this.refreshShares();
    const metrics: AllocationCycleMetrics = {
      agentsConsidered: 0,
      allocations: 0,
      filteredSkips: 0,
    };
    const allocations: Allocation[] = [];
    const count = this.agentOrder.length;
    const start = count === 0 ? 0 : this.cycles % count;
    this.cycles += 1;
    for (let step = 0; step < count; step++) {
      const agent = this.agentOrder[(start + step) % count];
      if (!agent?.active || !this.isAllocatable(agent.free)) continue;
      metrics.agentsConsidered += 1;
      const allocation = this.allocateAgent(agent, now, metrics);
      if (allocation) allocations.push(allocation);
    }
    metrics.allocations = allocations.length;
    this.lastCycle = metrics;
    return allocations;
  }

  /** Counters of the last {@link allocate} call. */
  metrics(): AllocationCycleMetrics {
    return { ...this.lastCycle };
  }

  /** For the operator API and tests. */
  snapshot(): AllocatorSnapshot {
    this.refreshShares();
    const roleNames = new Set([
      ...this.roles.keys(),
      ...this.weights.keys(),
      ...this.quotas.keys(),
    ]);
    return {
      totals: tallyResources(this.totals),
      roles: [...roleNames].sort(byCodeUnits).map((name) => {
        const state = this.roles.get(name);
        const quota = this.quotas.get(name);
        return {
          role: name,
          weight: this.weightOf(name),
          ...(quota ? { quota: { ...quota } } : {}),
          allocated: tallyResources(state?.allocated ?? newTally()),
          share: state?.share ?? 0,
        };
      }),
      frameworks: [...this.frameworks.values()]
        .sort((a, b) => byCodeUnits(a.id, b.id))
        .map((framework) => ({
          frameworkId: framework.id,
          roles: [...framework.roles].sort(byCodeUnits),
          active: framework.added && framework.active,
          suppressedRoles: [...framework.suppressed].sort(byCodeUnits),
          allocated: tallyResources(framework.allocated),
          share: this.shareOf(framework.allocated),
        })),
      agents: [...this.agents.values()]
        .sort((a, b) => byCodeUnits(a.id, b.id))
        .map((agent) => ({
          agentId: agent.id,
          total: clone(agent.total),
          allocated: subtract(agent.total, agent.free),
          active: agent.active,
        })),
    };
  }

  private allocateAgent(
    agent: AgentState,
    now: number,
    metrics: AllocationCycleMetrics,
  ): Allocation | undefined {
    let offer: Resources | undefined;
    let client: Client | undefined;
    const hasFilters = agent.filters.size > 0;
    const role = this.roleSorter.find((candidate) => {
      if (candidate.offerable.size === 0) return false;
      offer = this.offerWithinQuota(candidate, agent.free);
      if (!offer) return false;
      const offered = offer;
      client = candidate.offerable.find((framework) => {
        if (!hasFilters || !this.isFiltered(framework.framework, agent, offered, now)) return true;
        metrics.filteredSkips += 1;
        return false;
      });
      return client !== undefined;
    });
    if (!role || !client || !offer) return undefined;
    this.track(agent, client, offer);
    return {
      frameworkId: client.framework.id,
      role: role.name,
      agentId: agent.id,
      resources: clone(offer),
    };
  }

  /** The agent's free resources capped by the role's quota headroom, if that is still worth offering. */
  private offerWithinQuota(role: RoleState, free: Resources): Resources | undefined {
    const quota = this.quotas.get(role.name);
    if (!quota) return free;
    const headroom: QuotaLimit = {};
    for (const kind of SCALARS) {
      const limit = quota[kind];
      if (limit !== undefined) headroom[kind] = Math.max(0, round(limit - role.allocated[kind]));
    }
    const offer = capScalars(free, headroom);
    return this.isAllocatable(offer) ? offer : undefined;
  }

  private isAllocatable(free: Resources): boolean {
    return (
      free.cpus >= this.minAllocatable.cpus && free.mem >= this.minAllocatable.mem && !isEmpty(free)
    );
  }

  /**
   * Whether a live decline filter keeps `offer` on `agent` from `framework`; drops an expired one
   * on the way. As in Mesos, a filter refuses only offers within what was declined: a framework
   * that declined an agent's leftover memory still gets that agent once cpus free up there.
   */
  private isFiltered(
    framework: FrameworkState,
    agent: AgentState,
    offer: Resources,
    now: number,
  ): boolean {
    const filter = agent.filters.get(framework);
    if (filter === undefined) return false;
    if (now < filter.until) return contains(filter.refused, offer);
    agent.filters.delete(framework);
    framework.filters.delete(agent);
    return false;
  }

  private track(agent: AgentState, client: Client, resources: Resources): void {
    // The shortcuts skip port-range arithmetic in the common case, a whole agent to one framework.
    const holding = holdingOf(agent, client);
    if (holding) {
      holding.resources = add(holding.resources, resources);
    } else {
      agent.holdings.push({ agent, client, resources: clone(resources) });
      client.holdingCount += 1;
    }
    agent.free = resources === agent.free ? emptyResources() : subtract(agent.free, resources);
    this.account(client, resources, 1);
  }

  private untrack(holding: Holding, resources: Resources): void {
    const { agent, client } = holding;
    // Taking back all of it (a declined offer, a removal) needs no port-range arithmetic.
    const all = resources === holding.resources || contains(resources, holding.resources);
    holding.resources = all ? emptyResources() : subtract(holding.resources, resources);
    if (all || isEmpty(holding.resources)) {
      const index = agent.holdings.indexOf(holding);
      agent.holdings[index] = agent.holdings[agent.holdings.length - 1] ?? holding;
      agent.holdings.pop();
      client.holdingCount -= 1;
    }
    agent.free = add(agent.free, resources);
    this.account(client, resources, -1);
  }

  /** Applies a change of what `client` holds to it, its framework and its role, and reorders them. */
  private account(client: Client, resources: Resources, sign: 1 | -1): void {
    const { framework, role } = client;
    addTo(client.allocated, resources, sign);
    addTo(framework.allocated, resources, sign);
    addTo(role.allocated, resources, sign);
    role.share = this.shareOf(role.allocated);
    const clientShare = this.shareOf(client.allocated);
    if (this.sharesStale) {
      // refreshShares recomputes every key and sorts before the order is used again.
      client.key = clientShare;
      role.key = role.share / this.weightOf(role.name);
      return;
    }
    if (role.offerable.has(client)) role.offerable.rekey(client, clientShare);
    else client.key = clientShare;
    this.roleSorter.rekey(role, role.share / this.weightOf(role.name));
  }

  /** Dominant share: the largest fraction of the cluster's total of any scalar (ports excluded). */
  private shareOf(allocated: Tally): number {
    let share = 0;
    for (const kind of SCALARS) {
      const total = this.totals[kind];
      if (total > 0) share = Math.max(share, allocated[kind] / total);
    }
    return share;
  }

  private weightOf(role: string): number {
    return this.weights.get(role) ?? 1;
  }

  private invalidateShares(): void {
    if (this.sharesStale) return;
    this.sharesStale = true;
    this.roleSorter.invalidate();
    for (const role of this.roles.values()) role.offerable.invalidate();
  }

  private refreshShares(): void {
    if (!this.sharesStale) return;
    for (const role of this.roles.values()) {
      role.share = this.shareOf(role.allocated);
      role.key = role.share / this.weightOf(role.name);
      for (const client of role.clients.values()) client.key = this.shareOf(client.allocated);
      role.offerable.reorder();
    }
    this.roleSorter.reorder();
    this.sharesStale = false;
  }

  /** Puts the client into or out of its role's sorter according to whether it may get offers. */
  private refreshOfferable(client: Client): void {
    const { framework, role } = client;
    const offerable =
      framework.added &&
      framework.active &&
      framework.roles.has(role.name) &&
      !framework.suppressed.has(role.name);
    if (offerable === role.offerable.has(client)) return;
    if (offerable) role.offerable.insert(client);
    else role.offerable.remove(client);
  }

  private clientOf(framework: FrameworkState, roleName: string): Client {
    const existing = framework.clients.get(roleName);
    if (existing) return existing;
    let role = this.roles.get(roleName);
    if (!role) {
      role = {
        name: roleName,
        key: 0,
        sorterIndex: -1,
        share: 0,
        allocated: newTally(),
        clients: new Map(),
        offerable: new DrfSorter<Client>(),
      };
      if (this.sharesStale) role.offerable.invalidate();
      this.roles.set(roleName, role);
      this.roleSorter.insert(role);
    }
    const client: Client = {
      name: framework.id,
      key: 0,
      framework,
      role,
      allocated: newTally(),
      holdingCount: 0,
      sorterIndex: -1,
    };
    framework.clients.set(roleName, client);
    role.clients.set(framework.id, client);
    return client;
  }

  /**
   * A client lives while its framework is subscribed to the role or holds something in it; a role
   * lives while it has clients, and a framework known only from addAllocated while it holds anything.
   */
  private dropClientIfIdle(client: Client): void {
    const { framework, role } = client;
    if (framework.roles.has(role.name) || client.holdingCount > 0) return;
    if (role.offerable.has(client)) role.offerable.remove(client);
    framework.clients.delete(role.name);
    role.clients.delete(framework.id);
    if (role.clients.size === 0) {
      this.roleSorter.remove(role);
      this.roles.delete(role.name);
    }
    if (!framework.added && framework.clients.size === 0) this.frameworks.delete(framework.id);
  }

  private subscribedRoles(framework: FrameworkState, roles?: readonly string[]): readonly string[] {
    if (roles === undefined) return [...framework.roles];
    for (const role of roles) {
      if (!framework.roles.has(role)) {
        throw new Error(`framework "${framework.id}" is not subscribed to role "${role}"`);
      }
    }
    return roles;
  }

  private requireAgent(agentId: string): AgentState {
    const agent = this.agents.get(agentId);
    if (!agent) throw new Error(`unknown agent "${agentId}"`);
    return agent;
  }

  /** A framework that was added; one only known from addAllocated is not. */
  private requireFramework(frameworkId: string): FrameworkState {
    const framework = this.frameworks.get(frameworkId);
    if (!framework?.added) throw new Error(`unknown framework "${frameworkId}"`);
    return framework;
  }
}

function holdingOf(agent: AgentState, client: Client): Holding | undefined {
  for (const holding of agent.holdings) if (holding.client === client) return holding;
  return undefined;
}

function newFramework(id: string, added: boolean, roles: readonly string[]): FrameworkState {
  return {
    id,
    added,
    active: added,
    roles: new Set(roles),
    suppressed: new Set(),
    clients: new Map(),
    allocated: newTally(),
    filters: new Map(),
  };
}

function isScalar(kind: string): kind is Scalar {
  return (SCALARS as readonly string[]).includes(kind);
}

function assertRoleName(role: string): void {
  if (role.trim() === '') throw new Error('role name must not be empty');
}

/**
 * Scalars summed over many agents, changed in place: aggregates move on every allocation, and a
 * fresh Resources for each would keep the garbage collector busy. No ports: ranges of different
 * agents cannot be added up.
 */
type Tally = Record<Scalar, number>;

function newTally(): Tally {
  return { cpus: 0, mem: 0, disk: 0 };
}

function addTo(tally: Tally, r: Resources, sign: 1 | -1): void {
  tally.cpus = Math.max(0, round(tally.cpus + sign * r.cpus));
  tally.mem = Math.max(0, round(tally.mem + sign * r.mem));
  tally.disk = Math.max(0, round(tally.disk + sign * r.disk));
}

function tallyResources(tally: Tally): Resources {
  return { ...emptyResources(), cpus: tally.cpus, mem: tally.mem, disk: tally.disk };
}

/** The 1e-6 grid of @kiln/contracts' arithmetic, so sums agree with theirs instead of drifting. */
function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** A copy the caller may keep or change without touching the allocator's state. */
function clone(r: Resources): Resources {
  return { cpus: r.cpus, mem: r.mem, disk: r.disk, ports: r.ports.map(([b, e]) => [b, e]) };
}

function byCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
