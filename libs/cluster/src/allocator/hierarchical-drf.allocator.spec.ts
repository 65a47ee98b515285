import { resources, subtract, type Resources } from '@kiln/contracts';
import { describe, expect, it } from 'vitest';
import { HierarchicalDrfAllocator, type Allocation } from './hierarchical-drf.allocator';

const GiB = 1024;

function agentOf(cpus: number, mem: number, disk = 0): Resources {
  return resources({ cpus, mem, disk });
}

/** One framework in one role on agents a1…an of the given size. */
function cluster(
  agentCount: number,
  size: Resources,
  frameworkIds = ['f1'],
): HierarchicalDrfAllocator {
  const allocator = new HierarchicalDrfAllocator();
  for (let i = 1; i <= agentCount; i++) allocator.addAgent(`a${i}`, size);
  for (const id of frameworkIds) allocator.addFramework(id, ['ci']);
  return allocator;
}

function recoverAll(
  allocator: HierarchicalDrfAllocator,
  allocations: readonly Allocation[],
  refuseSeconds = 0,
  now = 0,
): void {
  for (const { frameworkId, agentId, role, resources: offered } of allocations) {
    allocator.recoverResources(frameworkId, agentId, role, offered, refuseSeconds, now);
  }
}

function who(allocations: readonly Allocation[]): string[] {
  return allocations.map((a) => `${a.frameworkId}@${a.agentId}`);
}

function frameworkShare(allocator: HierarchicalDrfAllocator, frameworkId: string): number {
  const framework = allocator.snapshot().frameworks.find((f) => f.frameworkId === frameworkId);
  if (!framework) throw new Error(`no framework ${frameworkId} in the snapshot`);
  return framework.share;
}

describe(HierarchicalDrfAllocator.name, () => {
  describe('offers', () => {
    it("offers an agent's whole free resources, ports included, to the only framework", () => {
      const allocator = new HierarchicalDrfAllocator();
      const total = resources({ cpus: 4, mem: 8 * GiB, disk: 10_000, ports: [[31000, 31099]] });
      allocator.addAgent('a1', total);
      allocator.addFramework('f1', ['ci']);

      expect(allocator.allocate(0)).toEqual([
        { frameworkId: 'f1', role: 'ci', agentId: 'a1', resources: total },
      ]);
    });

    it('does not offer offered resources again until they are recovered, then only those', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      const [offer] = allocator.allocate(0);
      expect(offer?.resources).toEqual(agentOf(4, 4 * GiB));

      expect(allocator.allocate(1)).toEqual([]);

      allocator.recoverResources('f1', 'a1', 'ci', agentOf(1, 512), 0, 2);
      expect(allocator.allocate(3).map((a) => a.resources)).toEqual([agentOf(1, 512)]);
    });

    it('hands back copies: changing an offer does not change what the allocator holds', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      const [offer] = allocator.allocate(0);
      if (!offer) throw new Error('expected an offer');
      offer.resources.cpus = 0;

      expect(allocator.snapshot().agents[0]?.allocated.cpus).toBe(4);
    });

    it('offers nothing while no framework is added', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', agentOf(4, 4 * GiB));
      expect(allocator.allocate(0)).toEqual([]);
    });

    it('rotates the agent that is walked first from one cycle to the next', () => {
      const allocator = cluster(3, agentOf(1, GiB));
      const firsts: string[] = [];
      for (let cycle = 0; cycle < 3; cycle++) {
        const allocations = allocator.allocate(cycle);
        expect(allocations).toHaveLength(3);
        firsts.push(allocations[0]?.agentId ?? '');
        recoverAll(allocator, allocations);
      }
      expect(firsts).toEqual(['a1', 'a2', 'a3']);
    });
  });

  describe('dominant resource fairness', () => {
    it('offers the next agent of the same cycle to another framework once one has grown', () => {
      const allocator = cluster(4, agentOf(2, 2 * GiB), ['f1', 'f2']);
      expect(who(allocator.allocate(0))).toEqual(['f1@a1', 'f2@a2', 'f1@a3', 'f2@a4']);
    });

    it('converges on the DRF paper example: A gets 3 <1 cpu, 4 GB> tasks, B 2 <3 cpus, 1 GB>', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', agentOf(9, 18 * GiB));
      allocator.addFramework('A', ['ci']);
      allocator.addFramework('B', ['ci']);
      const task: Record<string, Resources> = { A: agentOf(1, 4 * GiB), B: agentOf(3, GiB) };
      const launched: string[] = [];

      // Each framework launches one task per offer if it fits and returns the rest; once nothing
      // fits it declines for a minute, so the loop ends when nobody can use what is left.
      for (let cycle = 0; cycle < 50; cycle++) {
        const allocations = allocator.allocate(0);
        if (allocations.length === 0) break;
        for (const { frameworkId, agentId, role, resources: offered } of allocations) {
          const wanted = task[frameworkId] ?? agentOf(0, 0);
          const fits = offered.cpus >= wanted.cpus && offered.mem >= wanted.mem;
          if (fits) launched.push(frameworkId);
          const unused = fits ? subtract(offered, wanted) : offered;
          allocator.recoverResources(frameworkId, agentId, role, unused, fits ? 0 : 60, 0);
        }
      }

      expect(launched).toEqual(['A', 'B', 'A', 'B', 'A']);
      expect(frameworkShare(allocator, 'A')).toBeCloseTo(2 / 3, 9);
      expect(frameworkShare(allocator, 'B')).toBeCloseTo(2 / 3, 9);
    });

    it('takes the largest fraction over cpus, mem and disk, ignoring ports and scalars with no total', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', resources({ cpus: 10, mem: 1000, ports: [[1, 100]] }));
      allocator.addFramework('f1', ['ci']);
      allocator.addAllocated('a1', 'f1', 'ci', resources({ cpus: 1, mem: 300, ports: [[1, 100]] }));

      expect(frameworkShare(allocator, 'f1')).toBeCloseTo(0.3, 12);
      expect(allocator.snapshot().roles).toEqual([
        expect.objectContaining({ role: 'ci', share: expect.closeTo(0.3, 12) as number }),
      ]);
    });

    it('gives roles of weight 1 and 2 shares in the ratio 1:2 over many small allocations', () => {
      const allocator = new HierarchicalDrfAllocator();
      for (let i = 0; i < 30; i++) allocator.addAgent(`a${i}`, agentOf(1, GiB));
      allocator.setWeight('batch', 1);
      allocator.setWeight('release', 2);
      allocator.addFramework('nightly', ['batch']);
      allocator.addFramework('deploys', ['release']);

      const allocations = allocator.allocate(0);

      expect(allocations.filter((a) => a.role === 'batch')).toHaveLength(10);
      expect(allocations.filter((a) => a.role === 'release')).toHaveLength(20);
      const shares = Object.fromEntries(allocator.snapshot().roles.map((r) => [r.role, r.share]));
      expect(shares.release).toBeCloseTo(2 * (shares.batch ?? NaN), 12);
    });

    it('picks the role first, then the framework within it', () => {
      const allocator = new HierarchicalDrfAllocator();
      for (let i = 1; i <= 4; i++) allocator.addAgent(`a${i}`, agentOf(1, GiB));
      // Three frameworks in "busy" against one in "quiet": per role, not per framework, so
      // "quiet" gets every other agent.
      allocator.addFramework('b1', ['busy']);
      allocator.addFramework('b2', ['busy']);
      allocator.addFramework('b3', ['busy']);
      allocator.addFramework('q1', ['quiet']);

      expect(who(allocator.allocate(0))).toEqual(['b1@a1', 'q1@a2', 'b2@a3', 'q1@a4']);
    });

    it('counts a framework in several roles separately in each role', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', agentOf(8, 8 * GiB));
      allocator.addAgent('a2', agentOf(8, 8 * GiB));
      allocator.addFramework('f1', ['batch', 'ci']);
      allocator.addFramework('f2', ['ci']);
      // f1 holds a whole agent in "batch"; in "ci" it holds nothing, so it ties with f2 there
      // and wins on its name.
      allocator.addAllocated('a1', 'f1', 'batch', agentOf(8, 8 * GiB));

      expect(allocator.allocate(0)).toEqual([
        expect.objectContaining({ frameworkId: 'f1', role: 'ci', agentId: 'a2' }),
      ]);
    });

    it('counts resources already in use (addAllocated) toward shares', () => {
      const allocator = cluster(2, agentOf(8, 8 * GiB), ['f1', 'f2']);
      allocator.addAllocated('a1', 'f1', 'ci', agentOf(4, 4 * GiB));

      expect(frameworkShare(allocator, 'f1')).toBeCloseTo(0.25, 12);
      // f1 would win the tie on its name; its running tasks make f2 the lower share.
      expect(allocator.allocate(0)[0]).toEqual({
        frameworkId: 'f2',
        role: 'ci',
        agentId: 'a1',
        resources: agentOf(4, 4 * GiB),
      });
    });

    it('keeps tasks reported before their framework registers and counts them once it does', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', agentOf(8, 8 * GiB));
      allocator.addAllocated('a1', 'late', 'ci', agentOf(2, 2 * GiB));
      expect(allocator.snapshot().frameworks).toEqual([
        expect.objectContaining({ frameworkId: 'late', roles: [], active: false }),
      ]);
      expect(allocator.allocate(0)).toEqual([]);

      allocator.addFramework('late', ['ci']);

      expect(frameworkShare(allocator, 'late')).toBeCloseTo(0.25, 12);
      expect(allocator.allocate(1).map((a) => a.resources)).toEqual([agentOf(6, 6 * GiB)]);
    });

    it('reorders shares when an agent joins, since every share is a fraction of the totals', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', agentOf(10, 100 * GiB));
      allocator.addFramework('cpu-heavy', ['ci']);
      allocator.addFramework('mem-heavy', ['ci']);
      allocator.addAllocated('a1', 'cpu-heavy', 'ci', agentOf(4, GiB)); // 0.4
      allocator.addAllocated('a1', 'mem-heavy', 'ci', agentOf(1, 30 * GiB)); // 0.3
      expect(frameworkShare(allocator, 'mem-heavy')).toBeLessThan(
        frameworkShare(allocator, 'cpu-heavy'),
      );
      // A cpu-rich agent halves cpu-heavy's dominant share (0.2), mem-heavy's stays near 0.3.
      allocator.addAgent('a2', agentOf(10, 2 * GiB));

      expect(allocator.allocate(0)[0]?.frameworkId).toBe('cpu-heavy');
    });
  });

  describe('decline filters', () => {
    it('refuses the agent to the declining framework until the filter expires; others still get it', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB), ['f1', 'f2']);
      const first = allocator.allocate(0);
      expect(who(first)).toEqual(['f1@a1']);
      recoverAll(allocator, first, 5, 0);

      const second = allocator.allocate(1000);
      expect(who(second)).toEqual(['f2@a1']);
      recoverAll(allocator, second, 0, 1000);
      const third = allocator.allocate(4999);
      expect(who(third)).toEqual(['f2@a1']);
      recoverAll(allocator, third, 0, 4999);

      expect(who(allocator.allocate(5000))).toEqual(['f1@a1']);
    });

    it('leaves the agent unoffered while its only framework has declined it', () => {
      const allocator = cluster(2, agentOf(4, 4 * GiB));
      const first = allocator.allocate(0);
      recoverAll(
        allocator,
        first.filter((a) => a.agentId === 'a1'),
        2,
        0,
      );
      recoverAll(
        allocator,
        first.filter((a) => a.agentId === 'a2'),
        0,
        0,
      );

      expect(who(allocator.allocate(1999))).toEqual(['f1@a2']);
    });

    it('refuses only offers within what was declined, as Mesos does', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      expect(allocator.allocate(0)).toHaveLength(1);
      // f1 declines a sliver and keeps the rest: the same sliver is not offered back...
      allocator.recoverResources('f1', 'a1', 'ci', agentOf(1, GiB), 10, 0);
      expect(allocator.allocate(1000)).toEqual([]);
      // ...but once more frees up, the bigger offer is not what it declined.
      allocator.recoverResources('f1', 'a1', 'ci', agentOf(3, 3 * GiB), 0, 1000);
      expect(allocator.allocate(2000)).toEqual([
        expect.objectContaining({ frameworkId: 'f1', resources: agentOf(4, 4 * GiB) }),
      ]);
    });

    it('installs no filter when refuseSeconds is 0', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      recoverAll(allocator, allocator.allocate(0), 0, 0);
      expect(allocator.allocate(0)).toHaveLength(1);
    });

    it('revive clears the decline filters at once', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      recoverAll(allocator, allocator.allocate(0), 3600, 0);
      expect(allocator.allocate(1)).toEqual([]);

      allocator.revive('f1');

      expect(who(allocator.allocate(2))).toEqual(['f1@a1']);
    });

    it('counts walking past a declining framework in the cycle metrics', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB), ['f1', 'f2']);
      recoverAll(allocator, allocator.allocate(0), 5, 0);
      allocator.allocate(1);
      expect(allocator.metrics()).toEqual({
        agentsConsidered: 1,
        allocations: 1,
        filteredSkips: 1,
      });
    });
  });

  describe('suppress and revive', () => {
    it('stops offers to a suppressed framework and resumes them on revive', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      allocator.suppress('f1');
      expect(allocator.allocate(0)).toEqual([]);
      expect(allocator.snapshot().frameworks[0]?.suppressedRoles).toEqual(['ci']);

      allocator.revive('f1');

      expect(who(allocator.allocate(1))).toEqual(['f1@a1']);
    });

    it('offers to the others while one framework is suppressed', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB), ['f1', 'f2']);
      allocator.suppress('f1');
      expect(who(allocator.allocate(0))).toEqual(['f2@a1']);
    });

    it('suppresses only the given roles', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', agentOf(4, 4 * GiB));
      allocator.addAgent('a2', agentOf(4, 4 * GiB));
      allocator.addFramework('f1', ['batch', 'ci']);
      allocator.suppress('f1', ['batch']);

      expect(allocator.allocate(0).map((a) => a.role)).toEqual(['ci', 'ci']);
      expect(() => allocator.suppress('f1', ['prod'])).toThrow(/not subscribed to role "prod"/);
    });
  });

  describe('quota', () => {
    it('caps offers to the headroom and then skips the role, leaving the rest to others', () => {
      const allocator = new HierarchicalDrfAllocator();
      allocator.addAgent('a1', agentOf(4, 4 * GiB));
      allocator.addAgent('a2', agentOf(4, 4 * GiB));
      allocator.addFramework('capped', ['limited']);
      allocator.setQuota('limited', { cpus: 6, mem: 6 * GiB });

      const first = allocator.allocate(0);
      expect(first.map((a) => [a.agentId, a.resources])).toEqual([
        ['a1', agentOf(4, 4 * GiB)],
        ['a2', agentOf(2, 2 * GiB)],
      ]);
      expect(allocator.allocate(1)).toEqual([]);

      allocator.addFramework('free', ['open']);
      expect(allocator.allocate(2)).toEqual([
        { frameworkId: 'free', role: 'open', agentId: 'a2', resources: agentOf(2, 2 * GiB) },
      ]);
      expect(allocator.snapshot().roles.find((r) => r.role === 'limited')).toMatchObject({
        quota: { cpus: 6, mem: 6 * GiB },
        allocated: agentOf(6, 6 * GiB),
      });
    });

    it('offers nothing to a role whose cpus quota is used up, however much memory is free', () => {
      const allocator = cluster(1, agentOf(8, 8 * GiB));
      allocator.setQuota('ci', { cpus: 2 });
      allocator.addAllocated('a1', 'f1', 'ci', agentOf(2, GiB));

      // Memory without cpus runs no task: such an offer would only inflate the role's share.
      expect(allocator.allocate(0)).toEqual([]);
    });

    it('counts resources in use toward the quota and offers again once they come back', () => {
      const allocator = cluster(1, agentOf(8, 8 * GiB));
      allocator.setQuota('ci', { cpus: 4, mem: 4 * GiB });
      allocator.addAllocated('a1', 'f1', 'ci', agentOf(4, 4 * GiB));
      expect(allocator.allocate(0)).toEqual([]);

      allocator.recoverResources('f1', 'a1', 'ci', agentOf(1, GiB), 0, 0);
      expect(allocator.allocate(1).map((a) => a.resources)).toEqual([agentOf(1, GiB)]);

      allocator.setQuota('ci', undefined);
      expect(allocator.allocate(2).map((a) => a.resources)).toEqual([agentOf(4, 4 * GiB)]);
    });
  });

  describe('agents and frameworks coming and going', () => {
    it('offers nothing from a deactivated agent until it is activated', () => {
      const allocator = cluster(2, agentOf(4, 4 * GiB));
      allocator.deactivateAgent('a1');
      expect(who(allocator.allocate(0))).toEqual(['f1@a2']);

      allocator.activateAgent('a1');
      expect(who(allocator.allocate(1))).toEqual(['f1@a1']);
    });

    it('offers nothing to a deactivated framework until it is activated', () => {
      const allocator = cluster(2, agentOf(4, 4 * GiB), ['f1', 'f2']);
      allocator.deactivateFramework('f1');
      expect(who(allocator.allocate(0))).toEqual(['f2@a1', 'f2@a2']);
      expect(allocator.snapshot().frameworks.map((f) => f.active)).toEqual([false, true]);

      allocator.addAgent('a3', agentOf(4, 4 * GiB));
      allocator.activateFramework('f1');
      expect(who(allocator.allocate(1))).toEqual(['f1@a3']);
    });

    it("returns a removed framework's allocations to the agents and the others' offers", () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB), ['f1', 'f2']);
      expect(who(allocator.allocate(0))).toEqual(['f1@a1']);

      allocator.removeFramework('f1');

      expect(allocator.snapshot().agents[0]?.allocated).toEqual(agentOf(0, 0));
      expect(allocator.snapshot().roles[0]?.share).toBe(0);
      expect(who(allocator.allocate(1))).toEqual(['f2@a1']);
      // The master may still rescind an offer it made to f1: nothing left to do.
      expect(() =>
        allocator.recoverResources('f1', 'a1', 'ci', agentOf(4, 4 * GiB), 5, 1),
      ).not.toThrow();
    });

    it('drops a removed agent from totals and shares', () => {
      const allocator = cluster(2, agentOf(4, 4 * GiB), ['f1', 'f2']);
      allocator.allocate(0);
      expect(frameworkShare(allocator, 'f1')).toBeCloseTo(0.5, 12);

      allocator.removeAgent('a1');

      const snapshot = allocator.snapshot();
      expect(snapshot.totals).toEqual(agentOf(4, 4 * GiB));
      expect(frameworkShare(allocator, 'f1')).toBe(0);
      expect(frameworkShare(allocator, 'f2')).toBe(1);
      expect(snapshot.agents.map((a) => a.agentId)).toEqual(['a2']);
      expect(() => allocator.recoverResources('f1', 'a1', 'ci', agentOf(4, 0), 0, 1)).not.toThrow();
    });
  });

  describe('minAllocatable', () => {
    it('does not offer an agent with less than 0.01 cpus or less than 32 MiB free', () => {
      const allocator = cluster(1, agentOf(1, 64));
      allocator.addAllocated('a1', 'f1', 'ci', agentOf(0.995, 0));
      expect(allocator.allocate(0)).toEqual([]);
    });

    it('offers only agents that have enough of both cpus and mem', () => {
      const allocator = new HierarchicalDrfAllocator({ minAllocatable: { cpus: 1, mem: 1024 } });
      allocator.addAgent('rich', agentOf(1, 1024));
      allocator.addAgent('cpu-only', agentOf(4, 1000));
      allocator.addAgent('mem-only', agentOf(0.5, 4096));
      allocator.addFramework('f1', ['ci']);

      expect(allocator.allocate(0).map((a) => a.agentId)).toEqual(['rich']);
    });
  });

  describe('errors', () => {
    it('throws for unknown agents and frameworks where that is a caller bug', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      expect(() => allocator.addAllocated('nope', 'f1', 'ci', agentOf(1, 1))).toThrow(
        'unknown agent "nope"',
      );
      expect(() => allocator.deactivateAgent('nope')).toThrow('unknown agent "nope"');
      expect(() => allocator.removeAgent('nope')).toThrow('unknown agent "nope"');
      expect(() => allocator.suppress('nope')).toThrow('unknown framework "nope"');
      expect(() => allocator.removeFramework('nope')).toThrow('unknown framework "nope"');
      expect(() => allocator.addAgent('a1', agentOf(1, 1))).toThrow('agent "a1" is already added');
      expect(() => allocator.addFramework('f1', ['ci'])).toThrow('"f1" is already added');
    });

    it('rejects weights that are not positive, negative quotas and more in use than the agent has', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      expect(() => allocator.setWeight('ci', 0)).toThrow(/must be a finite number > 0/);
      expect(() => allocator.setWeight('ci', NaN)).toThrow(/must be a finite number > 0/);
      expect(() => allocator.setQuota('ci', { cpus: -1 })).toThrow(/invalid cpus/);
      expect(() => allocator.addAllocated('a1', 'f1', 'ci', agentOf(5, 0))).toThrow(
        /has cpus:4;mem:4096;disk:0 free/,
      );
    });

    it('throws when recovering more than the framework holds there, changing nothing', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      allocator.allocate(0);
      expect(() => allocator.recoverResources('f1', 'a1', 'ci', agentOf(5, 0), 0, 0)).toThrow(
        /holds cpus:4;mem:4096;disk:0 in role "ci" on agent "a1", cannot recover cpus:5/,
      );
      expect(() => allocator.recoverResources('f1', 'a1', 'other', agentOf(1, 0), 0, 0)).toThrow(
        /holds cpus:0;mem:0;disk:0 in role "other"/,
      );
      expect(allocator.snapshot().agents[0]?.allocated).toEqual(agentOf(4, 4 * GiB));
    });
  });

  describe('snapshot', () => {
    it('forgets roles and unregistered frameworks once nothing refers to them', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      allocator.addAllocated('a1', 'gone', 'legacy', agentOf(1, GiB));
      expect(allocator.snapshot().roles.map((r) => r.role)).toEqual(['ci', 'legacy']);

      allocator.recoverResources('gone', 'a1', 'legacy', agentOf(1, GiB), 0, 0);
      allocator.removeFramework('f1');

      const snapshot = allocator.snapshot();
      expect(snapshot.roles).toEqual([]);
      expect(snapshot.frameworks).toEqual([]);
    });

    it('lists weights and quotas of roles without frameworks, sorted by name', () => {
      const allocator = cluster(1, agentOf(4, 4 * GiB));
      allocator.setWeight('zeta', 3);
      allocator.setQuota('alpha', { mem: GiB });

      expect(allocator.snapshot().roles).toEqual([
        { role: 'alpha', weight: 1, quota: { mem: GiB }, allocated: agentOf(0, 0), share: 0 },
        { role: 'ci', weight: 1, allocated: agentOf(0, 0), share: 0 },
        { role: 'zeta', weight: 3, allocated: agentOf(0, 0), share: 0 },
      ]);
    });
  });
});
