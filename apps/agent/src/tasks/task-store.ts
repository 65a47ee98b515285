import type { TaskInfo, TaskState, TaskStatus } from '@kiln/contracts';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogProgress } from '../logs/log-shipper';
import { CheckpointSeal } from './checkpoint-seal';

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
 * One file per task under `<dataDir>/meta/tasks`, replaced atomically (write, fsync, rename): a
 * crash leaves either the old or the new checkpoint, never half of one. Writes are asynchronous,
 * so an fsync never stalls the agent's event loop, and serialized per task, so a later checkpoint
 * of a task can never be overtaken by an earlier one.
 *
 * A checkpoint holds the task's environment (its secrets), its log and artifact tokens and its
 * source credentials, which a restarted agent needs to carry on. So the files are root's only
 * (directories 0700, files 0600; no task is given `meta/`) and each is sealed with the agent's key
 * ({@link CheckpointSeal}): nothing of it is on disk in clear, for as long as the task lasts (its
 * file goes once its end is acknowledged). Clear checkpoints of older agents are read and sealed.
 */
export class TaskStore {
  private readonly dir: string;
  private readonly seal: CheckpointSeal;
  private readonly writes = new Map<string, Promise<void>>();

  constructor(dataDir: string) {
    const meta = join(dataDir, 'meta');
    this.dir = join(meta, 'tasks');
    for (const dir of [meta, this.dir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // mkdir leaves an existing directory (an older agent's, or one made under a lax umask) as
      // it was.
      chmodSync(dir, 0o700);
    }
    this.seal = CheckpointSeal.openOrCreate(join(meta, 'checkpoint.key'));
  }

  /** Resolves once the checkpoint, as it is now, is durable. */
  save(checkpoint: TaskCheckpoint): Promise<void> {
    const taskId = checkpoint.taskInfo.taskId;
    const sealed = this.seal.seal(JSON.stringify(checkpoint), taskId);
    return this.serialize(taskId, async () => {
      const file = this.file(taskId);
      const temporary = `${file}.tmp`;
      const handle = await open(temporary, 'w', 0o600);
      try {
        // A temporary file left by a crash keeps its mode through `open`: set it again.
        await handle.chmod(0o600);
        await handle.writeFile(sealed);
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

  /**
   * Every checkpoint on disk; unreadable ones (corrupt, tampered with, sealed under another key)
   * are reported and skipped, never fatal. Called once, at the start, before any `save`.
   */
  loadAll(onCorrupt: (file: string, error: unknown) => void): TaskCheckpoint[] {
    const checkpoints: TaskCheckpoint[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const taskId = name.slice(0, -'.json'.length);
      try {
        const content: unknown = JSON.parse(readFileSync(join(this.dir, name), 'utf8'));
        if (CheckpointSeal.isSealed(content)) {
          checkpoints.push(JSON.parse(this.seal.unseal(content, taskId)) as TaskCheckpoint);
        } else {
          const checkpoint = content as TaskCheckpoint;
          if (checkpoint.taskInfo.taskId !== taskId)
            throw new Error('not the checkpoint of its task');
          // An older agent's clear checkpoint: sealed now, before the agent does anything else.
          this.replaceSync(checkpoint);
          checkpoints.push(checkpoint);
        }
      } catch (error) {
        onCorrupt(name, error);
      }
    }
    return checkpoints;
  }

  private replaceSync(checkpoint: TaskCheckpoint): void {
    const taskId = checkpoint.taskInfo.taskId;
    const file = this.file(taskId);
    const temporary = `${file}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      chmodSync(temporary, 0o600);
      writeSync(fd, this.seal.seal(JSON.stringify(checkpoint), taskId));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  }

  private file(taskId: string): string {
    // Task ids are validated against ID_PATTERN at the edge: no path separators can reach here.
    return join(this.dir, `${taskId}.json`);
  }
}
