import type { ResourceUsage } from '../containerizer';
import { hasExited, type ProcStat } from './proc';

/** One process of the group at one sample, with its memory when it could be read. */
export interface ProcessSample {
  stat: ProcStat;
  rssBytes?: number;
  hwmBytes?: number;
}

interface Member {
  startTime: number;
  ppid: number;
  ticks: number;
}

/**
 * What a process group has used, from periodic samples of its members. Without a cgroup nothing
 * counts a group's CPU time for us, so it is pieced together: a live process's own time plus what
 * it has collected from children it waited for (`cutime`, `cstime`), summed over the members. A
 * member that disappears between samples took its time with it unless a member parent reaped it
 * (then that parent's `cutime` carries it), so its last-seen time is kept in `lostTicks`. Best
 * effort: CPU spent after the last sample by processes that are then gone is not counted, nor
 * that of a member orphaned before a sample reached it (see `listGroupMembers`), and the memory
 * peak is the highest sum of resident sets that a sample saw (or one process's own peak, if
 * higher), not a kernel-counted one.
 */
export class GroupUsage {
  private members = new Map<number, Member>();
  private lostTicks = 0;
  private cpuTicks = 0;
  private memBytes = 0;
  private memPeakBytes = 0;
  private sampled = false;

  constructor(private readonly ticksPerSecond: number) {}

  /** Takes one sample: every process now in the group, zombies included. */
  record(samples: readonly ProcessSample[]): void {
    const now = new Map<number, Member>();
    for (const { stat } of samples) {
      now.set(stat.pid, {
        startTime: stat.startTime,
        ppid: stat.ppid,
        ticks: stat.utime + stat.stime + stat.cutime + stat.cstime,
      });
    }
    for (const [pid, member] of this.members) {
      const still = now.get(pid);
      if (still?.startTime === member.startTime) continue;
      // Gone. A parent that is still a member reaped it: its time is in that parent's cutime.
      if (!now.has(member.ppid)) this.lostTicks += member.ticks;
    }
    this.members = now;

    let ticks = this.lostTicks;
    for (const member of now.values()) ticks += member.ticks;
    // Undercounting between samples can make the sum dip; usage never runs backwards.
    this.cpuTicks = Math.max(this.cpuTicks, ticks);

    const living = samples.filter(({ stat }) => !hasExited(stat));
    this.memBytes = living.reduce((sum, sample) => sum + (sample.rssBytes ?? 0), 0);
    const ownPeak = Math.max(0, ...living.map((sample) => sample.hwmBytes ?? 0));
    this.memPeakBytes = Math.max(this.memPeakBytes, this.memBytes, ownPeak);
    this.sampled = true;
  }

  /** The group has ended: nothing of it is resident any more. */
  ended(): void {
    this.memBytes = 0;
  }

  /** `undefined` until the first sample. */
  get usage(): ResourceUsage | undefined {
    if (!this.sampled) return undefined;
    return {
      cpuSeconds: this.cpuTicks / this.ticksPerSecond,
      memBytes: this.memBytes,
      memPeakBytes: this.memPeakBytes,
    };
  }
}
