import { describe, expect, it } from 'vitest';
import { RecentKeys } from './recent-keys';

describe(RecentKeys.name, () => {
  it('says whether a key is new, and forgets the oldest beyond its capacity', () => {
    const recent = new RecentKeys(2);
    expect(recent.add('a')).toBe(true);
    expect(recent.add('a')).toBe(false);
    expect(recent.add('b')).toBe(true);
    expect(recent.add('c')).toBe(true);
    expect([recent.has('a'), recent.has('b'), recent.has('c')]).toEqual([false, true, true]);
  });
});
