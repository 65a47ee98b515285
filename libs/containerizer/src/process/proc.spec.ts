import { describe, expect, it } from 'vitest';
import { clockTicksPerSecond, hasExited, parseProcStat } from './proc';

/** A /proc/<pid>/stat line with the given command name; fields as proc(5) numbers them. */
function statLine(comm: string, state = 'S'): string {
  const after = [state, 1, 4242, 4242, 0, -1, 4194560, 100, 0, 0, 0, 150, 50, 7, 3, 20, 0, 1, 0];
  return `4242 (${comm}) ${after.join(' ')} 987654 12345 678 18446744073709551615\n`;
}

describe(parseProcStat.name, () => {
  it('reads the fields by their proc(5) numbers', () => {
    expect(parseProcStat(statLine('sleep'))).toEqual({
      pid: 4242,
      state: 'S',
      ppid: 1,
      pgrp: 4242,
      utime: 150,
      stime: 50,
      cutime: 7,
      cstime: 3,
      startTime: 987654,
    });
  });

  it('counts from the last parenthesis, whatever the command name holds', () => {
    expect(parseProcStat(statLine('a) Z (b c'))).toMatchObject({ state: 'S', startTime: 987654 });
  });

  it('refuses what is not a stat line', () => {
    expect(parseProcStat('')).toBeUndefined();
    expect(parseProcStat('4242 (sleep) S 1 2')).toBeUndefined();
  });
});

describe(hasExited.name, () => {
  it('takes zombies for ended and everything else for alive', () => {
    expect(hasExited(parseProcStat(statLine('x', 'Z'))!)).toBe(true);
    expect(hasExited(parseProcStat(statLine('x', 'R'))!)).toBe(false);
    expect(hasExited(parseProcStat(statLine('x', 'D'))!)).toBe(false);
  });
});

describe(clockTicksPerSecond.name, () => {
  it("reads the kernel's clock rate", () => {
    // Linux has reported 100 to user space on every mainstream architecture for decades.
    expect(clockTicksPerSecond()).toBe(100);
  });
});
