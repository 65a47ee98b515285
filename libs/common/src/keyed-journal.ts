import {
  chmodSync,
  close,
  closeSync,
  existsSync,
  fdatasync,
  fsyncSync,
  open as openFd,
  openSync,
  readFileSync,
  renameSync,
  write,
  writeSync,
} from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { promisify } from 'node:util';

const openAppending = promisify(openFd);
const writeAt = promisify(write);
const syncData = promisify(fdatasync);
const closeFd = promisify(close);

export interface KeyedJournalOptions {
  /** The field of each line's JSON object that names what the line is about. */
  keyField: string;
  /** The file's mode when made (and made again by compaction). */
  mode: number;
  /**
   * Whether a batch resolves only once it is on disk (one fdatasync per batch). Without it, a
   * batch is in the kernel's hands when it resolves: it survives the process, not the host.
   */
  durable: boolean;
}

/** A journal smaller than this is never compacted: rewriting it would cost more than it saves. */
const COMPACT_MIN_BYTES = 1024 * 1024;

/** A batch's line for each key it changes: what the key is now, or that it is gone. */
type Batch = { lines: Map<string, { line: string; removed: boolean }>; committed: Promise<void> };

/**
 * What a process keeps of many things in one file instead of a file for each: a JSON line per
 * change, the last line of a key being what it is now (or a line with `removed: true` saying it is
 * gone). A file per thing costs an inode made and one removed for each thing, which some file
 * systems make slow (ext4 without a journal scans the inodes it freed lately at each creation);
 * a line costs an append.
 *
 * Lines put within one turn of the event loop are written together, with one write (and, when
 * durable, one fdatasync: a group commit), and resolve once written; a key put twice in a batch is
 * written once, its last line holding all it needs. Batches are written one after the other, so a
 * later line of a key is never overtaken by an earlier one. The journal is rewritten with only the
 * live lines (write, fsync, rename) when it has grown to four times their size.
 */
export class KeyedJournal {
  /** Each live key's latest line. */
  private readonly live = new Map<string, string>();
  private liveBytes = 0;
  private journalBytes = 0;
  /**
   * The journal, open for appending: a descriptor, not a FileHandle, as it lives as long as its
   * owner, which may be dropped without closing it (Node warns of a FileHandle closed by the GC).
   */
  private fd: number | undefined;
  /** The batch still taking lines; it closes when its commit starts. */
  private open: Batch | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** Batches made and not yet written (or failed). */
  private unsettled = 0;
  /** A write failed part way: the file may end inside a line, which the next write ends. */
  private torn = false;

  constructor(
    readonly path: string,
    private readonly options: KeyedJournalOptions,
  ) {}

  /** Resolves once the line is written (durable, if the journal is). */
  put(key: string, line: string): Promise<void> {
    return this.enqueue(key, line, false);
  }

  /** Resolves once the key is gone from the journal for good. */
  remove(key: string): Promise<void> {
    return this.enqueue(key, JSON.stringify({ [this.options.keyField]: key, removed: true }), true);
  }

  /**
   * The latest line of every live key on disk, in the order the keys first appear. A line that
   * is no JSON object with a string key is reported by its number and skipped. Called once,
   * before any `put`; {@link resetSync} then says which of them are kept.
   */
  readSync(onCorrupt: (where: string, error: unknown) => void): Map<string, string> {
    const lines = new Map<string, string>();
    if (!existsSync(this.path)) return lines;
    const text = readFileSync(this.path, 'utf8');
    for (const [i, line] of text.split('\n').entries()) {
      if (line === '') continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown> | null;
        const key = entry?.[this.options.keyField];
        if (typeof key !== 'string') throw new Error(`a line without a ${this.options.keyField}`);
        if (entry?.removed === true) lines.delete(key);
        else lines.set(key, line);
      } catch (error) {
        onCorrupt(`journal line ${i + 1}`, error);
      }
    }
    return lines;
  }

  /** Makes `lines` the whole journal, at once and durably: what a start keeps of what it read. */
  resetSync(lines: ReadonlyMap<string, string>): void {
    // It would replace the file under a write under way, and lose that write.
    if (this.unsettled > 0)
      throw new Error(`${this.path} is being written: reset it before any put`);
    // An open handle would go on appending to the file this one replaces.
    void this.closeHandle();
    this.live.clear();
    this.liveBytes = 0;
    for (const [key, line] of lines) {
      this.live.set(key, line);
      this.liveBytes += Buffer.byteLength(line);
    }
    const temporary = `${this.path}.tmp`;
    const text = this.liveText();
    const fd = openSync(temporary, 'w', this.options.mode);
    try {
      // A temporary file left by a crash keeps its mode through `open`: set it again.
      chmodSync(temporary, this.options.mode);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
    this.journalBytes = Buffer.byteLength(text);
  }

  private enqueue(key: string, line: string, removed: boolean): Promise<void> {
    if (this.open === undefined) {
      const batch: Batch = { lines: new Map(), committed: Promise.resolve() };
      this.unsettled += 1;
      batch.committed = this.committing
        // The rest of this tick's lines join the batch before it is written.
        .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
        .then(() => {
          if (this.open === batch) this.open = undefined;
          return this.commit(batch.lines);
        })
        .finally(() => (this.unsettled -= 1));
      this.committing = batch.committed.catch(() => undefined);
      this.open = batch;
    }
    this.open.lines.delete(key); // the journal keeps the batch's order of keys
    this.open.lines.set(key, { line, removed });
    return this.open.committed;
  }

  private async commit(lines: Batch['lines']): Promise<void> {
    const text =
      (this.torn ? '\n' : '') + [...lines.values()].map(({ line }) => `${line}\n`).join('');
    this.fd ??= await openAppending(this.path, 'a', this.options.mode);
    try {
      const bytes = Buffer.from(text);
      for (let done = 0; done < bytes.length;) {
        done += (await writeAt(this.fd, bytes, done, bytes.length - done)).bytesWritten;
      }
      if (this.options.durable) await syncData(this.fd);
    } catch (error) {
      // Whatever part of the batch reached the file, the next write starts on a line of its own:
      // a line cut short is unreadable, not glued to the next one.
      this.torn = true;
      await this.closeHandle();
      throw error;
    }
    this.torn = false;
    this.journalBytes += Buffer.byteLength(text);
    for (const [key, { line, removed }] of lines) {
      this.liveBytes -= Buffer.byteLength(this.live.get(key) ?? '');
      if (removed) {
        this.live.delete(key);
      } else {
        this.live.set(key, line);
        this.liveBytes += Buffer.byteLength(line);
      }
    }
    if (this.journalBytes > COMPACT_MIN_BYTES && this.journalBytes > 4 * this.liveBytes) {
      await this.compact();
    }
  }

  /** Replaces the journal with one line per live key, atomically. */
  private async compact(): Promise<void> {
    await this.closeHandle();
    const temporary = `${this.path}.tmp`;
    const text = this.liveText();
    const handle = await open(temporary, 'w', this.options.mode);
    try {
      await handle.chmod(this.options.mode);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
    this.journalBytes = Buffer.byteLength(text);
  }

  private liveText(): string {
    return [...this.live.values()].map((line) => `${line}\n`).join('');
  }

  private async closeHandle(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await closeFd(fd);
  }
}
