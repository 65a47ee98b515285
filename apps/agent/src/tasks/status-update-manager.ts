import { backoffDelay, errorMessage } from '@kiln/common';
import { isTerminal, type TaskStatus } from '@kiln/contracts';
import { Logger } from '@nestjs/common';
import type { TaskCheckpoint, TaskStore } from './task-store';

/** Sends an update on its way; throws if it cannot even leave (no connection). */
export type SendUpdate = (frameworkId: string, status: TaskStatus) => void;

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 30_000;

interface Stream {
  checkpoint: TaskCheckpoint;
  /** Checkpoint writes under way. */
  unsaved: number;
  inFlight: boolean;
  attempt: number;
  timer?: NodeJS.Timeout;
}

/**
 * Delivers each task's status updates to the master at least once, in order, one in flight per
 * task: an update stays on disk until the framework acknowledges it and is re-sent with backoff
 * until then (and at once after every reconnection). Mesos' agents do the same.
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
    this.streams.set(checkpoint.taskInfo.taskId, {
      checkpoint,
      unsaved: 0,
      inFlight: false,
      attempt: 0,
    });
    this.flush(checkpoint.taskInfo.taskId);
  }

  /** Records a new status durably, then sends it when its turn comes. */
  async update(taskId: string, status: TaskStatus): Promise<void> {
    const stream = this.streams.get(taskId);
    if (stream === undefined) throw new Error(`no task ${taskId} is tracked`);
    stream.checkpoint.state = status.state;
    stream.checkpoint.pending.push(status);
    // Not sendable before it is on disk: a crash after sending must not forget it. Unsaved
    // updates are the newest, at the tail of `pending`; flush() sends only durable ones.
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
    const head = stream?.checkpoint.pending[0];
    if (stream === undefined || head?.uuid !== uuid) return; // a duplicate acknowledgement
    stream.checkpoint.pending.shift();
    stream.attempt = 0;
    clearTimeout(stream.timer);
    stream.timer = undefined;
    stream.inFlight = false;
    const isDone = stream.checkpoint.pending.length === 0 && isTerminal(head.state);
    if (isDone) {
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
    this.flush(taskId);
  }

  setConnected(connected: boolean): void {
    this.connected = connected;
    if (!connected) return;
    for (const [taskId, stream] of this.streams) {
      // A reconnection restarts delivery at once: the old in-flight send died with the stream.
      clearTimeout(stream.timer);
      stream.timer = undefined;
      stream.inFlight = false;
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
    for (const stream of this.streams.values()) clearTimeout(stream.timer);
  }

  private flush(taskId: string): void {
    const stream = this.streams.get(taskId);
    const head = stream?.checkpoint.pending[0];
    if (stream === undefined || head === undefined || stream.inFlight || !this.connected) return;
    if (stream.checkpoint.pending.length <= stream.unsaved) return; // the head is not durable yet
    stream.inFlight = true;
    stream.attempt += 1;
    try {
      this.send(stream.checkpoint.frameworkId, head);
    } catch (error) {
      this.logger.warn(`sending ${head.state} of task ${taskId} failed: ${errorMessage(error)}`);
    }
    // Sent is not delivered: without an acknowledgement in time, the same update goes again.
    stream.timer = setTimeout(
      () => {
        stream.inFlight = false;
        stream.timer = undefined;
        this.flush(taskId);
      },
      backoffDelay(stream.attempt, RETRY_BASE_MS, RETRY_MAX_MS),
    );
    stream.timer.unref();
  }
}
