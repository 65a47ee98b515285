import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clockTicksPerSecond, hasExited, listGroupMembers, parseProcStat } from './proc';

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
      threads: 1,
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

interface FakeProcess {
  pid: number;
  ppid: number;
  pgrp: number;
  state?: string;
  /** Its threads; a child is listed under the last one (the one that forked it). */
  threads?: number[];
}

/** A directory laid out as `/proc` is, holding only `processes`. */
async function fakeProc(processes: FakeProcess[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kiln-fake-proc-'));
  for (const { pid, ppid, pgrp, state = 'S', threads = [pid] } of processes) {
    const dir = join(root, String(pid));
    const after = [
      state,
      ppid,
      pgrp,
      pgrp,
      0,
      -1,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      20,
      0,
      threads.length,
      0,
    ];
    await mkdir(dir);
    await writeFile(join(dir, 'stat'), `${pid} (sh) ${after.join(' ')} ${pid * 10} 0 0\n`);
    const children = processes.filter((p) => p.ppid === pid).map((p) => `${p.pid} `);
    for (const tid of threads) {
      await mkdir(join(dir, 'task', String(tid)), { recursive: true });
      const listed = tid === threads.at(-1) ? children.join('') : '';
      await writeFile(join(dir, 'task', String(tid), 'children'), listed);
    }
  }
  return root;
}

describe(listGroupMembers.name, () => {
  const roots: string[] = [];
  afterEach(async () => {
    await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
  });

  async function members(processes: FakeProcess[], pgid: number, from: number[]) {
    const root = await fakeProc(processes);
    roots.push(root);
    const found = await listGroupMembers(pgid, from, root);
    return found.map((stat) => stat.pid).sort((a, b) => a - b);
  }

  const AGENT = 10;
  const LEADER = 100;

  it("finds the group's members by walking down from its leader, through every thread", async () => {
    const processes = [
      { pid: AGENT, ppid: 1, pgrp: AGENT },
      { pid: LEADER, ppid: AGENT, pgrp: LEADER, threads: [LEADER, 103] },
      { pid: 101, ppid: LEADER, pgrp: LEADER },
      { pid: 102, ppid: 101, pgrp: LEADER, state: 'Z' },
      // Another task, and the agent's other children: none of the walk's business.
      { pid: 200, ppid: AGENT, pgrp: 200 },
      { pid: 201, ppid: 200, pgrp: 200 },
    ];
    expect(await members(processes, LEADER, [LEADER])).toEqual([LEADER, 101, 102]);
  });

  it('reads only the processes it walks: a member it cannot reach is not found', async () => {
    const processes = [
      { pid: LEADER, ppid: AGENT, pgrp: LEADER },
      { pid: 101, ppid: LEADER, pgrp: LEADER },
      // Orphaned: reparented to init, still in the group. A scan of every process would find it.
      { pid: 150, ppid: 1, pgrp: LEADER },
      { pid: 151, ppid: 150, pgrp: LEADER },
    ];
    expect(await members(processes, LEADER, [LEADER])).toEqual([LEADER, 101]);
    // Once seen, the caller passes it on, and the walk goes on from there.
    expect(await members(processes, LEADER, [LEADER, 150])).toEqual([LEADER, 101, 150, 151]);
  });

  it('does not walk through a process that left the group', async () => {
    const processes = [
      { pid: LEADER, ppid: AGENT, pgrp: LEADER },
      { pid: 101, ppid: LEADER, pgrp: 101 },
      { pid: 102, ppid: 101, pgrp: 101 },
    ];
    expect(await members(processes, LEADER, [LEADER])).toEqual([LEADER]);
  });

  it('finds no one once the leader is gone and nobody else is known', async () => {
    const processes = [{ pid: 101, ppid: 1, pgrp: LEADER }];
    expect(await members(processes, LEADER, [LEADER])).toEqual([]);
    expect(await members(processes, LEADER, [LEADER, 101])).toEqual([101]);
  });
});
