import type { LogLines } from './log-lines';

/**
 * A case-insensitive search for a plain string across a log's lines, in the text as shown
 * (escapes dropped). It scans in time slices so a 100 MB log never blocks the page, and carries
 * on over lines that arrive later.
 */
export class LogSearch {
  /** The line index of every match, in order: a line with two matches is there twice. */
  readonly hits: number[] = [];
  /** Lines scanned so far (all complete lines once caught up). */
  scanned = 0;
  readonly pattern: RegExp;
  private readonly test: RegExp;

  constructor(readonly query: string) {
    const escaped = query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    this.pattern = new RegExp(escaped, 'gi');
    this.test = new RegExp(escaped, 'i');
  }

  /** Scans complete lines for up to `budgetMs`; true when it has caught up with `lines`. */
  scan(lines: LogLines, budgetMs: number): boolean {
    const until = performance.now() + budgetMs;
    const end = lines.complete;
    while (this.scanned < end) {
      const stop = Math.min(end, this.scanned + 5_000);
      for (let i = this.scanned; i < stop; i++) {
        const text = lines.text(i);
        if (!this.test.test(text)) continue;
        for (let k = matchesIn(text, this.pattern).length; k > 0; k--) this.hits.push(i);
      }
      this.scanned = stop;
      if (performance.now() > until) break;
    }
    return this.scanned >= end;
  }

  /** The first match at or after line `index`, or the first of all; -1 when there is none. */
  nearest(index: number): number {
    let lo = 0;
    let hi = this.hits.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.hits[mid] ?? 0) < index) lo = mid + 1;
      else hi = mid;
    }
    if (this.hits.length === 0) return -1;
    return lo < this.hits.length ? lo : 0;
  }

  /** Which of its line's matches match `k` is (0 for the first in that line). */
  nthInLine(k: number): number {
    let first = k;
    while (first > 0 && this.hits[first - 1] === this.hits[k]) first--;
    return k - first;
  }
}

/** Where `pattern` (global) matches in `text`: [start, end) pairs. */
export function matchesIn(text: string, pattern: RegExp): [number, number][] {
  const ranges: [number, number][] = [];
  for (const match of text.matchAll(pattern)) {
    ranges.push([match.index, match.index + match[0].length]);
  }
  return ranges;
}
