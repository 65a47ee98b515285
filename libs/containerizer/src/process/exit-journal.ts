import { randomBytes } from 'node:crypto';
import { close, open } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readSandboxFile } from '../launching';
import { UNSTARTED } from './wrapper';

/** A wrapper's line: `<container id> <its pid> <code, or unstarted>`. */
const EXIT_LINE = new RegExp(`^(\\S+ \\d+) (\\d{1,3}|${UNSTARTED})$`);

/** What a wrapper wrote of its command: how it ended, or that it never started. */
export type RecordedEnd = { code: number } | { unstarted: true };

/** The exit file launches are given now. */
interface ExitFile {
  name: string;
  /** Open for appending: a descriptor, not a FileHandle (see ExitJournal.current). */
  fd: number;
  launches: number;
  /** Spawns it was given to that do not hold their own copy of the descriptor yet. */
  pins: number;
}

/** How an exit file is named: `exits-` and a name of its own, never a path. */
export const EXIT_FILE_PATTERN = /^exits-[0-9a-f]{16}$/;

const openFile = promisify(open);
const closeFile = promisify(close);

/** Launches per exit file before the next launch opens a new one. */
const DEFAULT_LAUNCHES_PER_FILE = 10_000;

/**
 * The most of an exit file read: far more than its launches write (about 2 MB at their longest),
 * and a bound on what a file grown by other writers costs a recovery.
 */
const MAX_READ_BYTES = 16 * 1024 * 1024;

/**
 * Where the wrappers of process containers write how their commands ended, so that an agent that
 * restarted can tell the exit code of a task that ended while it was away. A file per container
 * (as the sandbox's `.exit_code` was) costs an inode made and removed per task; here, a wrapper
 * appends one line, `<container id> <its pid> <code>`, to an exit file that the agent opened for
 * appending and handed it as its descriptor 3 (its command gets no descriptor 3); a wrapper whose
 * agent died before its go writes `unstarted` for the code.
 *
 * A wrapper writes to the file it was given, however long it lives, so a file is never rewritten:
 * after about {@link launchesPerFile} launches the next one is opened, and a file goes once it is
 * not the current one and no live container holds it. Which file a container was given is part of
 * its checkpoint. One agent per directory.
 */
export class ExitJournal {
  /**
   * The file launches are given now, open for appending: a descriptor, not a FileHandle, as the
   * agent keeps it for its life, and tests drop containerizers without closing anything.
   */
  private current: ExitFile | undefined;
  private opening: Promise<void> | undefined;
  /** The live containers given each file. */
  private readonly holders = new Map<string, Set<string>>();
  /** The file last read, parsed, while it has not grown: a recovery reads one file for many. */
  private parsed: { name: string; size: number; ends: Map<string, RecordedEnd> } | undefined;

  constructor(
    private readonly dir: string,
    private readonly launchesPerFile = DEFAULT_LAUNCHES_PER_FILE,
  ) {}

  /**
   * Counts a launch on the current file, opening the first, or the next once the current has had
   * its share. Launches at once may then be given a later file than the one they were counted on,
   * so the share is approximate; what matters is that a file stops growing.
   */
  async prepare(): Promise<void> {
    while (this.current === undefined || this.current.launches >= this.launchesPerFile) {
      // Launches at once share the opening of the next file.
      this.opening ??= this.openNext().finally(() => (this.opening = undefined));
      await this.opening;
    }
    this.current.launches += 1;
  }

  /**
   * The exit file for a container launched now: its name, for the checkpoint, and the descriptor
   * to hand its wrapper, which stays open until `handedOver` says the wrapper has its own copy
   * (spawned, or failed to be). A spawn is asynchronous (another thread makes it), and the
   * descriptor of a file closed meanwhile could by then be another file's: the wrapper would
   * write its exit there, and hand it on.
   */
  take(containerId: string): { name: string; fd: number; handedOver: () => void } {
    const current = this.current;
    if (current === undefined) throw new Error('no exit file is open: prepare() comes first');
    this.hold(containerId, current.name);
    current.pins += 1;
    let handed = false;
    const handedOver = (): void => {
      if (handed) return;
      handed = true;
      current.pins -= 1;
      // Not current any more, and this was the last spawn it was given to: nothing else will be.
      if (current.pins === 0 && current !== this.current)
        void closeFile(current.fd).catch(() => {});
    };
    return { name: current.name, fd: current.fd, handedOver };
  }

  /** A container the agent found again at its start holds the file its checkpoint names. */
  hold(containerId: string, name: string): void {
    let holders = this.holders.get(name);
    if (holders === undefined) this.holders.set(name, (holders = new Set()));
    holders.add(containerId);
  }

  /** The container is gone: a file that is not current and no live container holds goes. */
  async release(containerId: string, name: string): Promise<void> {
    const holders = this.holders.get(name);
    holders?.delete(containerId);
    if (holders?.size === 0 && this.current?.name !== name) {
      this.holders.delete(name);
      await rm(join(this.dir, name), { force: true });
    }
  }

  /**
   * At the agent's start, once the containers it found again hold their files: every other exit
   * file goes (their containers are gone, and so is anyone to read them).
   */
  async removeUnheld(): Promise<void> {
    const names = await readdir(this.dir).catch(() => []);
    await Promise.all(
      names
        .filter((name) => EXIT_FILE_PATTERN.test(name))
        .filter((name) => !this.holders.has(name) && this.current?.name !== name)
        .map((name) => rm(join(this.dir, name), { force: true })),
    );
  }

  /**
   * How the wrapper of `containerId` (whose pid was `pid`) wrote to `name` that its command
   * ended, or that it never started; undefined if it wrote neither.
   */
  async read(name: string, containerId: string, pid: number): Promise<RecordedEnd | undefined> {
    return (await this.endsOf(name))?.get(`${containerId} ${pid}`);
  }

  /** Every launch's end in the file, by `<container id> <pid>`; the last line wins. */
  private async endsOf(name: string): Promise<Map<string, RecordedEnd> | undefined> {
    if (!EXIT_FILE_PATTERN.test(name)) return undefined;
    const path = join(this.dir, name);
    let text: string;
    let size: number;
    try {
      size = (await stat(path)).size;
      if (this.parsed?.name === name && this.parsed.size === size) return this.parsed.ends;
      text = await readSandboxFile(path, Math.min(size, MAX_READ_BYTES));
    } catch {
      return undefined;
    }
    const ends = new Map<string, RecordedEnd>();
    // What follows the last newline is a line still being written, or never finished.
    for (const line of text.split('\n').slice(0, -1)) {
      const match = EXIT_LINE.exec(line);
      if (match?.[1] === undefined || match[2] === undefined) continue;
      ends.set(match[1], match[2] === UNSTARTED ? { unstarted: true } : { code: Number(match[2]) });
    }
    this.parsed = { name, size, ends };
    return ends;
  }

  private async openNext(): Promise<void> {
    const name = `exits-${randomBytes(8).toString('hex')}`;
    // Made anew (`ax`, appending): a name already there is nobody's to append to.
    const fd = await openFile(join(this.dir, name), 'ax', 0o600);
    const previous = this.current;
    this.current = { name, fd, launches: 0, pins: 0 };
    if (previous !== undefined) {
      // Its wrappers have their own descriptors, and no launch can take it any more; one still
      // being spawned closes it once spawned (see take).
      if (previous.pins === 0) await closeFile(previous.fd);
      if ((this.holders.get(previous.name)?.size ?? 0) === 0) {
        this.holders.delete(previous.name);
        await rm(join(this.dir, previous.name), { force: true });
      }
    }
  }
}
