import { spawn, type ChildProcess } from 'node:child_process';
import { deferred, type Deferred } from '@kiln/common';
import type { LeaderExit } from '../lifecycle/termination';

/*
 * Starts process containers' wrappers from a small process of their own, the launcher, a child of
 * the agent. libuv's spawn forks the process that calls it, and a fork costs in proportion to the
 * memory whose mappings it copies, once at the fork and again when the copy is dropped at the
 * child's exec. Worse, while the kernel copies a process's mappings, every thread of that process
 * that touches memory waits: with the spawns on a thread of the agent's own (~130 MB), its event
 * loop stalled at each, and the agents took 15–18 ms of CPU per task at bench:cluster's load. From
 * the launcher, a bare Node.js program, they take about 5 ms, and the machine's CPU per task fell
 * by a quarter.
 *
 * A child is reaped by the loop that spawned it, so the launcher is the one that knows whether a
 * wrapper has been reaped: it alone signals a group by its leader's pid, and only while the leader
 * is unreaped, when that pid (the group's id) cannot be anyone else's. Otherwise it answers so,
 * and the agent checks the pid's start time first (signalUnlessReused), as for a container it
 * found again after a restart.
 *
 * The launcher lives as long as the agent: it ignores the signals that end a service, and exits
 * when its channel to the agent closes, which the kernel does when the agent dies, however it
 * dies. A wrapper waiting for its go then reads the end of its standard input, the launcher's
 * pipe, and runs nothing (see wrapper.ts), as when the agent held that pipe itself. Were the
 * launcher to die alone, its wrappers would be reparented (and reaped) by the system, and the
 * agent watches them from outside (see {@link LaunchedWrapper.lost}).
 */

/** What the agent asks of the launcher. */
type Request =
  | {
      type: 'spawn';
      id: number;
      args: string[];
      cwd: string;
      env: Record<string, string>;
      /** Descriptors of the agent's, opened again by the launcher: the wrapper's 1, 2 and 3. */
      stdio: [number, number, number];
    }
  | { type: 'go'; id: number; line: string; request: number }
  | { type: 'signal'; id: number; signal: NodeJS.Signals; request: number };

/** What the launcher tells the agent. */
type Report =
  | { type: 'spawned'; id: number; pid: number; stat: string | undefined }
  | { type: 'failed'; id: number; message: string; code: string | undefined }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'answer'; request: number; done: boolean };

/**
 * The launcher's program, plain JavaScript run by `node -e` so that it runs alike from the
 * compiled agent and from the TypeScript sources its tests run. It reads the wrapper's
 * `/proc/<pid>/stat` right after the spawn, before its loop can reap the wrapper, so that the stat
 * is the wrapper's.
 *
 * The wrapper's descriptors are the agent's files, opened again through `/proc/<agent>/fd/<n>`:
 * the same files the agent opened and checked (no path is looked up again, so nothing swapped in
 * meanwhile is opened), appended to as the agent would. Only while the agent is its parent: once
 * the agent is gone, its pid could be another process's, so that is checked after each opening.
 */
const LAUNCHER = `
const { spawn } = require('node:child_process');
const { closeSync, constants, openSync, readFileSync } = require('node:fs');
const agent = process.ppid;
const children = new Map();
const report = (message) => { if (process.connected) process.send(message); };
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => {});
process.on('disconnect', () => process.exit(0));
const reopen = (fds) => {
  const copies = [];
  try {
    for (const fd of fds) {
      copies.push(openSync('/proc/' + agent + '/fd/' + fd, constants.O_WRONLY | constants.O_APPEND));
      if (process.ppid !== agent) throw Object.assign(new Error('the agent is gone'), { code: 'ESRCH' });
    }
    return copies;
  } catch (error) {
    for (const copy of copies) closeSync(copy);
    throw error;
  }
};
process.on('message', (request) => {
  const child = children.get(request.id);
  if (request.type === 'spawn') {
    let spawned;
    let stdio;
    try {
      stdio = reopen(request.stdio);
      spawned = spawn('/bin/sh', request.args, {
        cwd: request.cwd,
        env: request.env,
        stdio: ['pipe', ...stdio],
        detached: true,
      });
    } catch (error) {
      report({ type: 'failed', id: request.id, message: String(error && error.message), code: error && error.code });
      return;
    } finally {
      // The wrapper has its own copies, or never will.
      for (const copy of stdio || []) closeSync(copy);
    }
    if (spawned.pid === undefined) {
      spawned.once('error', (error) =>
        report({ type: 'failed', id: request.id, message: String(error.message), code: error.code }),
      );
      return;
    }
    let stat;
    try {
      stat = readFileSync('/proc/' + spawned.pid + '/stat', 'utf8');
    } catch {
      stat = undefined;
    }
    spawned.stdin.on('error', () => {});
    spawned.once('exit', (code, signal) => {
      children.delete(request.id);
      report({ type: 'exit', id: request.id, code, signal });
    });
    children.set(request.id, spawned);
    report({ type: 'spawned', id: request.id, pid: spawned.pid, stat });
  } else if (request.type === 'go') {
    // A few bytes into an empty pipe are written at once, before end() returns: once answered,
    // the line is in the pipe, and the wrapper gets it even if the agent dies the next moment.
    if (child !== undefined) child.stdin.end(request.line);
    report({ type: 'answer', request: request.request, done: child !== undefined });
  } else if (request.type === 'signal') {
    const unreaped = child !== undefined && child.exitCode === null && child.signalCode === null;
    if (unreaped) {
      try {
        process.kill(-child.pid, request.signal);
      } catch {}
    }
    report({ type: 'answer', request: request.request, done: unreaped });
  }
});
`;

/** A wrapper the launcher spawned and watches. */
export interface LaunchedWrapper {
  readonly pid: number;
  /** Its `/proc/<pid>/stat`, read before it could be reaped; undefined if unreadable. */
  readonly stat: string | undefined;
  /** How it ended, once reaped; never settles if the launcher is lost first. */
  readonly exited: Promise<LeaderExit>;
  /**
   * Whether the launcher was lost before the wrapper's end: nobody will tell it then, and the
   * agent watches it from outside, as a container it found again after a restart.
   */
  readonly lost: boolean;
  /**
   * Writes `line` to its standard input and closes it: true once the line is in the pipe (the
   * wrapper gets it whatever happens to the agent next), false if it never will be (the wrapper
   * reaped, or the launcher lost: its pipe closed, the wrapper runs nothing).
   */
  go(line: string): Promise<boolean>;
  /** Signals its process group if it is unreaped; whether it was. */
  signal(signal: NodeJS.Signals): Promise<boolean>;
}

interface Watched {
  spawned: Deferred<LaunchedWrapper>;
  exited: Deferred<LeaderExit>;
  reaped: boolean;
  lost: boolean;
}

export class WrapperLauncher {
  private launcher: ChildProcess | undefined;
  private nextId = 1;
  private nextRequest = 1;
  private readonly watched = new Map<number, Watched>();
  /** Requests waiting for the launcher's answer, by request number. */
  private readonly answers = new Map<number, (done: boolean) => void>();

  /**
   * Spawns `/bin/sh args` detached, in its own group, with `stdio` (descriptors of this process,
   * which it keeps open until this settles) as descriptors 1, 2 and 3.
   */
  spawn(plan: {
    args: string[];
    cwd: string;
    env: Record<string, string>;
    stdio: [number, number, number];
  }): Promise<LaunchedWrapper> {
    const id = this.nextId++;
    const watched: Watched = {
      spawned: deferred(),
      exited: deferred(),
      reaped: false,
      lost: false,
    };
    this.watched.set(id, watched);
    try {
      this.send({ type: 'spawn', id, ...plan });
    } catch (error) {
      // No launcher could be started (the host out of processes, say): this launch fails, and
      // its caller lets its descriptors go.
      this.forget(id);
      watched.spawned.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return watched.spawned.promise;
  }

  /** Starts the launcher now, rather than at the first spawn: a launch then waits for no start. */
  warm(): void {
    this.process();
  }

  private send(request: Request): void {
    const launcher = this.process();
    // Held while it watches a wrapper, as a child process holds the loop that spawned it.
    if (this.watched.size > 0) hold(launcher, true);
    // A message that cannot be sent means the channel closed: the launcher is lost, and its
    // 'disconnect' settles every request.
    launcher.send(request, () => undefined);
  }

  private process(): ChildProcess {
    if (this.launcher !== undefined) return this.launcher;
    const launcher = spawn(process.execPath, ['-e', LAUNCHER], {
      // Nothing of the agent's environment: its NODE_OPTIONS (a profiler, say) are not for this.
      env: {},
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    hold(launcher, false);
    launcher.on('message', (report: Report) => this.receive(report));
    // A launcher ends with several events ('disconnect', 'exit', maybe 'error'): it is lost once,
    // and its events after that are not taken for those of the one that replaced it.
    const lost = (error: Error): void => {
      if (this.launcher === launcher) this.lost(error);
    };
    launcher.on('error', lost);
    launcher.on('disconnect', () => lost(new Error('the launcher closed its channel')));
    launcher.on('exit', (code, signal) =>
      lost(new Error(`the launcher exited (${code ?? signal ?? 'unknown'})`)),
    );
    this.launcher = launcher;
    return launcher;
  }

  private receive(report: Report): void {
    if (report.type === 'answer') {
      this.answers.get(report.request)?.(report.done);
      this.answers.delete(report.request);
      return;
    }
    const watched = this.watched.get(report.id);
    switch (report.type) {
      case 'spawned':
        watched?.spawned.resolve(this.wrapper(report.id, report.pid, report.stat, watched));
        return;
      case 'failed': {
        this.forget(report.id);
        const error: NodeJS.ErrnoException = new Error(report.message);
        if (report.code !== undefined) error.code = report.code;
        watched?.spawned.reject(error);
        return;
      }
      case 'exit':
        this.forget(report.id);
        if (watched === undefined) return;
        watched.reaped = true;
        watched.exited.resolve(
          report.code === null ? { signal: report.signal ?? 'SIGKILL' } : { code: report.code },
        );
        return;
    }
  }

  private wrapper(
    id: number,
    pid: number,
    stat: string | undefined,
    watched: Watched,
  ): LaunchedWrapper {
    return {
      pid,
      stat,
      exited: watched.exited.promise,
      get lost() {
        return watched.lost;
      },
      go: (line) => {
        if (watched.reaped || watched.lost) return Promise.resolve(false);
        return this.ask((request) => ({ type: 'go', id, line, request }));
      },
      signal: (signal) => {
        if (watched.reaped || watched.lost) return Promise.resolve(false);
        return this.ask((request) => ({ type: 'signal', id, signal, request }));
      },
    };
  }

  /** Sends a request and resolves with the launcher's answer (false if the launcher is lost). */
  private ask(request: (number: number) => Request): Promise<boolean> {
    const number = this.nextRequest++;
    const answered = new Promise<boolean>((resolve) => this.answers.set(number, resolve));
    try {
      this.send(request(number));
    } catch {
      this.answers.delete(number);
      return Promise.resolve(false);
    }
    return answered;
  }

  private forget(id: number): void {
    this.watched.delete(id);
    if (this.watched.size === 0 && this.launcher !== undefined) hold(this.launcher, false);
  }

  /**
   * The launcher is gone: its wrappers are nobody's children to hear from (the system reaps
   * them). They are let go, as a recovered container's leader is (the agent's sampling finds
   * their end in the exit file), and spawns under way fail. The next spawn starts another.
   */
  private lost(error: Error): void {
    const launcher = this.launcher;
    this.launcher = undefined;
    if (launcher !== undefined) {
      hold(launcher, false);
      // Whatever is left of it, which could still spawn: a wrapper it started now would be
      // nobody's to watch. Its wrappers waiting for a go read the end of their input and run
      // nothing.
      launcher.kill('SIGKILL');
    }
    for (const [id, watched] of this.watched) {
      watched.lost = true;
      watched.spawned.reject(error);
      this.watched.delete(id);
    }
    for (const [request, resolve] of this.answers) {
      resolve(false);
      this.answers.delete(request);
    }
  }
}

/** Whether the launcher holds the agent's event loop open (its process and its channel). */
function hold(launcher: ChildProcess, held: boolean): void {
  if (held) {
    launcher.ref();
    launcher.channel?.ref();
  } else {
    launcher.unref();
    launcher.channel?.unref();
  }
}
