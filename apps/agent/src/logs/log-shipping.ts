import { errorMessage, withTimeout } from '@kiln/common';
import { Logger } from '@nestjs/common';
import type { TaskCheckpoint, TaskStore } from '../tasks/task-store';
import { LogShipper, type LogShipperOptions } from './log-shipper';

/** At most this often is a task's log cursor written to its checkpoint. */
const SAVE_EVERY_MS = 1_000;

export type LogShipperTuning = Pick<
  LogShipperOptions,
  'pollMs' | 'requestTimeoutMs' | 'retryBaseMs' | 'retryMaxMs'
>;

interface Shipping {
  shipper: LogShipper;
  checkpoint: TaskCheckpoint;
  saveTimer?: NodeJS.Timeout;
  /** The checkpoint is gone from disk (the task is done): writing it again would resurrect it. */
  released: boolean;
}

/**
 * The agent's log shippers, one per task that has a `logSink`, and their cursors in the tasks'
 * checkpoints, so a restarted agent resumes where the server last acknowledged.
 */
export class LogShipping {
  private readonly logger = new Logger(LogShipping.name);
  private readonly shippings = new Map<string, Shipping>();
  private stopped = false;

  constructor(
    private readonly store: TaskStore,
    private readonly tuning: LogShipperTuning = {},
  ) {}

  /**
   * Starts shipping `file` for a task with a log sink, from its checkpointed cursor. Does
   * nothing for a task without a sink, one already shipping, or one whose log is complete.
   */
  start(checkpoint: TaskCheckpoint, file: string): void {
    const taskId = checkpoint.taskInfo.taskId;
    const sink = checkpoint.taskInfo.logSink;
    if (sink === undefined || checkpoint.log?.done === true || this.shippings.has(taskId)) return;
    if (this.stopped) return;
    const shipping: Shipping = {
      checkpoint,
      released: false,
      shipper: new LogShipper({
        ...this.tuning,
        taskId,
        sink,
        file,
        ...(checkpoint.log === undefined ? {} : { from: checkpoint.log }),
        onProgress: (progress) => {
          checkpoint.log = progress;
          this.scheduleSave(shipping, progress.done === true);
        },
      }),
    };
    this.shippings.set(taskId, shipping);
  }

  /**
   * The task's container is gone: ships the rest of its output with `eof`, waiting at most
   * `timeoutMs` for the sink to take it; past that, shipping goes on in the background.
   */
  async end(taskId: string, timeoutMs: number): Promise<void> {
    const shipping = this.shippings.get(taskId);
    if (shipping === undefined) return;
    shipping.shipper.end();
    try {
      await withTimeout(shipping.shipper.done, timeoutMs);
    } catch {
      this.logger.warn(
        `the log of task ${taskId} is not fully shipped after ${timeoutMs} ms: ` +
          'reporting its end anyway, the rest follows',
      );
    }
  }

  /**
   * The task is done on this agent and its checkpoint removed: lets its shipper finish for at
   * most `timeoutMs` (the sandbox it reads is about to go), then stops it.
   */
  async release(taskId: string, timeoutMs: number): Promise<void> {
    const shipping = this.shippings.get(taskId);
    if (shipping === undefined) return;
    shipping.released = true;
    clearTimeout(shipping.saveTimer);
    shipping.shipper.end();
    await withTimeout(shipping.shipper.done, timeoutMs).catch(() => {
      this.logger.warn(`giving up on shipping the rest of the log of task ${taskId}`);
    });
    await shipping.shipper.stop();
    this.shippings.delete(taskId);
  }

  /** Stops every shipper, keeping each cursor in its checkpoint for the next run of the agent. */
  async stop(): Promise<void> {
    this.stopped = true;
    const shippings = [...this.shippings.values()];
    this.shippings.clear();
    await Promise.all(
      shippings.map(async (shipping) => {
        clearTimeout(shipping.saveTimer);
        await shipping.shipper.stop();
        if (!shipping.released) await this.save(shipping);
      }),
    );
  }

  private scheduleSave(shipping: Shipping, now: boolean): void {
    if (shipping.released) return;
    if (now) {
      clearTimeout(shipping.saveTimer);
      shipping.saveTimer = undefined;
      void this.save(shipping);
      return;
    }
    // A lost cursor only means resending what the server already has, which it ignores: no
    // need to write (and fsync) the checkpoint for every chunk.
    shipping.saveTimer ??= setTimeout(() => {
      shipping.saveTimer = undefined;
      void this.save(shipping);
    }, SAVE_EVERY_MS);
  }

  private async save(shipping: Shipping): Promise<void> {
    if (shipping.released) return;
    await this.store.save(shipping.checkpoint).catch((error: unknown) => {
      const taskId = shipping.checkpoint.taskInfo.taskId;
      this.logger.error(`checkpointing the log cursor of ${taskId} failed: ${errorMessage(error)}`);
    });
  }
}
