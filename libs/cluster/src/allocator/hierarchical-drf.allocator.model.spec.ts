import {
  SCALARS,
  add,
  capScalars,
  contains,
  isEmpty,
  subtract,
  type Resources,
} from '@kiln/contracts';
import { describe, expect, it } from 'vitest';
import {
  HierarchicalDrfAllocator,
  type Allocation,
  type QuotaLimit,
} from './hierarchical-drf.allocator';

/**
 * The allocator's semantics restated the slow, obvious way: every share summed from scratch, every
 * order sorted afresh for every agent. Driving both with the same random operations catches the
 * incremental bookkeeping (moved sorter entries, stale shares after totals change, lazy filters)
 * drifting from what it stands for. Whole-number resources keep both sides' floats identical.
 */
class NaiveAllocator {
  private readonly agents: Array<{ id: string; total: Resources; active: boolean }> = [];
  private readonly frameworks = new Map<
    string,
    { roles: string[]; active: boolean; suppressed: Set<string> }
  >();
  /** `${agent}\0${framework}\0${role}` → resources. */
  readonly held = new Map<string, Resources>();
  private readonly filters = new Map<string, { until: number; refused: Resources }>();
  private readonly weights = new Map<string, number>();
  private readonly quotas = new Map<string, QuotaLimit>();
  private cycles = 0;

  addAgent(id: string, total: Resources): void {
    this.agents.push({ id, total, active: true });
  }
  removeAgent(id: string): void {
    this.agents.splice(
      this.agents.findIndex((a) => a.id === id),
      1,
    );
    for (const key of [...this.held.keys()]) {
      if (key.startsWith(`${id}\0`)) this.held.delete(key);
    }
    for (const key of [...this.filters.keys()]) {
      if (key.endsWith(`\0${id}`)) this.filters.delete(key);
    }
  }
  setAgentActive(id: string, active: boolean): void {
    const agent = this.agents.find((a) => a.id === id);
    if (agent) agent.active = active;
  }
  addFramework(id: string, roles: string[]): void {
    this.frameworks.set(id, { roles, active: true, suppressed: new Set() });
  }
  removeFramework(id: string): void {
    this.frameworks.delete(id);
    for (const key of [...this.held.keys()]) {
      if (key.split('\0')[1] === id) this.held.delete(key);
    }
    this.clearFilters(id);
  }
  setFrameworkActive(id: string, active: boolean): void {
    const framework = this.frameworks.get(id);
    if (framework) framework.active = active;
  }
  suppress(id: string, roles: string[]): void {
    for (const role of roles) this.frameworks.get(id)?.suppressed.add(role);
  }
  revive(id: string, roles: string[]): void {
    for (const role of roles) this.frameworks.get(id)?.suppressed.delete(role);
    this.clearFilters(id);
  }
  setWeight(role: string, weight: number): void {
    this.weights.set(role, weight);
  }
  setQuota(role: string, quota: QuotaLimit | undefined): void {
    if (quota) this.quotas.set(role, quota);
    else this.quotas.delete(role);
  }
  hold(agentId: string, frameworkId: string, role: string, r: Resources): void {
    const key = `${agentId}\0${frameworkId}\0${role}`;
    this.held.set(key, add(this.held.get(key) ?? zero(), r));
  }
  recover(allocation: Allocation, refuseSeconds: number, now: number): void {
    const { agentId, frameworkId, role, resources } = allocation;
    const key = `${agentId}\0${frameworkId}\0${role}`;
    const left = subtract(this.held.get(key) ?? zero(), resources);
    if (isEmpty(left)) this.held.delete(key);
    else this.held.set(key, left);
    if (refuseSeconds > 0 && this.frameworks.has(frameworkId)) {
      const filter = `${frameworkId}\0${agentId}`;
      const until = now + refuseSeconds * 1000;
      if (until > (this.filters.get(filter)?.until ?? -Infinity)) {
        this.filters.set(filter, { until, refused: resources });
      }
    }
  }

  allocate(now: number): Allocation[] {
    const allocations: Allocation[] = [];
    const count = this.agents.length;
    const start = count === 0 ? 0 : this.cycles % count;
    this.cycles += 1;
    for (let step = 0; step < count; step++) {
      const agent = this.agents[(start + step) % count];
      if (!agent?.active) continue;
      const free = this.sum((agentId) => agentId === agent.id, agent.total);
      if (!allocatable(free)) continue;
      const allocation = this.allocateAgent(agent.id, free, now);
      if (!allocation) continue;
      this.hold(agent.id, allocation.frameworkId, allocation.role, allocation.resources);
      allocations.push(allocation);
    }
    return allocations;
  }

  private allocateAgent(agentId: string, free: Resources, now: number): Allocation | undefined {
    const totals = this.agents.reduce((sum, a) => add(sum, { ...a.total, ports: [] }), zero());
    const share = (r: Resources): number =>
      Math.max(0, ...SCALARS.filter((k) => totals[k] > 0).map((k) => r[k] / totals[k]));
    const offerable = [...this.frameworks].filter(([, f]) => f.active);
    const roles = [...new Set(offerable.flatMap(([, f]) => f.roles))]
      .map((role) => {
        const held = this.sumHeld((_, r) => r === role);
        return { role, held, key: share(held) / (this.weights.get(role) ?? 1) };
      })
      .sort((a, b) => a.key - b.key || compareNames(a.role, b.role));
    for (const { role, held } of roles) {
      const quota = this.quotas.get(role);
      const offer = quota
        ? capScalars(free, {
            cpus: Math.max(0, (quota.cpus ?? Infinity) - held.cpus),
            mem: Math.max(0, (quota.mem ?? Infinity) - held.mem),
            disk: Math.max(0, (quota.disk ?? Infinity) - held.disk),
          })
        : free;
      if (!allocatable(offer)) continue;
      const candidates = offerable
        .filter(([, f]) => f.roles.includes(role) && !f.suppressed.has(role))
        .map(([id]) => ({ id, key: share(this.sumHeld((f, r) => f === id && r === role)) }))
        .sort((a, b) => a.key - b.key || compareNames(a.id, b.id));
      for (const { id } of candidates) {
        const filter = this.filters.get(`${id}\0${agentId}`);
        if (filter !== undefined && filter.until > now && contains(filter.refused, offer)) continue;
        return { frameworkId: id, role, agentId, resources: offer };
      }
    }
    return undefined;
  }

  /** What is left of `from` after everything held on the agents `where` selects. */
  private sum(where: (agentId: string) => boolean, from: Resources): Resources {
    let free = from;
    for (const [key, r] of this.held) if (where(key.split('\0')[0] ?? '')) free = subtract(free, r);
    return free;
  }

  private sumHeld(where: (frameworkId: string, role: string) => boolean): Resources {
    let total = zero();
    for (const [key, r] of this.held) {
      const [, frameworkId = '', role = ''] = key.split('\0');
      if (where(frameworkId, role)) total = add(total, { ...r, ports: [] });
    }
    return total;
  }

  private clearFilters(frameworkId: string): void {
    for (const key of [...this.filters.keys()]) {
      if (key.startsWith(`${frameworkId}\0`)) this.filters.delete(key);
    }
  }
}

function zero(): Resources {
  return { cpus: 0, mem: 0, disk: 0, ports: [] };
}

function allocatable(r: Resources): boolean {
  return r.cpus >= 0.01 && r.mem >= 32 && !isEmpty(r);
}

function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Park–Miller: the same operations for a seed on every run and machine. */
function prng(seed: number): { below: (n: number) => number; pick: <T>(xs: readonly T[]) => T } {
  let state = seed;
  const below = (n: number): number => {
    state = (state * 48271) % 2147483647;
    return state % n;
  };
  const pick = <T>(xs: readonly T[]): T => {
    const x = xs[below(xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  };
  return { below, pick };
}

const ROLES = ['batch', 'ci', 'deploy'];

/** How much of the interesting ground one run covered, so a quiet run cannot pass unnoticed. */
interface Coverage {
  offers: number;
  filteredSkips: number;
}

function runScenario(seed: number, steps: number): Coverage {
  const coverage: Coverage = { offers: 0, filteredSkips: 0 };
  const { below, pick } = prng(seed);
  const allocator = new HierarchicalDrfAllocator();
  const model = new NaiveAllocator();
  const agents: string[] = [];
  const frameworks = new Map<string, string[]>();
  const outstanding: Allocation[] = [];
  let nextId = 0;
  let now = 0;

  const addAgent = (): void => {
    const id = `a${nextId++}`;
    const total = {
      cpus: pick([2, 4, 8]),
      mem: pick([1024, 4096]),
      disk: pick([0, 100]),
      ports: [],
    };
    allocator.addAgent(id, total);
    model.addAgent(id, total);
    agents.push(id);
  };
  const addFramework = (): void => {
    const id = `f${nextId++}`;
    const roles = ROLES.filter(() => below(2) === 0);
    allocator.addFramework(id, roles);
    model.addFramework(id, roles);
    frameworks.set(id, roles);
  };
  const dropOutstanding = (matches: (a: Allocation) => boolean): void => {
    for (let i = outstanding.length - 1; i >= 0; i--) {
      const allocation = outstanding[i];
      if (allocation && matches(allocation)) outstanding.splice(i, 1);
    }
  };

  for (let i = 0; i < 4; i++) addAgent();
  for (let i = 0; i < 3; i++) addFramework();

  for (let step = 0; step < steps; step++) {
    now += below(3000);
    const op = below(20);
    const frameworkIds = [...frameworks.keys()];
    if (op < 6) {
      const actual = allocator.allocate(now);
      expect(actual, `seed ${seed}, step ${step}`).toEqual(model.allocate(now));
      outstanding.push(...actual);
      coverage.offers += actual.length;
      coverage.filteredSkips += allocator.metrics().filteredSkips;
    } else if (op < 11 && outstanding.length > 0) {
      const allocation = outstanding.splice(below(outstanding.length), 1)[0];
      if (!allocation) continue;
      // Give back part of it sometimes (a task was launched with the rest), all of it otherwise.
      const part =
        below(2) === 0
          ? allocation.resources
          : {
              cpus: below(allocation.resources.cpus + 1),
              mem: below(allocation.resources.mem + 1),
              disk: below(allocation.resources.disk + 1),
              ports: [],
            };
      const recovered = { ...allocation, resources: part };
      const refuseSeconds = pick([0, 0, 1, 5]);
      allocator.recoverResources(
        recovered.frameworkId,
        recovered.agentId,
        recovered.role,
        part,
        refuseSeconds,
        now,
      );
      model.recover(recovered, refuseSeconds, now);
      const rest = subtract(allocation.resources, part);
      if (!isEmpty(rest)) outstanding.push({ ...allocation, resources: rest });
    } else if (op === 11 && frameworkIds.length > 0) {
      const id = pick(frameworkIds);
      const roles = (frameworks.get(id) ?? []).filter(() => below(2) === 0);
      if (below(2) === 0) {
        allocator.suppress(id, roles);
        model.suppress(id, roles);
      } else {
        allocator.revive(id, roles);
        model.revive(id, roles);
      }
    } else if (op === 12 && frameworkIds.length > 0) {
      const id = pick(frameworkIds);
      const active = below(2) === 0;
      if (active) allocator.activateFramework(id);
      else allocator.deactivateFramework(id);
      model.setFrameworkActive(id, active);
    } else if (op === 13 && agents.length > 0) {
      const id = pick(agents);
      const active = below(3) > 0;
      if (active) allocator.activateAgent(id);
      else allocator.deactivateAgent(id);
      model.setAgentActive(id, active);
    } else if (op === 14) {
      const role = pick(ROLES);
      const weight = pick([0.5, 1, 2, 3]);
      allocator.setWeight(role, weight);
      model.setWeight(role, weight);
    } else if (op === 15) {
      const role = pick(ROLES);
      const quota = below(2) === 0 ? undefined : { cpus: below(30), mem: 1024 * below(20) };
      allocator.setQuota(role, quota);
      model.setQuota(role, quota);
    } else if (op === 16) {
      if (agents.length < 8 || below(2) === 0) {
        addAgent();
      } else {
        const id = agents.splice(below(agents.length), 1)[0] ?? '';
        allocator.removeAgent(id);
        model.removeAgent(id);
        dropOutstanding((a) => a.agentId === id);
      }
    } else if (op === 17) {
      if (frameworks.size < 5 || below(2) === 0) {
        addFramework();
      } else {
        const id = pick(frameworkIds);
        frameworks.delete(id);
        allocator.removeFramework(id);
        model.removeFramework(id);
        dropOutstanding((a) => a.frameworkId === id);
      }
    } else if (op === 18 && agents.length > 0 && frameworkIds.length > 0) {
      // Tasks found running when an agent re-registers.
      const agentId = pick(agents);
      const agent = allocator.snapshot().agents.find((a) => a.agentId === agentId);
      if (!agent) continue;
      const freeCpus = agent.total.cpus - agent.allocated.cpus;
      const used = { cpus: below(freeCpus + 1), mem: 0, disk: 0, ports: [] };
      if (isEmpty(used)) continue;
      const frameworkId = pick(frameworkIds);
      const role = pick(ROLES);
      allocator.addAllocated(agentId, frameworkId, role, used);
      model.hold(agentId, frameworkId, role, used);
      outstanding.push({ frameworkId, role, agentId, resources: used });
    } else {
      const snapshot = allocator.snapshot();
      for (const { role, allocated } of snapshot.roles) {
        let expected = zero();
        for (const [key, r] of model.held) {
          if (key.split('\0')[2] === role) expected = add(expected, { ...r, ports: [] });
        }
        expect(allocated, `role ${role}, seed ${seed}, step ${step}`).toEqual(expected);
      }
    }
  }
  return coverage;
}

describe(HierarchicalDrfAllocator.name, () => {
  describe('against a from-scratch model', () => {
    it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])(
      'makes the same offers as the model through random operations (seed %i)',
      (seed) => {
        const coverage = runScenario(seed, 600);
        expect(coverage.offers).toBeGreaterThan(50);
        expect(coverage.filteredSkips).toBeGreaterThan(0);
      },
    );
  });
});
