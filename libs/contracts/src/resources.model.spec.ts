import { describe, expect, it } from 'vitest';
import {
  add,
  contains,
  sharedPorts,
  subtract,
  sum,
  type PortRange,
  type Resources,
} from './resources';

/**
 * The port arithmetic restated the slow, obvious way: a list of ranges is the set of the ports in
 * it. Random lists, small enough to expand, catch the bisection and the kept runs of the real
 * functions drifting from what they stand for: off by one at a range's ends, merges of adjacent
 * ranges, cuts between ranges, the first and last ports of the port space.
 */
function portsOf(ranges: readonly PortRange[]): Set<number> {
  const ports = new Set<number>();
  for (const [begin, end] of ranges) for (let port = begin; port <= end; port++) ports.add(port);
  return ports;
}

/** The one normalized list of a set of ports: sorted, runs of consecutive ports as one range. */
function rangesOf(ports: ReadonlySet<number>): PortRange[] {
  const ranges: Array<[number, number]> = [];
  for (const port of [...ports].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last && port === last[1] + 1) last[1] = port;
    else ranges.push([port, port]);
  }
  return ranges;
}

/** Park–Miller: the same cases for a seed on every run and machine. */
function prng(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 48271) % 2147483647;
    return state % n;
  };
}

const LAST_PORT = 65535;

/**
 * Random port lists over a few dozen ports, at the bottom or the top of the port space or both,
 * so that ranges overlap, touch and fall between one another often.
 */
function generator(seed: number) {
  const below = prng(seed);
  const window = (): number => {
    const where = below(3);
    return where === 0 ? 0 : where === 1 ? LAST_PORT - 59 : below(2) * (LAST_PORT - 59);
  };
  const range = (base: number): PortRange => {
    // Mostly single ports, as tasks hold them; now and then a long range.
    const length = below(4) === 0 ? below(20) : below(3) === 0 ? below(3) : 0;
    const begin = base + below(60);
    return [begin, Math.min(begin + length, base + 59)];
  };
  /** As the functions return them: sorted, apart, merged. */
  const normalized = (count = below(10)): PortRange[] => {
    const base = window();
    const ports = new Set<number>();
    for (let i = 0; i < count; i++) for (const port of portsOf([range(base)])) ports.add(port);
    return rangesOf(ports);
  };
  /** As a caller might write them: in any order, overlapping, touching. */
  const loose = (count = below(10)): PortRange[] => {
    const base = window();
    return Array.from({ length: count }, () => range(base));
  };
  /** A list of one holder for sharedPorts: its own ranges never overlap, but need not be sorted. */
  const holder = (): PortRange[] => {
    const ranges = below(2) === 0 ? normalized(below(4)) : splitUp(normalized(below(4)));
    return shuffle(ranges);
  };
  /** The same ports, some ranges cut into adjacent pieces. */
  const splitUp = (ranges: readonly PortRange[]): PortRange[] =>
    ranges.flatMap(([begin, end]): PortRange[] => {
      if (begin === end || below(2) === 0) return [[begin, end]];
      const at = begin + below(end - begin);
      return [
        [begin, at],
        [at + 1, end],
      ];
    });
  const shuffle = <T>(list: T[]): T[] => {
    for (let i = list.length - 1; i > 0; i--) {
      const j = below(i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    return list;
  };
  /** Normalized or not, as the case may be. */
  const any = (): PortRange[] => (below(3) === 0 ? loose() : normalized());
  return { below, normalized, loose, holder, any, splitUp };
}

function withPorts(ports: readonly PortRange[]): Resources {
  return { cpus: 0, mem: 0, disk: 0, ports };
}

/** A copy to tell whether a function changed its arguments. */
function snapshot(r: Resources): string {
  return JSON.stringify(r);
}

/**
 * Expects `actual` to equal `expected`, comparing their JSON first: thousands of cases through
 * expect's deep equality and messages would take most of the run.
 */
function same<T>(actual: T, expected: T, what: () => string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual, what()).toEqual(expected);
}

const CASES = 4_000;
const SEEDS = [1, 2, 3];

describe('port arithmetic against sets of ports', () => {
  it.each(SEEDS)('add gives the union, normalized (seed %i)', (seed) => {
    const { any } = generator(seed);
    for (let i = 0; i < CASES; i++) {
      const [a, b] = [withPorts(any()), withPorts(any())];
      const before = [snapshot(a), snapshot(b)];
      const union = new Set([...portsOf(a.ports), ...portsOf(b.ports)]);
      same(add(a, b).ports, rangesOf(union), () => `case ${i}: ${before.join(' + ')}`);
      same([snapshot(a), snapshot(b)], before, () => `case ${i} changed an argument`);
    }
  });

  it.each(SEEDS)('subtract gives the difference, normalized (seed %i)', (seed) => {
    const { any, below, normalized } = generator(seed);
    for (let i = 0; i < CASES; i++) {
      const from = withPorts(any());
      // Often what is taken out is held, as a task's ports are; sometimes it is anything at all.
      const taken = below(2) === 0 ? any() : rangesOf(pickFrom(portsOf(from.ports), below));
      const remove = withPorts(below(4) === 0 ? normalized() : taken);
      const before = [snapshot(from), snapshot(remove)];
      const removed = portsOf(remove.ports);
      const left = new Set([...portsOf(from.ports)].filter((p) => !removed.has(p)));
      same(subtract(from, remove).ports, rangesOf(left), () => `case ${i}: ${before.join(' - ')}`);
      same([snapshot(from), snapshot(remove)], before, () => `case ${i} changed an argument`);
    }
  });

  it.each(SEEDS)('contains tells whether every port is held (seed %i)', (seed) => {
    const { any, below, normalized } = generator(seed);
    let held = 0;
    for (let i = 0; i < CASES; i++) {
      const outer = withPorts(normalized());
      const ports = portsOf(outer.ports);
      // Half the time a part of what is there, so that the answer is yes often enough to matter.
      const inner = withPorts(below(2) === 0 ? any() : rangesOf(pickFrom(ports, below)));
      const expected = [...portsOf(inner.ports)].every((p) => ports.has(p));
      if (expected) held++;
      same(
        contains(outer, inner),
        expected,
        () => `case ${i}: ${snapshot(outer)} ⊇ ${snapshot(inner)}`,
      );
    }
    expect(held).toBeGreaterThan(CASES / 4);
  });

  it.each(SEEDS)(
    'contains reads a list that is not normalized as it is given (seed %i)',
    (seed) => {
      const { any, loose, splitUp, normalized } = generator(seed);
      for (let i = 0; i < CASES; i++) {
        const given = i % 2 === 0 ? loose() : splitUp(normalized());
        const inner = withPorts(any());
        // Ranges merged nowhere are not merged for it either: a range is held if one range holds it.
        const expected = inner.ports.every(([b, e]) =>
          given.some(([gb, ge]) => gb <= b && e <= ge),
        );
        same(contains(withPorts(given), inner), expected, () => `case ${i}: ${snapshot(inner)}`);
      }
    },
  );

  it.each(SEEDS)('sum gives the union of all, normalized (seed %i)', (seed) => {
    const { any, below } = generator(seed);
    for (let i = 0; i < CASES / 4; i++) {
      const list = Array.from({ length: below(6) }, () => withPorts(any()));
      const union = new Set(list.flatMap((r) => [...portsOf(r.ports)]));
      same(sum(list).ports, rangesOf(union), () => `case ${i}: ${list.map(snapshot).join(' + ')}`);
    }
  });

  it.each(SEEDS)('sharedPorts finds a port two holders hold, if there is one (seed %i)', (seed) => {
    const { below, holder } = generator(seed);
    let clashes = 0;
    for (let i = 0; i < CASES; i++) {
      const holders = Array.from({ length: below(5) }, () => withPorts(holder()));
      const sets = holders.map((r) => portsOf(r.ports));
      const clash = sets.some((a, x) => sets.some((b, y) => x < y && [...a].some((p) => b.has(p))));
      const found = sharedPorts(holders);
      const what = (): string => `case ${i}: ${holders.map(snapshot).join(', ')}`;
      same(found !== undefined, clash, what);
      if (found === undefined) continue;
      clashes++;
      // Any clash will do, but it must be one: ports that both holders it names hold.
      const [first, second] = found.holders;
      const both = [...portsOf([found.range])].every(
        (p) => sets[first]?.has(p) === true && sets[second]?.has(p) === true,
      );
      same({ distinct: first !== second, both }, { distinct: true, both: true }, what);
    }
    expect(clashes).toBeGreaterThan(CASES / 10);
  });

  it('agrees with the sets on long lists changed a few ports at a time', () => {
    const below = prng(11);
    // Every other port of a stretch, as thousands of single-port tasks leave an agent's ports.
    let free = withPorts(rangesOf(new Set(Array.from({ length: 3_000 }, (_, i) => 2 * i))));
    const ports = portsOf(free.ports);
    for (let i = 0; i < 2_000; i++) {
      const port = below(6_002);
      const change = withPorts([[port, port + below(3)]]);
      if (below(2) === 0) {
        free = add(free, change);
        for (const p of portsOf(change.ports)) ports.add(p);
      } else {
        free = subtract(free, change);
        for (const p of portsOf(change.ports)) ports.delete(p);
      }
      const probe = withPorts([[port - 1, port + 1]]);
      expect(contains(free, probe), `step ${i}`).toBe(
        [...portsOf(probe.ports)].every((p) => ports.has(p)),
      );
      if (i % 100 === 0) expect(free.ports, `step ${i}`).toEqual(rangesOf(ports));
    }
    expect(free.ports).toEqual(rangesOf(ports));
  });

  it('agrees with the sets on long lists changed thousands of ports at once', () => {
    const below = prng(12);
    const every = (step: number, first: number, count: number): Set<number> =>
      new Set(Array.from({ length: count }, (_, i) => first + step * i));
    // As an ACCEPT of thousands of single-port tasks takes them out of an agent's ports, or an
    // agent's tasks give them back: enough changes, between enough kept runs, that the result is
    // joined from thousands of pieces.
    const ports = every(2, 0, 6_000);
    const free = withPorts(rangesOf(ports));
    const changes = [
      every(8, 0, 1_500),
      every(8, 1, 1_500),
      every(4, 3, 3_000),
      new Set(Array.from({ length: 2_500 }, () => below(12_100))),
    ];
    for (const [i, change] of changes.entries()) {
      const many = withPorts(rangesOf(change));
      const left = new Set([...ports].filter((p) => !change.has(p)));
      expect(subtract(free, many).ports, `change ${i}`).toEqual(rangesOf(left));
      expect(add(free, many).ports, `change ${i}`).toEqual(
        rangesOf(new Set([...ports, ...change])),
      );
      expect(add(many, free).ports, `change ${i}`).toEqual(add(free, many).ports);
    }
  });
});

/** Some of `ports`, picked at random: a part of what a list holds. */
function pickFrom(ports: ReadonlySet<number>, below: (n: number) => number): Set<number> {
  return new Set([...ports].filter(() => below(3) !== 0));
}
