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
    startTime: number(22),
  };
  const { state, ...numbers } = stat;
  return state !== '' && Object.values(numbers).every(Number.isFinite) ? stat : undefined;
}

/** Whether the process has exited (a zombie waits only to be reaped; `X` is being reaped). */
export function hasExited(stat: ProcStat): boolean {
  return stat.state === 'Z' || stat.state === 'X';
}

export function readProcStatSync(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every process on the host; those that exit during the scan are left out. */
export async function listProcesses(): Promise<ProcStat[]> {
  const entries = await readdir('/proc');
  const stats = await Promise.all(
    entries.filter((name) => /^\d+$/.test(name)).map((name) => readProcStat(Number(name))),
  );
  return stats.filter((stat) => stat !== undefined);
}

/** Resident memory now and at its highest (`VmRSS`, `VmHWM`), in bytes; none for a zombie. */
export async function readProcMemory(
  pid: number,
): Promise<{ rssBytes: number; hwmBytes: number } | undefined> {
  let status: string;
  try {
    status = await readFile(`/proc/${pid}/status`, 'utf8');
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
    const auxv = readFileSync('/proc/self/auxv');
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
