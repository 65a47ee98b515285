import { backoffDelay, errorMessage } from '@kiln/common';
import { isTerminal, type TaskState, type TaskStatus } from '@kiln/contracts';
import { Logger } from '@nestjs/common';
import type { TaskCheckpoint, TaskStore } from './task-store';

/** Sends an update on its way; throws if it cannot even leave (no connection). */
export type SendUpdate = (frameworkId: string, status: TaskStatus, latestState: TaskState) => void;

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 30_000;

interface Stream {
  checkpoint: TaskCheckpoint;
  /** Checkpoint writes under way: the newest updates, at the tail of `pending`, not yet durable. */
  unsaved: number;
  /** How many of `pending`, from its head, were sent since the last (re)start of delivery. */
  sent: number;
  attempt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Delivers each task's status updates to the master at least once and in order: an update is
 * sent once it is durable (on disk in the task's checkpoint), stays there until the framework
 * acknowledges it, and is sent again, with the ones after it, when no acknowledgement comes in
 * time (with backoff) and at once after every reconnection. Several updates of a task may be in
 * flight at once; each carries the task's latest state, so the master can free what the task held
 * when it first hears of its end. Acknowledgements come back in the order the updates went out
 * (one connection carries both ways), so one for a later update also settles the earlier ones.
 */
export class StatusUpdateManager {
  private readonly logger = new Logger(StatusUpdateManager.name);
  private readonly streams = new Map<string, Stream>();
  private connected = false;

  constructor(
    private readonly store: TaskStore,
    private readonly send: SendUpdate,
    /** Called when a task's terminal update was acknowledged: the task is done on this agent. */
    private readonly onDone: (checkpoint: TaskCheckpoint) => void,
  ) {}

  /** Starts tracking a task (new or recovered from disk); sends what it still owes. */
  track(checkpoint: TaskCheckpoint): void {
    this.streams.set(checkpoint.taskInfo.taskId, { checkpoint, unsaved: 0, sent: 0, attempt: 0 });
    this.flush(checkpoint.taskInfo.taskId);
  }

  /** Records a new status durably, then sends it. */
  async update(taskId: string, status: TaskStatus): Promise<void> {
    const stream = this.streams.get(taskId);
    if (stream === undefined) throw new Error(`no task ${taskId} is tracked`);
    stream.checkpoint.state = status.state;
    stream.checkpoint.pending.push(status);
    // Not sendable before it is on disk: a crash after sending must not forget it.
    stream.unsaved += 1;
    try {
      await this.store.save(stream.checkpoint);
    } finally {
      stream.unsaved -= 1;
    }
    this.flush(taskId);
  }

  acknowledged(taskId: string, uuid: string): void {
    const stream = this.streams.get(taskId);
    const index = stream?.checkpoint.pending.findIndex((s) => s.uuid === uuid) ?? -1;
    if (stream === undefined || index < 0) return; // a duplicate acknowledgement
    const settled = stream.checkpoint.pending.splice(0, index + 1);
    stream.sent = Math.max(0, stream.sent - settled.length);
    stream.attempt = 0;
    this.stopTimer(stream);
    const last = settled[settled.length - 1];
    if (stream.checkpoint.pending.length === 0 && last !== undefined && isTerminal(last.state)) {
      this.streams.delete(taskId);
      void this.store.remove(taskId).catch((error: unknown) => {
        this.logger.error(`removing the checkpoint of ${taskId} failed: ${errorMessage(error)}`);
      });
      this.onDone(stream.checkpoint);
      return;
    }
    // Losing this write only means re-sending an acknowledged update: harmless (at least once).
    void this.store.save(stream.checkpoint).catch((error: unknown) => {
      this.logger.error(`checkpointing ${taskId} failed: ${errorMessage(error)}`);
    });
    if (stream.sent > 0) this.startTimer(taskId, stream);
    this.flush(taskId);
  }

  setConnected(connected: boolean): void {
    this.connected = connected;
    if (!connected) return;
    for (const [taskId, stream] of this.streams) {
      // A reconnection restarts delivery at once: what was in flight died with the connection.
      this.stopTimer(stream);
      stream.sent = 0;
      stream.attempt = 0;
      this.flush(taskId);
    }
  }

  checkpoints(): TaskCheckpoint[] {
    return [...this.streams.values()].map((s) => s.checkpoint);
  }

  get(taskId: string): TaskCheckpoint | undefined {
    return this.streams.get(taskId)?.checkpoint;
  }

  stop(): void {
    for (const stream of this.streams.values()) this.stopTimer(stream);
  }

  /** Sends the durable updates not sent yet, in order. */
  private flush(taskId: string): void {
    const stream = this.streams.get(taskId);
    if (stream === undefined || !this.connected) return;
    const { pending, frameworkId, state } = stream.checkpoint;
    const durable = pending.length - stream.unsaved;
    if (stream.sent >= durable) return;
    try {
      for (const status of pending.slice(stream.sent, durable)) {
        this.send(frameworkId, status, state);
      }
      stream.sent = durable;
    } catch (error) {
      this.logger.warn(`sending the updates of task ${taskId} failed: ${errorMessage(error)}`);
    }
    if (stream.timer === undefined) {
      stream.attempt += 1;
      this.startTimer(taskId, stream);
    }
  }

  /** Sent is not delivered: without an acknowledgement in time, everything unacknowledged goes again. */
  private startTimer(taskId: string, stream: Stream): void {
    this.stopTimer(stream);
    stream.timer = setTimeout(
      () => {
        stream.timer = undefined;
        stream.sent = 0;
        this.flush(taskId);
      },
      backoffDelay(Math.max(1, stream.attempt), RETRY_BASE_MS, RETRY_MAX_MS),
    );
    stream.timer.unref();
  }

  private stopTimer(stream: Stream): void {
    clearTimeout(stream.timer);
    stream.timer = undefined;
  }
}
