import { Worker } from 'node:worker_threads';
import { deferred, type Deferred } from '@kiln/common';
import type { LeaderExit } from '../lifecycle/termination';

/*
 * Starts process containers' wrappers on a thread of their own. libuv's spawn forks the whole
 * agent and blocks the thread that calls it until the child has exec'd: ~2 ms of a quiet agent's
 * event loop per task, and, on a loaded host, as long as the child waits for a core (profiled:
 * 12 % of an agent's main thread at half of bench:cluster's load). On this thread, the agent's
 * event loop goes on with every other task meanwhile.
 *
 * A child is reaped by the loop that spawned it (libuv waits for each of its own children only),
 * so the launcher's thread is the one that knows whether a wrapper has been reaped: it alone
 * signals a group by its leader's pid, and only while the leader is unreaped, when that pid (the
 * group's id) cannot be anyone else's. Otherwise it answers so, and the agent checks the pid's
 * start time first (signalUnlessReused), as for a container it found again after a restart.
 */

/** What the agent asks of the launcher's thread. */
type Request =
  | {
      type: 'spawn';
      id: number;
      args: string[];
      cwd: string;
      env: Record<string, string>;
      /** Descriptors of the agent's, which the thread shares: the wrapper's 1, 2 and 3. */
      stdio: [number, number, number];
    }
  | { type: 'go'; id: number; line: string; request: number }
  | { type: 'signal'; id: number; signal: NodeJS.Signals; request: number };

/** What the launcher's thread tells the agent. */
type Report =
  | { type: 'spawned'; id: number; pid: number; stat: string | undefined }
  | { type: 'failed'; id: number; message: string; code: string | undefined }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'answer'; request: number; done: boolean };

/**
 * The thread's program, plain JavaScript run by `eval` so that it runs alike from the compiled
 * agent and from the TypeScript sources its tests run. It reads the wrapper's `/proc/<pid>/stat`
 * right after the spawn, before its loop can reap the wrapper, so that the stat is the wrapper's.
 */
const THREAD = `
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const children = new Map();
const report = (message) => parentPort.postMessage(message);
parentPort.on('message', (request) => {
  const child = children.get(request.id);
  if (request.type === 'spawn') {
    let spawned;
    try {
      spawned = spawn('/bin/sh', request.args, {
        cwd: request.cwd,
        env: request.env,
        stdio: ['pipe', ...request.stdio],
        detached: true,
      });
    } catch (error) {
      report({ type: 'failed', id: request.id, message: String(error && error.message), code: error && error.code });
      return;
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

/** A wrapper the launcher's thread spawned and watches. */
export interface LaunchedWrapper {
  readonly pid: number;
  /** Its `/proc/<pid>/stat`, read before it could be reaped; undefined if unreadable. */
  readonly stat: string | undefined;
  /** How it ended, once reaped; never settles if the launcher's thread is lost first. */
  readonly exited: Promise<LeaderExit>;
  /**
   * Whether the launcher's thread was lost before the wrapper's end: nobody will tell it then,
   * and the agent watches it from outside, as a container it found again after a restart.
   */
  readonly lost: boolean;
  /**
   * Writes `line` to its standard input and closes it: true once the line is in the pipe (the
   * wrapper gets it whatever happens to the agent next), false if it never will be (the wrapper
   * reaped, or the launcher's thread lost: its pipe closed, the wrapper runs nothing).
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
  private worker: Worker | undefined;
  private nextId = 1;
  private nextRequest = 1;
  private readonly watched = new Map<number, Watched>();
  /** Requests waiting for the thread's answer, by request number. */
  private readonly answers = new Map<number, (done: boolean) => void>();

  /** Spawns `/bin/sh args` detached, in its own group, with `stdio` as descriptors 1, 2 and 3. */
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
      // No thread could be started (the host out of processes, say): this launch fails, and
      // its caller lets its descriptors go.
      this.forget(id);
      watched.spawned.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return watched.spawned.promise;
  }

  private send(request: Request): void {
    const worker = this.thread();
    // Held while it watches a wrapper, as a child process holds the loop that spawned it.
    if (this.watched.size > 0) worker.ref();
    worker.postMessage(request);
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(THREAD, { eval: true });
    worker.unref();
    worker.on('message', (report: Report) => this.receive(report));
    // A thread ends with 'error' then 'exit': it is lost once, and its events after that are
    // not taken for those of the thread that replaced it.
    const lost = (error: Error): void => {
      if (this.worker === worker) this.lost(error);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the launcher's thread exited (${code})`)));
    this.worker = worker;
    return worker;
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

  /** Sends a request and resolves with the thread's answer (false if the thread is lost). */
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
    if (this.watched.size === 0) this.worker?.unref();
  }

  /**
   * The thread is gone: its wrappers are nobody's children to hear from (nor reaped: they stay
   * zombies, their pids never reused, while the agent runs). They are let go, as a recovered
   * container's leader is (the agent's sampling finds their end in the exit file), and spawns
   * under way fail. Never seen: the thread's program catches what it can throw.
   */
  private lost(error: Error): void {
    this.worker = undefined;
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
