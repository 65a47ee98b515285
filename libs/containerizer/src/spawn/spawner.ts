import { Worker } from 'node:worker_threads';
import { parseProcStat, type ProcStat } from '../process/proc';

/*
 * Why a thread of its own: Node's `spawn` forks the whole agent (every page of its heap is mapped
 * again in the child) and then waits until the child has exec'd, all on the calling thread. Measured
 * on the agent under `bench:cluster`, that was half of its event loop's time: status updates,
 * acknowledgements and the next launches waited behind it. Here the fork, the wait for the exec and
 * the reaping happen on a worker thread; the agent's event loop only posts a message.
 *
 * The worker is plain JavaScript in a string, not a module of its own: it then runs the same from
 * the TypeScript sources under test as from the build, and needs nothing but Node.
 */
const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const children = new Map();

function onSpawn({ id, file, args, cwd, env, stdin, stdout, stderr, detached }) {
  let child;
  try {
    child = spawn(file, args, { cwd, env, stdio: [stdin, stdout, stderr], detached });
  } catch (error) {
    parentPort.postMessage({ op: 'failed', id, message: String(error && error.message), code: error && error.code });
    return;
  }
  if (child.pid === undefined) {
    child.once('error', (error) => parentPort.postMessage({ op: 'failed', id, message: error.message, code: error.code }));
    return;
  }
  // Read before this thread's event loop runs again: only it reaps the child, so the pid is still
  // the child's and its stat (its start time: with the pid, its identity) is there.
  let stat;
  try {
    stat = readFileSync('/proc/' + child.pid + '/stat', 'utf8');
  } catch {
    stat = undefined;
  }
  children.set(id, child);
  if (child.stdin) child.stdin.on('error', () => undefined);
  child.once('exit', (code, signal) => {
    children.delete(id);
    parentPort.postMessage({ op: 'exit', id, code, signal });
  });
  parentPort.postMessage({ op: 'spawned', id, pid: child.pid, stat });
}

function onStdin({ id, text }) {
  const child = children.get(id);
  if (child && child.stdin) child.stdin.end(text);
}

// Signals the child's process group only while the child is unreaped: reaping happens on this
// thread, so its pid cannot have been given to another process meanwhile.
function onSignal({ id, signal, request }) {
  const child = children.get(id);
  let sent = false;
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, signal);
      sent = true;
    } catch {
      sent = false;
    }
  }
  parentPort.postMessage({ op: 'signalled', id, request, sent });
}

parentPort.on('message', (message) => {
  if (message.op === 'spawn') onSpawn(message);
  else if (message.op === 'stdin') onStdin(message);
  else if (message.op === 'signal') onSignal(message);
});
`;

export interface SpawnRequest {
  file: string;
  args: readonly string[];
  cwd: string;
  /** The child's whole environment. */
  env: Record<string, string>;
  /** `pipe`: a pipe the caller ends once with {@link SpawnedChild.endStdin}. */
  stdin: 'pipe' | 'ignore';
  /** Open file descriptors of this process, kept open by the caller until `spawn` settles. */
  stdout: number;
  stderr: number;
  /** The child leads a new session and process group (see `setsid(2)`). */
  detached: boolean;
}

/**
 * How a spawned child ended: as Node's `exit` event says, or `lost` should the spawning thread have
 * died first (no exit will be heard of: the caller watches the process another way).
 */
export type ChildExit =
  { code: number; signal: null } | { code: null; signal: NodeJS.Signals } | { lost: true };

export interface SpawnedChild {
  readonly pid: number;
  /** The child's `/proc/<pid>/stat`, read before it could have been reaped; undefined if unread. */
  readonly stat: ProcStat | undefined;
  /** Settles once the child has been reaped. */
  readonly exited: Promise<ChildExit>;
  /** Whether the exit (or loss) has been heard of on this thread. */
  readonly ended: boolean;
  /** Writes `text` to the child's stdin pipe and closes it; a child gone makes it a no-op. */
  endStdin(text: string): void;
  /**
   * Sends `signal` to the child's process group, unless the child has been reaped: then the pid
   * may be another process's, and nothing is sent (false).
   */
  signalGroup(signal: NodeJS.Signals): Promise<boolean>;
}

export class SpawnError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'SpawnError';
  }
}

type FromWorker =
  | { op: 'spawned'; id: number; pid: number; stat: string | undefined }
  | { op: 'failed'; id: number; message: string; code?: string }
  | { op: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { op: 'signalled'; id: number; request: number; sent: boolean };

interface Pending {
  spawned: (child: SpawnedChild) => void;
  failed: (error: Error) => void;
  exit?: (exit: ChildExit) => void;
  signals: Map<number, (sent: boolean) => void>;
}

/**
 * Spawns children on a worker thread of this process (see above). The children are this process's
 * children as with `child_process.spawn`: same process group rules, same file descriptors. The
 * thread is started on the first spawn, keeps the process alive only while a child it spawned runs,
 * and is started again if it ever dies (its children then end `lost`).
 */
export class Spawner {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextRequest = 1;

  spawn(request: SpawnRequest): Promise<SpawnedChild> {
    const worker = this.thread();
    const id = this.nextId++;
    return new Promise<SpawnedChild>((resolve, reject) => {
      this.pending.set(id, { spawned: resolve, failed: reject, signals: new Map() });
      worker.ref();
      worker.postMessage({ op: 'spawn', id, ...request, args: [...request.args] });
    });
  }

  /** Stops the thread; children still running are not touched, and end `lost`. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (message: FromWorker) => this.onMessage(worker, message));
    worker.on('error', () => undefined);
    worker.once('exit', () => this.onThreadExit(worker));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private onMessage(worker: Worker, message: FromWorker): void {
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    switch (message.op) {
      case 'spawned':
        pending.spawned(this.child(worker, message.id, message.pid, message.stat, pending));
        return;
      case 'failed':
        this.settle(worker, message.id);
        pending.failed(new SpawnError(message.message, message.code));
        return;
      case 'exit':
        this.settle(worker, message.id);
        pending.exit?.(
          message.code === null
            ? { code: null, signal: message.signal ?? 'SIGKILL' }
            : { code: message.code, signal: null },
        );
        return;
      case 'signalled':
        pending.signals.get(message.request)?.(message.sent);
        pending.signals.delete(message.request);
        return;
    }
  }

  private child(
    worker: Worker,
    id: number,
    pid: number,
    statText: string | undefined,
    pending: Pending,
  ): SpawnedChild {
    let ended = false;
    const exited = new Promise<ChildExit>((resolve) => {
      pending.exit = (exit) => {
        ended = true;
        for (const answer of pending.signals.values()) answer(false);
        pending.signals.clear();
        resolve(exit);
      };
    });
    return {
      pid,
      stat: statText === undefined ? undefined : parseProcStat(statText),
      exited,
      get ended() {
        return ended;
      },
      endStdin: (text) => {
        if (!ended) worker.postMessage({ op: 'stdin', id, text });
      },
      signalGroup: (signal) => {
        if (ended) return Promise.resolve(false);
        const request = this.nextRequest++;
        return new Promise<boolean>((resolve) => {
          pending.signals.set(request, resolve);
          worker.postMessage({ op: 'signal', id, signal, request });
        });
      },
    };
  }

  /** One child fewer: the thread keeps the process alive only while children run. */
  private settle(worker: Worker, id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) worker.unref();
  }

  private onThreadExit(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    const orphans = [...this.pending.values()];
    this.pending.clear();
    for (const pending of orphans) {
      if (pending.exit === undefined) {
        pending.failed(new SpawnError('the spawning thread stopped', undefined));
      } else {
        pending.exit({ lost: true });
      }
    }
  }
}
