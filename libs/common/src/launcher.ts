import { spawn, type ChildProcess } from 'node:child_process';
import { deferred, type Deferred } from './deferred';

/**
 * How the leader of a process container ended: an exit code or a signal when it was the agent's
 * child, or what its exit-code file said after a recovery; `vanished` when it was gone before the
 * agent came back without leaving a code, `unrecorded` when it ended under a recovered agent's eyes
 * without one (a SIGKILL leaves the wrapper no chance to write it); `unstarted` when it said it
 * never started the command (its agent died before saying go).
 */
export type LeaderExit =
  | { code: number }
  | { signal: NodeJS.Signals }
  | { unknown: 'vanished' | 'unrecorded' }
  | { unstarted: true };

/*
 * Starts the programs a Kiln process runs from a small process of their own, the launcher, its
 * child: an agent's containers' wrappers and shims, the git commands of its checkouts and its own
 * few (`rm`, `runc`, `nsenter`: {@link runProgram}); the git commands of the server's mirrors and
 * the packs it makes of their commits. libuv's spawn forks the process that calls it, and a fork
 * costs in proportion to the memory whose mappings it copies, once at the fork and again when the
 * copy is dropped at the child's exec. Worse, while the kernel copies a process's mappings, every
 * thread of that process that touches memory waits: with the spawns on a thread of the agent's own
 * (~130 MB), its event loop stalled at each, and the agents took 15–18 ms of CPU per task at
 * bench:cluster's load. From the launcher, a bare Node.js program, they take about 5 ms, and the
 * machine's CPU per task fell by a quarter. The server's event loop stalled the same way, for
 * 10–40 ms at each of the three or four programs a run started (a `spawn` of a 250 MB process
 * here: 19 ms at the median, 40 ms at the 90th percentile), holding up webhooks and the build
 * framework's calls with it.
 *
 * A child is reaped by the loop that spawned it, so the launcher is the one that knows whether a
 * process it spawned has been reaped: it alone signals a group by its leader's pid, and only while
 * the leader is unreaped, when that pid (the group's id) cannot be anyone else's. Otherwise it
 * answers so, and the agent checks the pid's start time first (signalUnlessReused), as for a
 * container it found again after a restart.
 *
 * The launcher lives as long as the agent: it ignores the signals that end a service, and ends
 * (with the programs it runs to their end) when its channel to the agent closes, which the kernel
 * does when the agent dies, however it dies. A process waiting for the agent's word on its standard
 * input (a wrapper's go, a shim's gate) then reads the end of it, the launcher's pipe, and runs
 * nothing, as when the agent held that pipe itself. Were the launcher to die alone, what it
 * spawned would be reparented (and reaped) by the system, and the agent watches it from outside
 * (see {@link LaunchedProcess.lost}).
 *
 * Here and below, "the agent" is whichever process the launcher serves: an agent or the server.
 */

/** What the agent asks of the launcher. */
type Request =
  | {
      type: 'spawn';
      id: number;
      file: string;
      args: string[];
      cwd: string;
      env: Record<string, string>;
      /** Its standard input: a pipe for the agent's word, or nothing (`/dev/null`). */
      input: 'pipe' | 'ignore';
      /** Descriptors of the agent's, opened again by the launcher: the child's 1, 2 (and 3). */
      outputs: number[];
    }
  | {
      type: 'run';
      id: number;
      file: string;
      args: string[];
      cwd: string;
      env: Record<string, string>;
      /** Ended (with `killSignal`) after this long; 0: never. */
      timeoutMs: number;
      /** What ends it: at its timeout, past its output's bound, or when stopped. */
      killSignal: NodeJS.Signals;
      /** Its standard input, then its end. */
      input: string;
      /** What it may write to each output: one past it is ended and fails. */
      outputBytes: number;
    }
  | { type: 'stop'; id: number }
  | { type: 'go'; id: number; line: string; request: number }
  | { type: 'signal'; id: number; signal: NodeJS.Signals; request: number };

/** What the launcher tells the agent. */
type Report =
  | { type: 'spawned'; id: number; pid: number; stat: string | undefined }
  | { type: 'failed'; id: number; message: string; code: string | undefined }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | {
      type: 'ran';
      id: number;
      code: number | null;
      signal: NodeJS.Signals | null;
      stdout: string;
      stderr: string;
      /** Why it could not run at all (no such program, say). */
      failure?: { message: string; code: string | undefined };
      /** Ended for running longer than its timeout. */
      timedOut?: true;
      /** Ended when the agent stopped it. */
      stopped?: true;
    }
  | { type: 'answer'; request: number; done: boolean };

/**
 * What a program {@link Launcher.run} runs may write to each output unless told otherwise: one
 * past it is ended and fails (`execFile`'s default). A hostile repository can make git write
 * megabytes of complaints.
 */
const RUN_OUTPUT_BYTES = 1024 * 1024;
/** The end of a failed program's stderr that its error's message keeps. */
const MESSAGE_STDERR_CHARS = 4096;

/**
 * The launcher's program, plain JavaScript run by `node -e` so that it runs alike from the
 * compiled agent and from the TypeScript sources its tests run. It reads a spawned process's
 * `/proc/<pid>/stat` right after the spawn, before its loop can reap it, so that the stat is that
 * process's. A program it runs (`run`) has its output gathered and sent back whole. Its first line
 * names it where `ps` shows its command line.
 *
 * A spawned process's outputs are the agent's files, opened again through `/proc/<agent>/fd/<n>`:
 * the same files the agent opened and checked (no path is looked up again, so nothing swapped in
 * meanwhile is opened), appended to as the agent would. Only while the agent is its parent: once
 * the agent is gone, its pid could be another process's, so that is checked after each opening.
 * Only regular files, and opened without waiting: a FIFO put in an output's place would otherwise
 * hold the launcher (every launch and kill of the agent's) until something read it.
 */
const LAUNCHER = `/* kiln: the launcher */
const { execFile, spawn } = require('node:child_process');
const { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync } = require('node:fs');
const agent = process.ppid;
// What the agent's own parent left it open (a supervisor's pipe, say), past the descriptors Node
// makes close on exec as it starts, would reach every program run from here, a checkout as a
// task's user among them: closed, but for the outputs and the channel to the agent (0 to 3).
for (const name of readdirSync('/proc/self/fd')) {
  const fd = Number(name);
  if (!(fd > 3)) continue;
  let flags;
  try { flags = /^flags:\\s*([0-7]+)$/m.exec(readFileSync('/proc/self/fdinfo/' + fd, 'utf8')); } catch { continue; }
  // O_CLOEXEC, as fdinfo shows it (octal) on Linux.
  if (flags && (parseInt(flags[1], 8) & 0o2000000) === 0) closeSync(fd);
}
const children = new Map();
const runs = new Map();
const report = (message) => { if (process.connected) process.send(message); };
// SIGUSR1 too: it would start Node's inspector.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1']) process.on(signal, () => {});
// With the programs it runs to their end, which are of its group: nobody waits for them now. What
// it spawned is of groups of its own, and goes on.
process.on('disconnect', () => process.kill(0, 'SIGKILL'));
const reopen = (fds) => {
  const copies = [];
  try {
    for (const fd of fds) {
      if (process.ppid !== agent) throw Object.assign(new Error('the agent is gone'), { code: 'ESRCH' });
      const copy = openSync('/proc/' + agent + '/fd/' + fd, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK);
      copies.push(copy);
      if (process.ppid !== agent) throw Object.assign(new Error('the agent is gone'), { code: 'ESRCH' });
      if (!fstatSync(copy).isFile()) throw Object.assign(new Error('an output is not a regular file'), { code: 'EINVAL' });
    }
    return copies;
  } catch (error) {
    for (const copy of copies) closeSync(copy);
    throw error;
  }
};
process.on('message', (request) => {
  const child = children.get(request.id);
  if (request.type === 'run') {
    const running = execFile(request.file, request.args, { cwd: request.cwd, env: request.env, maxBuffer: request.outputBytes, timeout: request.timeoutMs, killSignal: request.killSignal }, (error, stdout, stderr) => {
      const stopped = runs.get(request.id).stopped;
      runs.delete(request.id);
      const ran = { type: 'ran', id: request.id, code: 0, signal: null, stdout, stderr };
      if (stopped) ran.stopped = true;
      else if (error && error.killed && error.code !== 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') ran.timedOut = true;
      if (error && typeof error.code === 'number') ran.code = error.code;
      else if (error && error.signal) Object.assign(ran, { code: null, signal: error.signal });
      else if (error) ran.failure = { message: String(error.message), code: error.code };
      report(ran);
    });
    runs.set(request.id, { running, killSignal: request.killSignal, stopped: false });
    // A program that ends without reading all of it is no failure of the launcher's (EPIPE).
    running.stdin.on('error', () => {});
    running.stdin.end(request.input);
  } else if (request.type === 'stop') {
    const run = runs.get(request.id);
    if (run) {
      run.stopped = true;
      run.running.kill(run.killSignal);
    }
  } else if (request.type === 'spawn') {
    let spawned;
    let stdio;
    try {
      stdio = reopen(request.outputs);
      spawned = spawn(request.file, request.args, {
        cwd: request.cwd,
        env: request.env,
        stdio: [request.input, ...stdio],
        detached: true,
      });
    } catch (error) {
      report({ type: 'failed', id: request.id, message: String(error && error.message), code: error && error.code });
      return;
    } finally {
      // The child has its own copies, or never will.
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
    if (spawned.stdin) spawned.stdin.on('error', () => {});
    spawned.once('exit', (code, signal) => {
      children.delete(request.id);
      report({ type: 'exit', id: request.id, code, signal });
    });
    children.set(request.id, spawned);
    report({ type: 'spawned', id: request.id, pid: spawned.pid, stat });
  } else if (request.type === 'go') {
    // A few bytes into an empty pipe are written at once, before end() returns: once answered,
    // the line is in the pipe, and the child gets it even if the agent dies the next moment.
    const input = child === undefined ? null : child.stdin;
    if (input) input.end(request.line);
    report({ type: 'answer', request: request.request, done: Boolean(input) });
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

/** A process the launcher spawned and watches. */
export interface LaunchedProcess {
  readonly pid: number;
  /** Its `/proc/<pid>/stat`, read before it could be reaped; undefined if unreadable. */
  readonly stat: string | undefined;
  /** How it ended, once reaped; never settles if the launcher is lost first. */
  readonly exited: Promise<LeaderExit>;
  /**
   * Whether the launcher was lost before the process's end: nobody will tell it then, and the
   * agent watches it from outside, as a container it found again after a restart.
   */
  readonly lost: boolean;
  /** Settles when the launcher is lost before the process's end (then `exited` never does). */
  readonly whenLost: Promise<void>;
  /**
   * Writes `line` (which may be empty) to its standard input and closes it: true once the line is
   * in the pipe (the process gets it whatever happens to the agent next), false if it never will
   * be (the process reaped, spawned without a pipe, or the launcher lost: its pipe closed).
   */
  go(line: string): Promise<boolean>;
  /** Signals its process group if it is unreaped; whether it was. */
  signal(signal: NodeJS.Signals): Promise<boolean>;
}

/** A process to spawn detached, in a group of its own. */
export interface SpawnPlan {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Its standard input: a pipe for the agent's word ({@link LaunchedProcess.go}), or nothing. */
  input: 'pipe' | 'ignore';
  /**
   * Descriptors of this process, open for appending, which the caller keeps open until the spawn
   * settles: the child's descriptors 1, 2 and, if given, 3.
   */
  outputs: [number, number] | [number, number, number];
}

/** How a program that {@link Launcher.run} ran ended, and what it wrote. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * A program that {@link Launcher.run} ran failed: it could not start, a signal ended it, or it
 * exited non-zero. `stderr` is what it wrote there, as `execFile`'s errors carry it.
 */
export class RunError extends Error {
  constructor(
    message: string,
    readonly code: number | string | undefined,
    readonly signal: NodeJS.Signals | undefined,
    readonly stdout: string,
    readonly stderr: string,
    /** Ended for running longer than its timeout. */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'RunError';
  }
}

interface Watched {
  spawned: Deferred<LaunchedProcess>;
  /** Whether the launcher has said how the spawn went. */
  answered: boolean;
  exited: Deferred<LeaderExit>;
  /** Resolved if the launcher is lost before the process's end. */
  gone: Deferred<void>;
  reaped: boolean;
  lost: boolean;
}

/**
 * How long the launcher may take to answer a spawn, a go or a signal: one that does not (stopped,
 * or stuck in the kernel) is taken for lost, and what it watched is watched from outside.
 */
const ANSWER_TIMEOUT_MS = 15_000;
/** How late the agent's own loop may run a timer before the wait is taken for its own stall. */
const LOOP_STALL_MS = 1_000;

export class Launcher {
  private launcher: ChildProcess | undefined;
  private nextId = 1;
  private nextRequest = 1;
  private readonly watched = new Map<number, Watched>();
  /** Programs running to their end, by id. */
  private readonly running = new Map<
    number,
    { file: string; ran: Deferred<RunResult>; timeoutMs: number; outputBytes: number }
  >();
  /** Requests waiting for the launcher's answer, by request number. */
  private readonly answers = new Map<number, (done: boolean) => void>();

  /** Spawns a process that outlives nothing of the agent's but its launcher (see {@link SpawnPlan}). */
  spawn(plan: SpawnPlan): Promise<LaunchedProcess> {
    const id = this.nextId++;
    const watched: Watched = {
      spawned: deferred(),
      answered: false,
      exited: deferred(),
      gone: deferred(),
      reaped: false,
      lost: false,
    };
    this.watched.set(id, watched);
    try {
      this.send({ type: 'spawn', id, ...plan }, () => !watched.answered);
    } catch (error) {
      // No launcher could be started (the host out of processes, say): this launch fails, and
      // its caller lets its descriptors go.
      this.forget(id);
      watched.spawned.reject(asError(error));
    }
    return watched.spawned.promise;
  }

  /**
   * Runs a short program to its end, as `execFile` does: what it wrote, or a {@link RunError}
   * when it did not exit 0 (or ran past `timeoutMs`, or `stop` was aborted, and it was ended with
   * `killSignal`, SIGTERM by default). Its standard input is `input`, then its end.
   */
  run(
    file: string,
    args: string[],
    options: {
      cwd: string;
      env: Record<string, string>;
      timeoutMs?: number;
      killSignal?: NodeJS.Signals;
      stop?: AbortSignal;
      input?: string;
      outputBytes?: number;
    },
  ): Promise<RunResult> {
    const id = this.nextId++;
    const ran = deferred<RunResult>();
    const { cwd, env, timeoutMs = 0, killSignal = 'SIGTERM', stop } = options;
    const { input = '', outputBytes = RUN_OUTPUT_BYTES } = options;
    this.running.set(id, { file, ran, timeoutMs, outputBytes });
    try {
      this.send({
        type: 'run',
        ...{ id, file, args, cwd, env },
        ...{ timeoutMs, killSignal, input, outputBytes },
      });
    } catch (error) {
      this.forget(id);
      ran.reject(asError(error));
    }
    if (stop !== undefined) {
      const ask = (): void => {
        if (!this.running.has(id)) return;
        try {
          this.send({ type: 'stop', id });
        } catch {
          // No launcher to ask: the run ended with it, and says so.
        }
      };
      if (stop.aborted) ask();
      else stop.addEventListener('abort', ask, { once: true });
      void ran.promise.then(
        () => stop.removeEventListener('abort', ask),
        () => stop.removeEventListener('abort', ask),
      );
    }
    return ran.promise;
  }

  /** Starts the launcher now, rather than at the first spawn: a launch then waits for no start. */
  warm(): void {
    this.process();
  }

  /**
   * Sends a request; `unanswered`, for a request answered at once, tells whether it still waits
   * for its answer, which the launcher is then lost for not giving in time.
   */
  private send(request: Request, unanswered?: () => boolean): void {
    const launcher = this.process();
    // Held while it runs or watches anything, as a child process holds the loop that spawned it.
    if (this.busy) hold(launcher, true);
    const lostIf = (why: string): void => {
      if (this.launcher === launcher) this.lost(new Error(why));
    };
    launcher.send(request, (error) => {
      if (error !== null) lostIf(`the launcher cannot be told: ${error.message}`);
    });
    if (unanswered !== undefined) this.expectAnswer(unanswered, lostIf);
  }

  /**
   * Takes the launcher for lost if `unanswered` still holds {@link ANSWER_TIMEOUT_MS} from now.
   * Judged once what the channel holds has been read (timers run before the loop reads its
   * sockets), and again later if the agent's own loop was held up meanwhile (a paused VM, say):
   * an answer waiting to be read is not the launcher's delay.
   */
  private expectAnswer(unanswered: () => boolean, lostIf: (why: string) => void): void {
    const due = Date.now() + ANSWER_TIMEOUT_MS;
    setTimeout(() => {
      setImmediate(() => {
        if (!unanswered()) return;
        if (Date.now() - due > LOOP_STALL_MS) this.expectAnswer(unanswered, lostIf);
        else lostIf(`the launcher did not answer within ${ANSWER_TIMEOUT_MS} ms`);
      }).unref();
    }, ANSWER_TIMEOUT_MS).unref();
  }

  private get busy(): boolean {
    return this.watched.size > 0 || this.running.size > 0;
  }

  private process(): ChildProcess {
    if (this.launcher !== undefined) return this.launcher;
    const launcher = spawn(process.execPath, ['-e', LAUNCHER], {
      // Nothing of the agent's environment: its NODE_OPTIONS (a profiler, say) are not for this.
      env: {},
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
      // A group of its own, with the programs it runs to their end: ended together (see lost).
      detached: true,
    });
    hold(launcher, false);
    launcher.on('message', (report: Report) => {
      if (this.launcher === launcher) this.receive(report);
    });
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
    if (report.type === 'ran') {
      const running = this.running.get(report.id);
      this.forget(report.id);
      if (running === undefined) return;
      const result = ranResult(running, report);
      if (result instanceof RunError) running.ran.reject(result);
      else running.ran.resolve(result);
      return;
    }
    const watched = this.watched.get(report.id);
    switch (report.type) {
      case 'spawned':
        if (watched === undefined) return;
        watched.answered = true;
        watched.spawned.resolve(this.launched(report.id, report.pid, report.stat, watched));
        return;
      case 'failed': {
        if (watched !== undefined) watched.answered = true;
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

  private launched(
    id: number,
    pid: number,
    stat: string | undefined,
    watched: Watched,
  ): LaunchedProcess {
    return {
      pid,
      stat,
      exited: watched.exited.promise,
      get lost() {
        return watched.lost;
      },
      whenLost: watched.gone.promise,
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
      this.send(request(number), () => this.answers.has(number));
    } catch {
      this.answers.delete(number);
      return Promise.resolve(false);
    }
    return answered;
  }

  private forget(id: number): void {
    this.watched.delete(id);
    this.running.delete(id);
    if (!this.busy && this.launcher !== undefined) hold(this.launcher, false);
  }

  /**
   * The launcher is gone: what it spawned is nobody's child to hear from (the system reaps it).
   * It is let go, as a recovered container is (the agent's sampling finds its end), and spawns
   * and runs under way fail, once the launcher has surely exited: their callers then close the
   * descriptors it was to open again. The next spawn starts another launcher.
   */
  private lost(error: Error): void {
    const launcher = this.launcher;
    this.launcher = undefined;
    const watched = [...this.watched.values()];
    const running = [...this.running.values()];
    const answers = [...this.answers.values()];
    this.watched.clear();
    this.running.clear();
    this.answers.clear();
    for (const child of watched) {
      child.lost = true;
      child.gone.resolve();
    }
    for (const resolve of answers) resolve(false);
    let failed = false;
    const fail = (): void => {
      if (failed) return;
      failed = true;
      for (const child of watched) child.spawned.reject(error);
      for (const { ran } of running) ran.reject(error);
    };
    if (launcher === undefined || launcher.exitCode !== null || launcher.signalCode !== null) {
      fail();
      return;
    }
    hold(launcher, false);
    launcher.once('exit', fail);
    // Not for ever: a process stuck in the kernel does not die of a SIGKILL until it is out.
    setTimeout(fail, ANSWER_TIMEOUT_MS).unref();
    // Whatever is left of it, which could still spawn: what it started now would be nobody's to
    // watch. Its children waiting for the agent's word read the end of their input; the
    // programs it ran to their end, of its group, end with it (nobody would hear of them).
    const group = launcher.pid;
    try {
      if (group === undefined) throw new Error('never started');
      process.kill(-group, 'SIGKILL');
    } catch {
      launcher.kill('SIGKILL');
    }
  }
}

/**
 * Whether nobody will tell the end of what the launcher spawned: nothing was (a container found
 * again after a restart), or the launcher that watched it is gone. Its container's sampling then
 * finds the end from outside.
 */
export function heardOfNoMore(launched: LaunchedProcess | undefined): boolean {
  return launched === undefined || launched.lost;
}

let shared: Launcher | undefined;

/**
 * The process's one launcher, shared by its containerizers and checkouts: one small process per
 * agent, started at the first use (or {@link Launcher.warm}).
 */
export function sharedLauncher(): Launcher {
  shared ??= new Launcher();
  return shared;
}

/**
 * Runs one of the agent's own programs (`rm`, `runc`, `nsenter`) to its end, as `execFile` would
 * from the agent, but from the shared launcher: a fork of the agent would stall its event loop,
 * every launch and status update with it, while the kernel copies its mappings. In `/`, with the
 * agent's `PATH` unless `env` says otherwise.
 */
export function runProgram(
  file: string,
  args: string[],
  env: Record<string, string> = { PATH: process.env.PATH ?? SYSTEM_PATH },
): Promise<RunResult> {
  return sharedLauncher().run(file, args, { cwd: '/', env });
}

/** Where the agent's programs are when it was started without a `PATH`. */
const SYSTEM_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

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

/** A run's report as its result, or as the error `execFile` would have given. */
function ranResult(
  { file, timeoutMs, outputBytes }: { file: string; timeoutMs: number; outputBytes: number },
  ran: Extract<Report, { type: 'ran' }>,
): RunResult | RunError {
  const { stdout, stderr } = ran;
  const said = stderr.trim().slice(-MESSAGE_STDERR_CHARS);
  if (ran.stopped === true) {
    return new RunError(`${file} was stopped`, undefined, ran.signal ?? undefined, stdout, stderr);
  }
  if (ran.timedOut === true) {
    return new RunError(
      `${file} did not end within ${timeoutMs} ms and was ended${said === '' ? '' : `: ${said}`}`,
      undefined,
      ran.signal ?? 'SIGTERM',
      stdout,
      stderr,
      true,
    );
  }
  if (ran.failure?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
    return new RunError(
      `${file} wrote more than ${outputBytes} bytes to an output and was ended${said === '' ? '' : `: ${said}`}`,
      ran.failure.code,
      'SIGTERM',
      stdout,
      stderr,
    );
  }
  if (ran.failure !== undefined) {
    return new RunError(
      `cannot run ${file}: ${ran.failure.message}`,
      ran.failure.code,
      undefined,
      stdout,
      stderr,
    );
  }
  if (ran.code === 0) return { stdout, stderr };
  const how = ran.code === null ? `was ended by ${ran.signal ?? 'a signal'}` : `exited ${ran.code}`;
  return new RunError(
    `${file} ${how}${said === '' ? '' : `: ${said}`}`,
    ran.code ?? undefined,
    ran.signal ?? undefined,
    stdout,
    stderr,
  );
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
