import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_PATH, openOutputs } from '../launching';
import { readProcStatSync, type ProcStat } from '../process/proc';
import { Changes } from './cgroups';
import { shimArguments } from './runc';

/*
 * Starting a native container: the shim (see `runc.ts`), the agent's detached child outside the
 * container, runs `runc run` in the foreground; the container runs once runc has written its pid.
 */

/** How often the start of a container is checked for where its bundle cannot be watched. */
const PID_FILE_POLL_MS = 50;
/** Where it can, how long the watch is trusted to before the pid file is read again. */
const WATCHED_PID_FILE_RECHECK_MS = 1_000;
export interface Shim {
  child: ChildProcess;
  pid: number;
  /** The shim's stat at its start, which tells it from a later process given its pid. */
  leader: ProcStat;
  /** Settles when the shim has exited (the container has ended, or never started). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the shim of a container, its output appended to the sandbox's files. A gated one (with
 * `plan.gate`) reads the agent's word for its container on its standard input: the agent writes
 * `GATE_OPEN` to `child.stdin`, or ends it (see `SHIM`).
 */
export async function spawnShim(
  plan: Parameters<typeof shimArguments>[0],
  sandbox: string,
): Promise<Shim> {
  const gated = plan.gate !== undefined;
  let child: ChildProcess;
  const outputs = await openOutputs(sandbox);
  try {
    child = spawn('/bin/sh', shimArguments(plan), {
      cwd: sandbox,
      // The task's environment is in the bundle; the shim and runc need only a PATH.
      env: { PATH: DEFAULT_PATH },
      stdio: [gated ? 'pipe' : 'ignore', outputs.stdout, outputs.stderr],
      detached: true,
    });
  } finally {
    outputs.close();
  }
  const pid = child.pid;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  if (pid === undefined) {
    await exited;
    throw new Error('the shim could not be started');
  }
  // Read before anything awaits, and so synchronously: the shim cannot have been reaped yet
  // (that takes the event loop), so its stat is there. A file of /proc, which no disk holds.
  const leader = readProcStatSync(pid);
  if (leader === undefined) throw new Error(`/proc/${pid}/stat cannot be read`);
  return { child, pid, leader, exited };
}

/**
 * Resolves true once runc has written the container's pid file (its process runs), false if the
 * shim exited first (runc could not start it).
 */
export async function untilStarted(pidFile: string, exited: Promise<unknown>): Promise<boolean> {
  const dir = join(pidFile, '..');
  let ended = false;
  void exited.then(() => (ended = true));
  const written = () =>
    readFile(pidFile, 'utf8').then(
      (text) => /^\d+$/.test(text.trim()),
      () => false,
    );
  // The directory is watched rather than polled: runc renames the file into place.
  const changes = new Changes(dir, PID_FILE_POLL_MS, WATCHED_PID_FILE_RECHECK_MS);
  try {
    for (;;) {
      if (await written()) return true;
      if (ended) return await written();
      await Promise.race([exited, changes.next()]);
    }
  } finally {
    changes.close();
  }
}
