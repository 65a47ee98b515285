import { describe, expect, it } from 'vitest';
import { evictions, type CachedItem } from './least-recently-used';

const item = (path: string, bytes: number, usedMs: number): CachedItem => ({
  path,
  bytes,
  usedMs,
});

describe(evictions.name, () => {
  const items = [item('a', 10, 1), item('b', 10, 4), item('c', 10, 2), item('d', 10, 3)];

  it('removes the least recently used beyond the item count, oldest first', () => {
    expect(evictions(items, { maxItems: 2 }).map((i) => i.path)).toEqual(['a', 'c']);
  });

  it('removes the least recently used until the rest is within the bytes', () => {
    expect(evictions(items, { maxBytes: 25 }).map((i) => i.path)).toEqual(['a', 'c']);
    expect(evictions(items, { maxBytes: 40 })).toEqual([]);
  });

  it('never removes the item to keep, counting it first, even when it alone is over', () => {
    expect(evictions(items, { maxItems: 2 }, 'a').map((i) => i.path)).toEqual(['c', 'd']);
    expect(evictions([item('big', 100, 1), item('x', 1, 2)], { maxBytes: 50 }, 'big')).toEqual([
      item('x', 1, 2),
    ]);
  });

  it('never removes the items in use, counting them all first', () => {
    expect(evictions(items, { maxItems: 3 }, new Set(['a', 'c'])).map((i) => i.path)).toEqual([
      'd',
    ]);
    expect(evictions(items, { maxBytes: 15 }, new Set(['a', 'c'])).map((i) => i.path)).toEqual([
      'd',
      'b',
    ]);
  });

  it('keeps only the newest: an older small item does not stay where a newer one went', () => {
    const sizes = [item('new', 5, 3), item('mid', 30, 2), item('old', 5, 1)];
    expect(evictions(sizes, { maxBytes: 20 }).map((i) => i.path)).toEqual(['old', 'mid']);
  });

  it('removes nothing without limits', () => {
    expect(evictions(items, {})).toEqual([]);
  });
});
