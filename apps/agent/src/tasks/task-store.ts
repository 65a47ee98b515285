import type { TaskInfo, TaskState, TaskStatus } from '@kiln/contracts';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { open, rename, type FileHandle } from 'node:fs/promises';
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

/** A journal smaller than this is never compacted: rewriting it would cost more than it saves. */
const COMPACT_MIN_BYTES = 1024 * 1024;

/** A batch's line for each task it changes: its checkpoint, or `removed` once it is gone. */
type Batch = { lines: Map<string, { line: string; removed: boolean }>; committed: Promise<void> };

/**
 * The agent's task checkpoints, in one journal, `<dataDir>/meta/tasks/journal`: a line per saved
 * checkpoint (or per removed task), the last line of a task being what it is now. Saves made
 * within one turn of the event loop are committed together, with one write and one fdatasync (a
 * group commit), and resolve once durable; a task saved twice in a batch is written once, as its
 * latest checkpoint holds all the earlier one did. Batches are committed one after the other, so
 * a later checkpoint of a task can never be overtaken by an earlier one. The journal is rewritten
 * with only the live tasks (write, fsync, rename) when it has grown to four times their size.
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
  private readonly journalPath: string;
  private readonly seal: CheckpointSeal;
  /** Each live task's latest journal line. */
  private readonly live = new Map<string, string>();
  private liveBytes = 0;
  private journalBytes = 0;
  private journal: FileHandle | undefined;
  /** The batch still taking saves; it closes when its commit starts. */
  private open: Batch | undefined;
  private committing: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    const meta = join(dataDir, 'meta');
    this.dir = join(meta, 'tasks');
    for (const dir of [meta, this.dir]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // mkdir leaves an existing directory (an older agent's, or one made under a lax umask) as
      // it was.
      chmodSync(dir, 0o700);
    }
    this.journalPath = join(this.dir, 'journal');
    this.seal = CheckpointSeal.openOrCreate(join(meta, 'checkpoint.key'));
  }

  /** Resolves once the checkpoint, as it is now, is durable. */
  save(checkpoint: TaskCheckpoint): Promise<void> {
    const taskId = checkpoint.taskInfo.taskId;
    const sealed = JSON.parse(this.seal.seal(JSON.stringify(checkpoint), taskId)) as unknown;
    return this.enqueue(taskId, JSON.stringify({ taskId, sealed }), false);
  }

  /** Resolves once the task is gone from the journal for good. */
  remove(taskId: string): Promise<void> {
    return this.enqueue(taskId, JSON.stringify({ taskId, removed: true }), true);
  }

  private enqueue(taskId: string, line: string, removed: boolean): Promise<void> {
    if (this.open === undefined) {
      const batch: Batch = { lines: new Map(), committed: Promise.resolve() };
      batch.committed = this.committing
        // The rest of this tick's saves join the batch before it is written.
        .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
        .then(() => {
          if (this.open === batch) this.open = undefined;
          return this.commit(batch.lines);
        });
      this.committing = batch.committed.catch(() => undefined);
      this.open = batch;
    }
    this.open.lines.delete(taskId); // the journal keeps the batch's order of tasks
    this.open.lines.set(taskId, { line, removed });
    return this.open.committed;
  }

  private async commit(lines: Batch['lines']): Promise<void> {
    const text = [...lines.values()].map(({ line }) => `${line}\n`).join('');
    this.journal ??= await open(this.journalPath, 'a', 0o600);
    try {
      await this.journal.write(text);
      await this.journal.datasync();
    } catch (error) {
      // Whatever part of the batch reached the file, the next write starts on a line of its own.
      await this.closeJournal();
      throw error;
    }
    this.journalBytes += Buffer.byteLength(text);
    for (const [taskId, { line, removed }] of lines) {
      this.liveBytes -= Buffer.byteLength(this.live.get(taskId) ?? '');
      if (removed) {
        this.live.delete(taskId);
      } else {
        this.live.set(taskId, line);
        this.liveBytes += Buffer.byteLength(line);
      }
    }
    if (this.journalBytes > COMPACT_MIN_BYTES && this.journalBytes > 4 * this.liveBytes) {
      await this.compact();
    }
  }

  /** Replaces the journal with one line per live task, atomically. */
  private async compact(): Promise<void> {
    await this.closeJournal();
    const temporary = `${this.journalPath}.tmp`;
    const text = this.liveText();
    const handle = await open(temporary, 'w', 0o600);
    try {
      // A temporary file left by a crash keeps its mode through `open`: set it again.
      await handle.chmod(0o600);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.journalPath);
    this.journalBytes = Buffer.byteLength(text);
  }

  /** The journal as compaction leaves it: a line per live task. */
  private liveText(): string {
    return [...this.live.values()].map((line) => `${line}\n`).join('');
  }

  private async closeJournal(): Promise<void> {
    const journal = this.journal;
    this.journal = undefined;
    await journal?.close();
  }

  /**
   * Every checkpoint on disk; unreadable ones (corrupt, tampered with, sealed under another key)
   * are reported by task and skipped, never fatal. Called once, at the start, before any `save`;
   * it leaves the journal compacted, with the checkpoints of older agents in it.
   */
  loadAll(onCorrupt: (task: string, error: unknown) => void): TaskCheckpoint[] {
    const lines = new Map<string, string>();
    if (existsSync(this.journalPath)) {
      const text = readFileSync(this.journalPath, 'utf8');
      for (const [i, line] of text.split('\n').entries()) {
        if (line === '') continue;
        try {
          const entry = JSON.parse(line) as { taskId?: unknown; removed?: unknown };
          if (typeof entry.taskId !== 'string') throw new Error('a line without a task id');
          if (entry.removed === true) lines.delete(entry.taskId);
          else lines.set(entry.taskId, line);
        } catch (error) {
          onCorrupt(`journal line ${i + 1}`, error);
        }
      }
    }
    const legacy = this.readLegacyFiles(lines, onCorrupt);
    const checkpoints: TaskCheckpoint[] = [];
    this.live.clear();
    this.liveBytes = 0;
    for (const [taskId, line] of lines) {
      try {
        const { sealed } = JSON.parse(line) as { sealed?: unknown };
        if (!CheckpointSeal.isSealed(sealed)) throw new Error('not a sealed checkpoint');
        const checkpoint = JSON.parse(this.seal.unseal(sealed, taskId)) as TaskCheckpoint;
        if (checkpoint.taskInfo.taskId !== taskId)
          throw new Error('not the checkpoint of its task');
        checkpoints.push(checkpoint);
        this.live.set(taskId, line);
        this.liveBytes += Buffer.byteLength(line);
      } catch (error) {
        onCorrupt(taskId, error);
      }
    }
    this.compactSync();
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

  private compactSync(): void {
    // An open journal would go on appending to the file this one replaces.
    void this.closeJournal();
    const temporary = `${this.journalPath}.tmp`;
    const text = this.liveText();
    const fd = openSync(temporary, 'w', 0o600);
    try {
      chmodSync(temporary, 0o600);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.journalPath);
    this.journalBytes = Buffer.byteLength(text);
  }
}
