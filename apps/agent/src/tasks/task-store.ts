import type { TaskInfo, TaskState, TaskStatus } from '@kiln/contracts';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogProgress } from '../logs/log-shipper';

/** What the agent keeps on disk about one task, so a restart loses nothing. */
export interface TaskCheckpoint {
  frameworkId: string;
  role: string;
  taskInfo: TaskInfo;
  /** The latest state, acknowledged or not. */
  state: TaskState;
  containerizer: string;
  /** The containerizer's own checkpoint (pid, start time…) for recovery. */
  container?: Record<string, unknown>;
  /** Status updates not yet acknowledged, oldest first: sent one at a time, in order. */
  pending: TaskStatus[];
  /** How far the task's output has been shipped to its `logSink`; unset: not started. */
  log?: LogProgress;
  /**
   * The task's working directory, its sandbox's workspace, where its artifacts are collected.
   * Unset in the checkpoints of agents from before the workspace, whose tasks worked in the
   * sandbox itself, and for a task the agent never had.
   */
  workspace?: string;
}

/**
 * One JSON file per task under `<dataDir>/meta/tasks`, replaced atomically (write, fsync,
 * rename): a crash leaves either the old or the new checkpoint, never half of one. Writes are
 * asynchronous, so an fsync never stalls the agent's event loop, and serialized per task, so a
 * later checkpoint of a task can never be overtaken by an earlier one.
 */
export class TaskStore {
  private readonly dir: string;
  private readonly writes = new Map<string, Promise<void>>();

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'meta', 'tasks');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Resolves once the checkpoint, as it is now, is durable. */
  save(checkpoint: TaskCheckpoint): Promise<void> {
    const taskId = checkpoint.taskInfo.taskId;
    const json = JSON.stringify(checkpoint);
    return this.serialize(taskId, async () => {
      const file = this.file(taskId);
      const temporary = `${file}.tmp`;
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(json);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, file);
    });
  }

  remove(taskId: string): Promise<void> {
    return this.serialize(taskId, () => rm(this.file(taskId), { force: true }));
  }

  private serialize(taskId: string, write: () => Promise<void>): Promise<void> {
    const previous = this.writes.get(taskId) ?? Promise.resolve();
    const next = previous.then(write, write);
    this.writes.set(taskId, next);
    const forget = (): void => {
      if (this.writes.get(taskId) === next) this.writes.delete(taskId);
    };
    next.then(forget, forget);
    return next;
  }

  /** Every checkpoint on disk; unreadable ones are reported and skipped, never fatal. */
  loadAll(onCorrupt: (file: string, error: unknown) => void): TaskCheckpoint[] {
    const checkpoints: TaskCheckpoint[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        checkpoints.push(JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as TaskCheckpoint);
      } catch (error) {
        onCorrupt(name, error);
      }
    }
    return checkpoints;
  }

  private file(taskId: string): string {
    // Task ids are validated against ID_PATTERN at the edge: no path separators can reach here.
    return join(this.dir, `${taskId}.json`);
  }
}
