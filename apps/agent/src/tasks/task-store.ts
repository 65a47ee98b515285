import type { TaskInfo, TaskState, TaskStatus } from '@kiln/contracts';
import { KeyedJournal } from '@kiln/common';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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
 * The agent's task checkpoints, in one durable {@link KeyedJournal},
 * `<dataDir>/meta/tasks/journal`: a line per saved checkpoint (or per removed task), the last line
 * of a task being what it is now. Saves made within one turn of the event loop are committed
 * together with one fdatasync, and resolve once durable.
 *
 * A checkpoint holds the task's environment (its secrets), its log and artifact tokens and its
 * source credentials, which a restarted agent needs to carry on. So the files are root's only
 * (directories 0700, files 0600; no task is given `meta/`) and each checkpoint is sealed with the
 * agent's key and its task id ({@link CheckpointSeal}): nothing of it is on disk in clear, and a
 * line moved to another task does not open. Older agents kept a file per task (`<task>.json`,
 * sealed or in clear): the first start reads them into the journal and removes them.
 */
export class TaskStore {
  private readonly dir: string;
  private readonly journal: KeyedJournal;
  private readonly seal: CheckpointSeal;

  constructor(dataDir: string) {
    const meta = join(dataDir, 'meta');
    this.dir = join(meta, 'tasks');
    for (const dir of [meta, this.dir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // mkdir leaves an existing directory (an older agent's, or one made under a lax umask) as
      // it was.
      chmodSync(dir, 0o700);
    }
    this.journal = new KeyedJournal(join(this.dir, 'journal'), {
      keyField: 'taskId',
      mode: 0o600,
      durable: true,
    });
    this.seal = CheckpointSeal.openOrCreate(join(meta, 'checkpoint.key'));
  }

  /** Resolves once the checkpoint, as it is now, is durable. */
  save(checkpoint: TaskCheckpoint): Promise<void> {
    const taskId = checkpoint.taskInfo.taskId;
    const sealed = JSON.parse(this.seal.seal(JSON.stringify(checkpoint), taskId)) as unknown;
    return this.journal.put(taskId, JSON.stringify({ taskId, sealed }));
  }

  /** Resolves once the task is gone from the journal for good. */
  remove(taskId: string): Promise<void> {
    return this.journal.remove(taskId);
  }

  /**
   * Every checkpoint on disk; unreadable ones (corrupt, tampered with, sealed under another key)
   * are reported by task and skipped, never fatal. Called once, at the start, before any `save`;
   * it leaves the journal compacted, with the checkpoints of older agents in it.
   */
  loadAll(onCorrupt: (task: string, error: unknown) => void): TaskCheckpoint[] {
    const lines = this.journal.readSync(onCorrupt);
    const legacy = this.readLegacyFiles(lines, onCorrupt);
    const checkpoints: TaskCheckpoint[] = [];
    const kept = new Map<string, string>();
    for (const [taskId, line] of lines) {
      try {
        const { sealed } = JSON.parse(line) as { sealed?: unknown };
        if (!CheckpointSeal.isSealed(sealed)) throw new Error('not a sealed checkpoint');
        const checkpoint = JSON.parse(this.seal.unseal(sealed, taskId)) as TaskCheckpoint;
        if (checkpoint.taskInfo.taskId !== taskId)
          throw new Error('not the checkpoint of its task');
        checkpoints.push(checkpoint);
        kept.set(taskId, line);
      } catch (error) {
        onCorrupt(taskId, error);
      }
    }
    this.journal.resetSync(kept);
    // Only now that the journal holds them may the older agent's files go.
    for (const file of legacy) rmSync(file, { force: true });
    return checkpoints;
  }

  /** An older agent's file per task, sealed or in clear, as journal lines (the journal wins). */
  private readLegacyFiles(
    lines: Map<string, string>,
    onCorrupt: (task: string, error: unknown) => void,
  ): string[] {
    const files: string[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const taskId = name.slice(0, -'.json'.length);
      const file = join(this.dir, name);
      files.push(file);
      if (lines.has(taskId)) continue;
      try {
        const content: unknown = JSON.parse(readFileSync(file, 'utf8'));
        const sealed = CheckpointSeal.isSealed(content)
          ? content
          : (JSON.parse(this.seal.seal(JSON.stringify(content), taskId)) as unknown);
        lines.set(taskId, JSON.stringify({ taskId, sealed }));
      } catch (error) {
        onCorrupt(taskId, error);
      }
    }
    return files;
  }
}
