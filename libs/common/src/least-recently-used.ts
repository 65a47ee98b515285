/** Something a cache keeps on disk: where, how large, and when it was last used (its mtime). */
export interface CachedItem {
  path: string;
  bytes: number;
  usedMs: number;
}

/** How much a cache keeps; either bound may be left out. */
export interface CacheLimits {
  maxItems?: number;
  maxBytes?: number;
}

/**
 * What a cache removes so that the rest is within `limits`: its least recently used items, oldest
 * first, never those at the paths in `keep` (the item just added or used, or those in use, which
 * stay even when they alone are over).
 */
export function evictions(
  items: readonly CachedItem[],
  limits: CacheLimits,
  keep: string | ReadonlySet<string> = new Set(),
): CachedItem[] {
  const spared = typeof keep === 'string' ? new Set([keep]) : keep;
  const newestFirst = [...items].sort((a, b) => b.usedMs - a.usedMs);
  const kept = newestFirst.filter((item) => spared.has(item.path));
  let count = kept.length;
  let bytes = kept.reduce((sum, item) => sum + item.bytes, 0);
  const removed: CachedItem[] = [];
  for (const item of newestFirst) {
    if (spared.has(item.path)) continue;
    const fits =
      count + 1 <= (limits.maxItems ?? Infinity) &&
      bytes + item.bytes <= (limits.maxBytes ?? Infinity);
    // Once one item does not fit, no older one stays: what is kept is always the newest.
    if (fits && removed.length === 0) {
      count += 1;
      bytes += item.bytes;
    } else {
      removed.push(item);
    }
  }
  return removed.reverse();
}
