/**
 * Cluster resources, as agents advertise them and offers and tasks carry them: fractional `cpus`,
 * `mem` and `disk` in MiB, and `ports` as inclusive ranges. Plain data, so it crosses process
 * boundaries as JSON; the functions below do the arithmetic, never mutating their inputs.
 */
export interface Resources {
  cpus: number;
  mem: number;
  disk: number;
  /**
   * Sorted, non-overlapping, inclusive `[begin, end]` ranges. Read-only: the functions below share
   * lists and ranges between what they are given and what they return instead of copying them.
   */
  ports: readonly PortRange[];
}

export type PortRange = readonly [begin: number, end: number];

/** The scalar kinds of resource that DRF shares are computed over. */
export const SCALARS = ['cpus', 'mem', 'disk'] as const;
export type Scalar = (typeof SCALARS)[number];

/** Floating-point dust below this is zero: 0.1 + 0.2 cpus must fit into an offer of 0.3. */
const EPSILON = 1e-9;

export function emptyResources(): Resources {
  return { cpus: 0, mem: 0, disk: 0, ports: [] };
}

/**
 * Resources from what a message says, on the 1e-6 grid all sums are kept on: an amount finer than
 * that (4e-7 of a disk) counts as what it adds up to, so that what a task is given and what it
 * gives back are the same.
 */
export function resources(partial: Partial<Resources>): Resources {
  return {
    cpus: round(partial.cpus ?? 0),
    mem: round(partial.mem ?? 0),
    disk: round(partial.disk ?? 0),
    ports: normalizeRanges(partial.ports ?? []),
  };
}

export function isEmpty(r: Resources): boolean {
  return r.cpus <= EPSILON && r.mem <= EPSILON && r.disk <= EPSILON && r.ports.length === 0;
}

export function add(a: Resources, b: Resources): Resources {
  return {
    cpus: round(a.cpus + b.cpus),
    mem: round(a.mem + b.mem),
    disk: round(a.disk + b.disk),
    ports: uniteRanges(a.ports, b.ports),
  };
}

/**
 * All of `list` added up, as {@link add} would one by one, but with the port ranges merged once:
 * a launch of thousands of tasks, each with its own port, costs n log n, not n².
 */
export function sum(list: readonly Resources[]): Resources {
  const total = emptyResources();
  for (const r of list) {
    total.cpus = round(total.cpus + r.cpus);
    total.mem = round(total.mem + r.mem);
    total.disk = round(total.disk + r.disk);
  }
  total.ports = normalizeRanges(list.flatMap((r) => r.ports));
  return total;
}

/**
 * A port range two of `holders` both hold, with the two (their indexes), or undefined if none
 * does. Added up, such a port would count once where it is held and be freed twice. Each
 * holder's own ranges must not overlap (as {@link resources} leaves them); one sweep over all the
 * ranges sorted finds a clash among thousands of holders without comparing every pair.
 */
export function sharedPorts(
  holders: readonly Resources[],
): { range: PortRange; holders: [number, number] } | undefined {
  const ranges = holders
    .flatMap((r, holder) => r.ports.map(([begin, end]) => ({ begin, end, holder })))
    .sort((a, b) => a.begin - b.begin);
  let reach: { end: number; holder: number } | undefined;
  for (const { begin, end, holder } of ranges) {
    if (reach !== undefined && begin <= reach.end) {
      return { range: [begin, Math.min(end, reach.end)], holders: [reach.holder, holder] };
    }
    if (reach === undefined || end > reach.end) reach = { end, holder };
  }
  return undefined;
}

/** `a - b`; callers check {@link contains} first, so a negative result is clamped to zero. */
export function subtract(a: Resources, b: Resources): Resources {
  return {
    cpus: Math.max(0, round(a.cpus - b.cpus)),
    mem: Math.max(0, round(a.mem - b.mem)),
    disk: Math.max(0, round(a.disk - b.disk)),
    ports: subtractRanges(a.ports, b.ports),
  };
}

/** Whether `outer` holds all of `inner` (every scalar, every port). */
export function contains(outer: Resources, inner: Resources): boolean {
  return (
    inner.cpus <= outer.cpus + EPSILON &&
    inner.mem <= outer.mem + EPSILON &&
    inner.disk <= outer.disk + EPSILON &&
    (inner.ports.length === 0 || inner.ports.every(rangeHolder(outer.ports)))
  );
}

/** What in `wanted` is missing from `available`, described for people ("needs 8 cpus; has 2"). */
export function shortfall(available: Resources, wanted: Resources): string[] {
  const missing: string[] = [];
  for (const kind of SCALARS) {
    if (wanted[kind] > available[kind] + EPSILON) {
      missing.push(`needs ${format(wanted[kind])} ${kind}, has ${format(available[kind])}`);
    }
  }
  const held = rangeHolder(available.ports);
  const outside = wanted.ports.filter((range) => !held(range));
  if (outside.length > 0) missing.push(`ports ${formatRanges(outside)} are not available`);
  return missing;
}

/** Scalars of `r` capped at `limit`'s (ports kept): what an offer may carry under a quota. */
export function capScalars(r: Resources, limit: Partial<Record<Scalar, number>>): Resources {
  return {
    cpus: Math.min(r.cpus, limit.cpus ?? Infinity),
    mem: Math.min(r.mem, limit.mem ?? Infinity),
    disk: Math.min(r.disk, limit.disk ?? Infinity),
    ports: r.ports,
  };
}

export class ResourceSyntaxError extends Error {
  constructor(text: string, why: string) {
    super(`invalid resources "${text}": ${why}`);
    this.name = 'ResourceSyntaxError';
  }
}

/**
 * Parses the agents' text form, `cpus:4;mem:8192;disk:20000;ports:[31000-32000,33000-33010]`.
 * Unknown names and malformed values are errors, not silently dropped.
 */
export function parseResources(text: string): Resources {
  const result = emptyResources();
  for (const part of text.split(';').map((p) => p.trim())) {
    if (part === '') continue;
    const colon = part.indexOf(':');
    if (colon < 0) throw new ResourceSyntaxError(text, `"${part}" is not name:value`);
    const name = part.slice(0, colon).trim();
    const value = part.slice(colon + 1).trim();
    if (name === 'ports') {
      result.ports = parseRanges(text, value);
    } else if (name === 'cpus' || name === 'mem' || name === 'disk') {
      const amount = Number(value);
      if (value === '' || !Number.isFinite(amount) || amount < 0) {
        throw new ResourceSyntaxError(
          text,
          `${name} must be a non-negative number, got "${value}"`,
        );
      }
      result[name] = amount;
    } else {
      throw new ResourceSyntaxError(text, `unknown resource "${name}" (cpus, mem, disk, ports)`);
    }
  }
  return result;
}

/** The text form of `r`, the inverse of {@link parseResources}. */
export function formatResources(r: Resources): string {
  const parts = [`cpus:${format(r.cpus)}`, `mem:${format(r.mem)}`, `disk:${format(r.disk)}`];
  if (r.ports.length > 0) parts.push(`ports:[${formatRanges(r.ports)}]`);
  return parts.join(';');
}

/** Parses attributes, `os:linux;rack:a1`, into a map. */
export function parseAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const part of text.split(';').map((p) => p.trim())) {
    if (part === '') continue;
    const colon = part.indexOf(':');
    const name = colon < 0 ? '' : part.slice(0, colon).trim();
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new Error(`invalid attributes "${text}": "${part}" is not name:value`);
    }
    attributes[name] = part.slice(colon + 1).trim();
  }
  return attributes;
}

function parseRanges(text: string, value: string): PortRange[] {
  const match = /^\[(.*)\]$/.exec(value);
  if (!match) throw new ResourceSyntaxError(text, `ports must look like [31000-32000]`);
  const ranges: PortRange[] = [];
  for (const piece of (match[1] ?? '').split(',').map((p) => p.trim())) {
    if (piece === '') continue;
    const bounds = /^(\d+)\s*-\s*(\d+)$/.exec(piece) ?? /^(\d+)()$/.exec(piece);
    const begin = Number(bounds?.[1]);
    const end = bounds?.[2] === '' ? begin : Number(bounds?.[2]);
    if (!bounds || begin > end || end > 65535) {
      throw new ResourceSyntaxError(text, `"${piece}" is not a port range within 0-65535`);
    }
    ranges.push([begin, end]);
  }
  return normalizeRanges(ranges);
}

/**
 * Port lists this module built, and so knows to be normalized: sorted, each range apart from the
 * next by at least one port. A change to one is found by bisection and made in one copy, without
 * reading all of it first: an agent's free ports, cut into tens of thousands of pieces by as many
 * single-port tasks, change on every task that ends. Port lists are read-only, so a list stays
 * what it was built as; one a caller built is checked with one read each time instead, as its
 * caller might still change it.
 */
const builtNormalized = new WeakSet<readonly PortRange[]>();

function built(ranges: PortRange[]): PortRange[] {
  builtNormalized.add(ranges);
  return ranges;
}

function isNormalized(ranges: readonly PortRange[]): boolean {
  if (builtNormalized.has(ranges)) return true;
  let reach = -Infinity;
  for (const [begin, end] of ranges) {
    if (begin <= reach + 1 || end < begin) return false;
    reach = end;
  }
  return true;
}

/** Sorted, with overlapping and adjacent ranges merged: the form every function here returns. */
export function normalizeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  // Ranges of its own, so the last one may grow in place.
  const merged: Array<[begin: number, end: number]> = [];
  for (const [begin, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && begin <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([begin, end]);
  }
  // A range that ends before it begins (the message validator refuses those) stays as it is.
  return isNormalized(merged) ? built(merged) : merged;
}

/**
 * The index of the first range at or after `from` that ends at or after `port` (the length if
 * none does), in a normalized list: the one range that may hold `port`, or else the next one.
 */
function firstEndingFrom(ranges: readonly PortRange[], port: number, from: number): number {
  let low = from;
  let high = ranges.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ranges[middle]![1] < port) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Whether one range of `ranges` holds all of a range: found by bisection if they are normalized. */
function rangeHolder(ranges: readonly PortRange[]): (range: PortRange) => boolean {
  if (!isNormalized(ranges)) {
    return ([begin, end]) => ranges.some(([b, e]) => b <= begin && end <= e);
  }
  return ([begin, end]) => {
    const holder = ranges[firstEndingFrom(ranges, begin, 0)];
    return holder !== undefined && holder[0] <= begin && end <= holder[1];
  };
}

/**
 * `a` and `b` together. Each range of the shorter list is placed into the longer one by
 * bisection, and the ranges it does not touch are kept, not rebuilt: a port given back to a list
 * of n ranges costs log n comparisons and one copy of the list.
 */
function uniteRanges(a: readonly PortRange[], b: readonly PortRange[]): readonly PortRange[] {
  if (!isNormalized(a) || !isNormalized(b)) return normalizeRanges([...a, ...b]);
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  if (short.length === 0) return long;
  const result = new Splice(long);
  let next = 0;
  let taken = 0;
  while (taken < short.length) {
    const [shortBegin, shortEnd] = short[taken++]!;
    // Ranges that end before this one, without even touching it, stay as they are.
    next = result.keep(next, firstEndingFrom(long, shortBegin - 1, next));
    let begin = shortBegin;
    let end = shortEnd;
    if (next < long.length && long[next]![0] < begin) begin = long[next]![0];
    // Takes in whatever of either list begins within the range so far or right after it.
    for (;;) {
      if (next < long.length && long[next]![0] <= end + 1) {
        end = Math.max(end, long[next++]![1]);
      } else if (taken < short.length && short[taken]![0] <= end + 1) {
        end = Math.max(end, short[taken++]![1]);
      } else {
        break;
      }
    }
    result.add([begin, end]);
  }
  result.keep(next, long.length);
  return result.join();
}

/**
 * `from` without `remove`. The first range of `from` that each range to remove touches is found
 * by bisection, and the ranges it does not touch are kept, not rebuilt: a port taken out of a list
 * of n ranges costs log n comparisons and one copy of the list, and the ports of thousands of
 * tasks taken out at once no more than one sweep over both lists.
 */
function subtractRanges(
  from: readonly PortRange[],
  remove: readonly PortRange[],
): readonly PortRange[] {
  const ranges = isNormalized(from) ? from : normalizeRanges(from);
  const cuts = isNormalized(remove) ? remove : normalizeRanges(remove);
  if (cuts.length === 0) return ranges;
  const result = new Splice(ranges);
  let next = 0;
  let cut = 0;
  while (cut < cuts.length && next < ranges.length) {
    const [cutBegin, cutEnd] = cuts[cut]!;
    next = result.keep(next, firstEndingFrom(ranges, cutBegin, next));
    const range = ranges[next];
    if (range === undefined) break;
    const [begin, end] = range;
    if (begin > cutEnd) {
      cut++; // it falls between two ranges
      continue;
    }
    let left = begin;
    while (cut < cuts.length && cuts[cut]![0] <= end) {
      const [b, e] = cuts[cut]!;
      if (b > left) result.add([left, b - 1]);
      left = Math.max(left, e + 1);
      if (e > end) break; // it cuts into the next range too
      cut++;
    }
    if (left <= end) result.add([left, end]);
    next++;
  }
  result.keep(next, ranges.length);
  return result.join();
}

/**
 * A new port list made of runs of an old one and of new ranges, copied once into a list of its
 * final length: a list of more than about 16,000 ranges is a large object to V8, whose every
 * allocation costs far more than its copy, and growing one range by range would allocate several.
 */
class Splice {
  private readonly parts: PortRange[][] = [];
  private added: PortRange[] = [];

  constructor(private readonly source: readonly PortRange[]) {}

  /** Keeps the source's ranges from `from` up to `to` as they are; returns `to`. */
  keep(from: number, to: number): number {
    if (from < to) {
      if (this.added.length > 0) this.parts.push(this.added);
      this.added = [];
      this.parts.push(this.source.slice(from, to));
    }
    return to;
  }

  add(range: PortRange): void {
    this.added.push(range);
  }

  join(): PortRange[] {
    if (this.added.length > 0) this.parts.push(this.added);
    // concat takes the parts as arguments: a sweep may make more of them than a call can take.
    const list =
      this.parts.length <= 1_000 ? ([] as PortRange[]).concat(...this.parts) : this.parts.flat();
    return built(list);
  }
}

function formatRanges(ranges: readonly PortRange[]): string {
  return ranges.map(([b, e]) => (b === e ? `${b}` : `${b}-${e}`)).join(',');
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function format(n: number): string {
  return String(round(n));
}
