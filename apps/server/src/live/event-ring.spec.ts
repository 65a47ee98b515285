import { describe, expect, it } from 'vitest';
import { EventRing } from './event-ring';

describe(EventRing.name, () => {
  it('numbers events with its epoch and replays those after an id it gave', () => {
    const ring = new EventRing<string>(10, 'abc');
    const first = ring.append('a');
    ring.append('b');
    ring.append('c');
    expect(first.id).toBe('abc-1');
    expect(ring.headId).toBe('abc-3');
    expect(ring.since('abc-1')?.map((entry) => entry.value)).toEqual(['b', 'c']);
    expect(ring.since('abc-3')).toEqual([]);
  });

  it('resumes from the id of an empty ring, given before any event', () => {
    const ring = new EventRing<string>(10, 'abc');
    const start = ring.headId;
    ring.append('a');
    expect(ring.since(start)?.map((entry) => entry.value)).toEqual(['a']);
  });

  it('cannot tell what was missed once the events after an id have been dropped', () => {
    const ring = new EventRing<string>(2, 'abc');
    for (const value of ['a', 'b', 'c', 'd']) ring.append(value);
    // Kept: c (3) and d (4). After 2, nothing was dropped; after 1, b was.
    expect(ring.since('abc-2')?.map((entry) => entry.value)).toEqual(['c', 'd']);
    expect(ring.since('abc-1')).toBeUndefined();
  });

  it('does not know ids of another epoch, from the future, or malformed', () => {
    const ring = new EventRing<string>(10, 'abc');
    ring.append('a');
    expect(ring.since('def-1')).toBeUndefined();
    expect(ring.since('abc-2')).toBeUndefined();
    expect(ring.since('abc')).toBeUndefined();
    expect(ring.since('')).toBeUndefined();
    expect(ring.since('abc-1-2')).toBeUndefined();
  });
});
