import { describe, expect, it } from 'vitest';
import { GroupUsage, type ProcessSample } from './group-usage';
import type { ProcStat } from './proc';

function sample(
  pid: number,
  ppid: number,
  ticks: { self?: number; children?: number } = {},
  memory: { rss?: number; hwm?: number; state?: string } = {},
): ProcessSample {
  const stat: ProcStat = {
    pid,
    ppid,
    pgrp: 100,
    state: memory.state ?? 'S',
    utime: ticks.self ?? 0,
    stime: 0,
    cutime: ticks.children ?? 0,
    cstime: 0,
    threads: 1,
    startTime: pid * 10,
  };
  return { stat, rssBytes: memory.rss, hwmBytes: memory.hwm };
}

const LEADER = 100;
const AGENT = 1;

describe(GroupUsage.name, () => {
  it('has nothing to say before the first sample', () => {
    expect(new GroupUsage(100).usage).toBeUndefined();
  });

  it('sums the CPU time of the members and of the children they reaped', () => {
    const usage = new GroupUsage(100);
    usage.record([
      sample(LEADER, AGENT, { self: 10, children: 40 }),
      sample(101, LEADER, { self: 50 }),
    ]);
    expect(usage.usage?.cpuSeconds).toBe(1);
  });

  it('does not count twice a child that its parent in the group reaped', () => {
    const usage = new GroupUsage(100);
    usage.record([sample(LEADER, AGENT, { self: 10 }), sample(101, LEADER, { self: 50 })]);
    // 101 ended; the leader waited for it, so its 50 ticks moved into the leader's cutime.
    usage.record([sample(LEADER, AGENT, { self: 10, children: 50 })]);
    expect(usage.usage?.cpuSeconds).toBe(0.6);
  });

  it('keeps the time of members that ended with nobody in the group to reap them', () => {
    const usage = new GroupUsage(100);
    usage.record([sample(LEADER, AGENT, { self: 10 }), sample(101, AGENT, { self: 50 })]);
    usage.record([sample(LEADER, AGENT, { self: 20 })]);
    expect(usage.usage?.cpuSeconds).toBe(0.7);
    // The leader ends too, reaped by the agent: its last-seen time stays counted.
    usage.record([]);
    expect(usage.usage?.cpuSeconds).toBe(0.7);
  });

  it('never runs backwards', () => {
    const usage = new GroupUsage(100);
    usage.record([sample(LEADER, AGENT, { self: 30 })]);
    usage.record([sample(LEADER, AGENT, { self: 10 })]);
    expect(usage.usage?.cpuSeconds).toBe(0.3);
  });

  it('sums resident memory, keeps the peak, and counts no memory for zombies', () => {
    const usage = new GroupUsage(100);
    usage.record([
      sample(LEADER, AGENT, {}, { rss: 100, hwm: 100 }),
      sample(101, LEADER, {}, { rss: 300, hwm: 500 }),
    ]);
    expect(usage.usage).toMatchObject({ memBytes: 400, memPeakBytes: 500 });
    usage.record([
      sample(LEADER, AGENT, {}, { rss: 100, hwm: 100 }),
      sample(101, LEADER, {}, { state: 'Z' }),
    ]);
    expect(usage.usage).toMatchObject({ memBytes: 100, memPeakBytes: 500 });
    usage.ended();
    expect(usage.usage).toMatchObject({ memBytes: 0, memPeakBytes: 500 });
  });
});
