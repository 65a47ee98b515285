import { errorMessage, sleep } from '@kiln/common';
import type { TaskLogChunk, TaskLogsRepository, TaskStep } from '@kiln/persistence';
import type { Logger } from '@nestjs/common';
import type { LiveLogChunk, LogBus } from './log-bus';
import { latestTaskId, type LogTasks } from './log-tasks';
import type { LogsConfig } from './logs.config';

/** A step as the API shows it. */
export interface StepView {
  idx: number;
  name: string;
  firstLine: number;
  exitCode: number | null;
  startedAt: string;
  finishedAt: string | null;
}

export type LogEndReason =
  /** The task's output is complete. */
  | 'eof'
  /** The job has ended (or is gone) and its task sent nothing more: its agent may have died. */
  | 'job-ended'
  /** The job moved on to a newer attempt while this one was silent. */
  | 'retried';

/** What a follower of a job's log receives, in order. */
export type LogStreamEvent =
  /** Stored text; `id` is the offset after it: send it back (`Last-Event-ID`) to resume there. */
  | {
      event: 'log';
      id: string;
      data: { taskId: string; offset: number; firstLine: number; text: string };
    }
  /** A step's state whenever it changes; the same state may come twice around a reconnect. */
  | { event: 'step'; data: StepView & { taskId: string } }
  | { event: 'end'; data: { taskId: string | null; reason: LogEndReason } };

/** Where a follower's events go: the HTTP response of a live stream, in the app. */
export interface LogEventSink {
  /** Resolves once the receiver can take more (at once, if it has gone). */
  send(event: LogStreamEvent): Promise<void>;
  close(): void;
  readonly closed: boolean;
  /** `listener` runs once, when the receiver goes away or the sink is closed. */
  onClose(listener: () => void): void;
}

export interface LogFollowerDeps {
  logs: TaskLogsRepository;
  bus: LogBus;
  tasks: LogTasks;
  config: LogsConfig;
  logger: Logger;
}

/** Live chunks buffered while the follower is busy; past this, it reads the database instead. */
const MAX_PENDING = 256;

export function toStepView(step: TaskStep): StepView {
  return {
    idx: step.idx,
    name: step.name,
    firstLine: step.firstLine,
    exitCode: step.exitCode,
    startedAt: step.startedAt.toISOString(),
    finishedAt: step.finishedAt?.toISOString() ?? null,
  };
}

/**
 * Follows one task's log for one receiver: what is stored from an offset, then what is stored
 * next, each chunk once and in order. It subscribes before it reads the database, and treats
 * both as the same ordered sequence: a chunk goes out only when it starts exactly where the last
 * one sent ended. Live chunks below that point were replayed already and are dropped; one past
 * it means something was missed, and the database fills the gap. Work is serialized on one
 * promise chain, so sends never interleave.
 */
export class LogFollower {
  private taskId: string | undefined;
  private cursor = 0;
  private pending: LiveLogChunk[] = [];
  private needCatchUp = true;
  private chain: Promise<void> = Promise.resolve();
  private done = false;
  private lastActivity = Date.now();
  private readonly stepsSent = new Map<number, string>();
  private readonly closed: Promise<void>;

  private readonly jobId: string;
  /** The attempt followed; undefined: the latest that launches a task. */
  private readonly attempt: number | undefined;

  constructor(
    private readonly deps: LogFollowerDeps,
    of: { jobId: string; attempt?: number | undefined },
    taskId: string | undefined,
    private readonly from: number,
    private readonly sink: LogEventSink,
  ) {
    this.jobId = of.jobId;
    this.attempt = of.attempt;
    this.taskId = taskId;
    this.closed = new Promise((resolve) =>
      sink.onClose(() => {
        this.done = true;
        resolve();
      }),
    );
  }

  /** Streams until the log ends or the receiver goes; never rejects. */
  async run(): Promise<void> {
    try {
      await this.follow();
    } catch (error) {
      this.fail(error);
    }
    await this.chain;
  }

  /** Ends the stream without an `end` event (the server is going away: the client reconnects). */
  stop(): void {
    this.done = true;
    this.sink.close();
  }

  private async follow(): Promise<void> {
    const taskId = this.taskId ?? (await this.waitForTask());
    if (taskId === undefined) return;
    this.taskId = taskId;
    const unsubscribe = await this.deps.bus.subscribe(taskId, (live) => this.onLive(live));
    const { idleMs } = this.deps.config;
    const idleTimer = setInterval(
      () => {
        if (this.done || Date.now() - this.lastActivity < idleMs) return;
        this.lastActivity = Date.now();
        this.schedule(() => this.checkIdle());
      },
      Math.min(1_000, idleMs),
    );
    try {
      // Read after subscribing: whatever is stored later arrives live, at or past this end.
      const { nextOffset } = await this.deps.logs.tail(taskId);
      this.cursor = Math.min(this.from, nextOffset);
      this.schedule(async () => {
        await this.sendSteps(await this.deps.logs.listSteps(taskId));
        await this.pump();
      });
      await this.closed;
    } finally {
      clearInterval(idleTimer);
      unsubscribe();
    }
  }

  /**
   * An attempt not launched yet has no task: wait for it, or for the job to end or move on to
   * another attempt (this one then never ran, and has no log).
   */
  private async waitForTask(): Promise<string | undefined> {
    const signal = new AbortController();
    void this.closed.then(() => signal.abort());
    while (!this.done) {
      const job = await this.deps.tasks.ofJob(this.jobId);
      const taskId =
        job && (this.attempt === undefined ? latestTaskId(job) : job.taskIds.get(this.attempt));
      if (taskId !== undefined) return taskId;
      if (job === undefined || job.ended) {
        await this.end('job-ended');
        return undefined;
      }
      if (this.attempt !== undefined && job.attempt !== this.attempt) {
        await this.end('retried');
        return undefined;
      }
      await sleep(this.deps.config.taskPollMs, signal.signal);
    }
    return undefined;
  }

  private onLive(live: LiveLogChunk): void {
    if (this.done) return;
    if (this.pending.length >= MAX_PENDING) {
      this.pending = [];
      this.needCatchUp = true;
    } else {
      this.pending.push(live);
    }
    this.schedule(() => this.pump());
  }

  private schedule(work: () => Promise<void>): void {
    this.chain = this.chain
      .then(() => (this.done ? undefined : work()))
      .catch((error: unknown) => this.fail(error));
  }

  private fail(error: unknown): void {
    this.deps.logger.warn(
      `following the log of job ${this.jobId} failed: ${errorMessage(error)}; closing the stream`,
    );
    this.stop();
  }

  private async pump(): Promise<void> {
    while (!this.done) {
      if (this.needCatchUp) {
        this.needCatchUp = false;
        await this.catchUp();
        continue;
      }
      const live = this.pending.shift();
      if (live === undefined) return;
      if (live.chunk.offset < this.cursor) continue;
      if (live.chunk.offset > this.cursor) {
        this.needCatchUp = true;
        continue;
      }
      await this.sendChunk(live.chunk);
      await this.sendSteps(live.steps);
      if (live.chunk.eof) await this.end('eof');
    }
  }

  /** Sends what is stored from the cursor on. */
  private async catchUp(): Promise<void> {
    const taskId = this.taskId!;
    const { logs, config } = this.deps;
    let eof = false;
    while (!this.done && !eof) {
      const chunks = await logs.readFromOffset(taskId, this.cursor, config.pageSize);
      for (const chunk of chunks) {
        if (this.done) return;
        await this.sendChunk(chunk);
        eof ||= chunk.eof;
      }
      if (chunks.length < config.pageSize) break;
    }
    if (this.done) return;
    await this.sendSteps(await logs.listSteps(taskId));
    if (eof) await this.end('eof');
  }

  private async checkIdle(): Promise<void> {
    const before = this.cursor;
    await this.catchUp();
    if (this.done || this.cursor !== before) return;
    const job = await this.deps.tasks.ofJob(this.jobId);
    if (job === undefined || job.ended) await this.end('job-ended');
    else if (job.taskIds.get(job.attempt) !== this.taskId) await this.end('retried');
  }

  private async sendChunk(chunk: TaskLogChunk): Promise<void> {
    this.cursor = chunk.offset + chunk.bytes;
    this.lastActivity = Date.now();
    if (chunk.text === '') return;
    await this.sink.send({
      event: 'log',
      id: String(this.cursor),
      data: {
        taskId: chunk.taskId,
        offset: chunk.offset,
        firstLine: chunk.firstLine,
        text: chunk.text,
      },
    });
  }

  private async sendSteps(steps: readonly TaskStep[]): Promise<void> {
    for (const step of steps) {
      const view = toStepView(step);
      const key = JSON.stringify(view);
      if (this.stepsSent.get(step.idx) === key) continue;
      this.stepsSent.set(step.idx, key);
      await this.sink.send({ event: 'step', data: { taskId: step.taskId, ...view } });
    }
  }

  private async end(reason: LogEndReason): Promise<void> {
    if (this.done) return;
    await this.sink.send({ event: 'end', data: { taskId: this.taskId ?? null, reason } });
    this.stop();
  }
}
