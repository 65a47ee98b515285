/**
 * Cluster resources, as agents advertise them and offers and tasks carry them: fractional `cpus`,
 * `mem` and `disk` in MiB, and `ports` as inclusive ranges. Plain data, so it crosses process
 * boundaries as JSON; the functions below do the arithmetic, never mutating their inputs.
 */
export interface Resources {
  cpus: number;
  mem: number;
  disk: number;
  /** Sorted, non-overlapping, inclusive `[begin, end]` ranges. */
  ports: PortRange[];
}

export type PortRange = [begin: number, end: number];

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
    ports: normalizeRanges([...a.ports, ...b.ports]),
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
    inner.ports.every(([b, e]) => outer.ports.some(([ob, oe]) => ob <= b && e <= oe))
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
  const outside = wanted.ports.filter(
    ([b, e]) => !available.ports.some(([ob, oe]) => ob <= b && e <= oe),
  );
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

export function normalizeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: PortRange[] = [];
  for (const [begin, end] of sorted) {
    const last = merged[merged.length - 1];
    if (last && begin <= last[1] + 1) last[1] = Math.max(last[1], end);
    else merged.push([begin, end]);
  }
  return merged;
}

/**
 * `from` without `remove`, in one sweep over both sorted: what is left of an agent's range once
 * thousands of tasks took a port each is as many pieces, and cutting them one removal at a time
 * would walk them all for each.
 */
function subtractRanges(from: readonly PortRange[], remove: readonly PortRange[]): PortRange[] {
  const cuts = normalizeRanges(remove);
  const result: PortRange[] = [];
  let next = 0;
  for (const [begin, end] of normalizeRanges(from)) {
    while (next < cuts.length && cuts[next]![1] < begin) next++;
    let left = begin;
    for (let i = next; i < cuts.length && cuts[i]![0] <= end; i++) {
      const [cutBegin, cutEnd] = cuts[i]!;
      if (cutBegin > left) result.push([left, cutBegin - 1]);
      left = Math.max(left, cutEnd + 1);
    }
    if (left <= end) result.push([left, end]);
  }
  return result;
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
