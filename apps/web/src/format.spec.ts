import { describe, expect, it } from 'vitest';
import { absolute, until, when } from './format';

const NOW = Date.parse('2026-12-05T00:00:00Z');
const at = (seconds: number): string => new Date(NOW + seconds * 1000).toISOString();

describe(until.name, () => {
  it('reads a 24-hour approval window the same way whichever second it is read', () => {
    // The default approval timeout is 1440 minutes: its expiry is read at 86,400 s, then just under.
    const formats = [86_400, 86_399.6, 86_399, 86_000, 84_700].map((s) => until(at(s), NOW));
    expect(new Set(formats).size).toBe(1);
    expect(formats[0]).not.toMatch(/20\d\d/);
  });

  it('names the date once it is more than 24 hours away', () => {
    expect(until(at(2 * 86_400), NOW)).toBe(absolute(at(2 * 86_400)));
  });

  it('reads a time already passed as when does', () => {
    expect(until(at(-120), NOW)).toBe(when(at(-120), NOW));
  });
});
