import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/** The fields of `/proc/<pid>/stat` the process containerizer needs (proc(5)). */
export interface ProcStat {
  pid: number;
  /** `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped), … */
  state: string;
  ppid: number;
  pgrp: number;
  /** CPU time in clock ticks: the process's own, and that of its children it has waited for. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** How many threads it has. */
  threads: number;
  /** Clock ticks after boot at which the process started: with the pid, its identity. */
  startTime: number;
}

/**
 * Parses one `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may itself
 * contain spaces and parentheses, so the fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // After the name: field 3 (state) is at index 0, so field n is at index n - 3.
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const number = (field: number): number => Number(fields[field - 3]);
  const stat: ProcStat = {
    pid,
    state: fields[0] ?? '',
    ppid: number(4),
    pgrp: number(5),
    utime: number(14),
    stime: number(15),
    cutime: number(16),
    cstime: number(17),
    threads: number(20),
    startTime: number(22),
  };
  const { state, ...numbers } = stat;
  return state !== '' && Object.values(numbers).every(Number.isFinite) ? stat : undefined;
}

/** Whether the process has exited (a zombie waits only to be reaped; `X` is being reaped). */
export function hasExited(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

/** Where the kernel's process information is mounted; a test may point the readers elsewhere. */
const PROC = '/proc';

export function readProcStatSync(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`${PROC}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export async function readProcStat(pid: number, proc = PROC): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`${proc}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every process on the host; those that exit during the scan are left out. */
export async function listProcesses(proc = PROC): Promise<ProcStat[]> {
  const entries = await readdir(proc);
  const stats = await Promise.all(
    entries.filter((name) => /^\d+$/.test(name)).map((name) => readProcStat(Number(name), proc)),
  );
  return stats.filter((stat) => stat !== undefined);
}

/**
 * The children of a process, from `/proc/<pid>/task/<tid>/children` of each of its threads (a
 * child is listed under the thread that forked it); none once it has exited. A process of one
 * thread, as most are, has its pid for its thread's id: no need to list its threads.
 */
export async function readChildren(stat: ProcStat, proc = PROC): Promise<number[]> {
  const { pid } = stat;
  let threads: string[];
  try {
    threads = stat.threads === 1 ? [String(pid)] : await readdir(`${proc}/${pid}/task`);
  } catch {
    return [];
  }
  const lists = await Promise.all(
    threads.map((tid) => readFile(`${proc}/${pid}/task/${tid}/children`, 'utf8').catch(() => '')),
  );
  return lists.flatMap((list) =>
    list
      .split(/\s+/)
      .filter((s) => /^\d+$/.test(s))
      .map(Number),
  );
}

let childrenListed: Promise<boolean> | undefined;

/**
 * Whether this kernel lists a process's children (`CONFIG_PROC_CHILDREN`, on wherever CRIU
 * runs); without it, a process's descendants can only be found by reading every process.
 */
export function kernelListsChildren(): Promise<boolean> {
  childrenListed ??= readFile(`${PROC}/self/task/${process.pid}/children`).then(
    () => true,
    () => false,
  );
  return childrenListed;
}

/**
 * The processes of group `pgid` (zombies included) that are, or descend from, the processes
 * `from`: found by walking down from them rather than by reading every process on the host, so
 * that measuring a task costs what the task has, not what the host has. A member whose parent
 * left the group or ended before the walk reached it (an orphan, now the child of a reaper
 * outside) is found only if it is itself among `from`: callers pass the members they saw before.
 * A process outside the group is not walked through: its children are in its own group.
 */
export async function listGroupMembers(
  pgid: number,
  from: Iterable<number>,
  proc = PROC,
): Promise<ProcStat[]> {
  const seen = new Set<number>();
  const members: ProcStat[] = [];
  const visit = async (pid: number): Promise<void> => {
    if (seen.has(pid)) return;
    seen.add(pid);
    const stat = await readProcStat(pid, proc);
    if (stat?.pgrp !== pgid) return;
    members.push(stat);
    // A process's children go to a reaper when it exits, before it is a zombie.
    if (hasExited(stat)) return;
    await Promise.all((await readChildren(stat, proc)).map(visit));
  };
  await Promise.all([...from].map(visit));
  return members;
}

/** Resident memory now and at its highest (`VmRSS`, `VmHWM`), in bytes; none for a zombie. */
export async function readProcMemory(
  pid: number,
  proc = PROC,
): Promise<{ rssBytes: number; hwmBytes: number } | undefined> {
  let status: string;
  try {
    status = await readFile(`${proc}/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string): number | undefined => {
    const match = new RegExp(`^${field}:\\s*(\\d+)\\s*kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rssBytes = kib('VmRSS');
  const hwmBytes = kib('VmHWM');
  return rssBytes === undefined || hwmBytes === undefined ? undefined : { rssBytes, hwmBytes };
}

let clockTicks: number | undefined;

/**
 * The kernel's clock ticks per second (`getconf CLK_TCK`), which `/proc/<pid>/stat` counts CPU
 * time in. Read from the `AT_CLKTCK` entry the kernel puts in every process's auxiliary vector;
 * 100, the value on every mainstream Linux, if that cannot be read.
 */
export function clockTicksPerSecond(): number {
  clockTicks ??= readClockTicks() ?? 100;
  return clockTicks;
}

const AT_CLKTCK = 17n;

function readClockTicks(): number | undefined {
  try {
    const auxv = readFileSync(`${PROC}/self/auxv`);
    // 64-bit hosts only: the vector is pairs of native-endian 64-bit words (type, value).
    if (process.arch !== 'x64' && process.arch !== 'arm64') return undefined;
    for (let offset = 0; offset + 16 <= auxv.length; offset += 16) {
      const type = auxv.readBigUInt64LE(offset);
      if (type === AT_CLKTCK) {
        const value = Number(auxv.readBigUInt64LE(offset + 8));
        return value > 0 ? value : undefined;
      }
      if (type === 0n) return undefined;
    }
  } catch {
    // No /proc: the caller's fallback applies.
  }
  return undefined;
}
