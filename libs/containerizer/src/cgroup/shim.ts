import { sleep } from '@kiln/common';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedLauncher, type LaunchedProcess } from '@kiln/common';
import { DEFAULT_PATH, openOutputs } from '../launching';
import type { LeaderExit } from '../lifecycle/termination';
import { hasExited, parseProcStat, readProcStat, type ProcStat } from '../process/proc';
import { isLeader } from '../process/process-group';
import { readRecordedExit } from '../process/wrapper';
import { Changes } from './cgroups';
import { SHIM_NAME, shimArguments } from './runc';

/*
 * Starting a native container: the shim (see `runc.ts`), a detached process outside the container
 * that the agent's launcher starts (see `launcher.ts`), runs `runc run` in the foreground; the
 * container runs once runc has written its pid.
 */

/** How often the start of a container is checked for where its bundle cannot be watched. */
const PID_FILE_POLL_MS = 50;
/** Where it can, how long the watch is trusted to before the pid file is read again. */
const WATCHED_PID_FILE_RECHECK_MS = 1_000;
export interface Shim {
  /** The shim as the launcher watches it: its gate (`go`), and whether it is still heard of. */
  process: LaunchedProcess;
  pid: number;
  /** The shim's stat at its start, which tells it from a later process given its pid. */
  leader: ProcStat;
  /** Settles when the shim has exited (the container has ended, or never started). */
  exited: Promise<LeaderExit>;
}

/**
 * Starts the shim of a container in its sandbox, its output appended to the sandbox's files. It reads the
 * agent's word for its container on its standard input: the agent writes `GATE_OPEN` to it, or
 * ends it (`process.go`, see `SHIM`); a gated one (with `plan.gate`) makes the container
 * meanwhile. Its exit is heard from the launcher, or, should the launcher be lost first, seen
 * from outside: its pid no longer its own, and the code it wrote to `plan.exitFile`.
 */
export async function spawnShim(
  plan: Parameters<typeof shimArguments>[0],
  /** Where the sandbox is: a warm container's is renamed to its task's while the shim runs. */
  place: { readonly sandbox: string },
): Promise<Shim> {
  const sandbox = place.sandbox;
  const outputs = await openOutputs(sandbox);
  let shim: LaunchedProcess;
  try {
    shim = await sharedLauncher().spawn({
      file: '/bin/sh',
      args: shimArguments(plan),
      cwd: sandbox,
      // The task's environment is in the bundle; the shim and runc need only a PATH.
      env: { PATH: DEFAULT_PATH },
      input: 'pipe',
      outputs: [outputs.stdout, outputs.stderr],
    });
  } finally {
    outputs.close();
  }
  // Read by the launcher before it could reap the shim: the shim's own.
  const leader = shim.stat === undefined ? undefined : parseProcStat(shim.stat);
  if (leader === undefined) {
    await shim.signal('SIGKILL');
    throw new Error(`/proc/${shim.pid}/stat cannot be read`);
  }
  const watchedFromOutside = shim.whenLost.then(async (): Promise<LeaderExit> => {
    const leaderOf = { pid: shim.pid, startTime: leader.startTime };
    for (;;) {
      const now = await readProcStat(shim.pid);
      if (!isLeader(now, leaderOf) || hasExited(now)) break;
      await sleep(PID_FILE_POLL_MS);
    }
    return (await readRecordedExit(place.sandbox)) ?? { unknown: 'unrecorded' };
  });
  return {
    process: shim,
    pid: shim.pid,
    leader,
    exited: Promise.race([shim.exited, watchedFromOutside]),
  };
}

/**
 * Kills the shim of a container that runc still knows of (an earlier launch of the id, which the
 * agent lost track of): found from the container's first process, whose parent is `runc run` and
 * grandparent the shim, named in the shim's arguments. Once runc deletes the container, a shim
 * left running would record that end in the sandbox, where a new launch of the id keeps its own,
 * and stop the network helper of whatever pid file it then finds.
 */
export async function killEarlierShim(stateDir: string, containerId: string): Promise<void> {
  const state = await readFile(join(stateDir, containerId, 'state.json'), 'utf8').catch(() => '');
  const init = Number(/"init_process_pid":(\d+)/.exec(state)?.[1]);
  if (!(init > 0)) return;
  const runc = (await readProcStat(init))?.ppid;
  const shim = runc === undefined ? undefined : (await readProcStat(runc))?.ppid;
  if (shim === undefined || shim <= 1) return;
  const argv = (await readFile(`/proc/${shim}/cmdline`, 'utf8').catch(() => '')).split('\0');
  if (argv[3] !== SHIM_NAME || argv[7] !== containerId) return;
  try {
    process.kill(shim, 'SIGKILL');
  } catch {
    // It ended meanwhile.
  }
}

/**
 * Resolves true once runc has written the container's pid file (its process runs), false if the
 * shim exited first (runc could not start it).
 */
export function untilStarted(pidFile: string, exited: Promise<unknown>): Promise<boolean> {
  return untilWritten(pidFile, (text) => /^\d+$/.test(text.trim()), exited);
}

/**
 * Resolves true once `file` is there and its text passes `written`, false if the shim exited
 * first.
 */
export async function untilWritten(
  file: string,
  written: (text: string) => boolean,
  exited: Promise<unknown>,
): Promise<boolean> {
  const dir = join(file, '..');
  let ended = false;
  void exited.then(() => (ended = true));
  const check = () =>
    readFile(file, 'utf8').then(
      (text) => written(text),
      () => false,
    );
  // The directory is watched rather than polled: runc renames its pid file into place.
  const changes = new Changes(dir, PID_FILE_POLL_MS, WATCHED_PID_FILE_RECHECK_MS);
  try {
    for (;;) {
      if (await check()) return true;
      if (ended) return await check();
      await Promise.race([exited, changes.next()]);
    }
  } finally {
    changes.close();
  }
}
