import { randomBytes } from 'node:crypto';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readSandboxFile } from '../launching';

/** How an exit file is named: `exits-` and a name of its own, never a path. */
export const EXIT_FILE_PATTERN = /^exits-[0-9a-f]{16}$/;

/** Launches per exit file before the next launch opens a new one. */
const DEFAULT_LAUNCHES_PER_FILE = 10_000;

/** The most an exit file can hold: every line of its launches at their longest (an id of 200). */
const MAX_LINE_BYTES = 256;

/**
 * Where the wrappers of process containers write how their commands ended, so that an agent that
 * restarted can tell the exit code of a task that ended while it was away. A file per container
 * (as the sandbox's `.exit_code` was) costs an inode made and removed per task; here, a wrapper
 * appends one line, `<container id> <its pid> <code>`, to an exit file that the agent opened for
 * appending and handed it as its descriptor 3 (its command gets no descriptor 3).
 *
 * A wrapper writes to the file it was given, however long it lives, so a file is never rewritten:
 * after {@link launchesPerFile} launches the next launch opens a new one, and a file goes once it
 * is not the current one and no live container was given it. Which file a container was given is
 * part of its checkpoint. One agent per directory.
 */
export class ExitJournal {
  private current: { name: string; handle: FileHandle; launches: number } | undefined;
  private opening: Promise<{ name: string; handle: FileHandle }> | undefined;
  /** The live containers given each file. */
  private readonly holders = new Map<string, Set<string>>();

  constructor(
    private readonly dir: string,
    private readonly launchesPerFile = DEFAULT_LAUNCHES_PER_FILE,
  ) {}

  /**
   * The exit file for a container launched now: its name, for the checkpoint, and the descriptor
   * to hand its wrapper, open until {@link release} or the file's turn ends.
   */
  async take(containerId: string): Promise<{ name: string; fd: number }> {
    const { name, handle } = await this.currentFile();
    let holders = this.holders.get(name);
    if (holders === undefined) this.holders.set(name, (holders = new Set()));
    holders.add(containerId);
    return { name, fd: handle.fd };
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

  /** The exit code the wrapper of `containerId` (whose pid was `pid`) wrote to `name`, if any. */
  async read(
    name: string,
    containerId: string,
    pid: number,
  ): Promise<{ code: number } | undefined> {
    if (!EXIT_FILE_PATTERN.test(name)) return undefined;
    let text: string;
    try {
      text = await readSandboxFile(join(this.dir, name), this.launchesPerFile * MAX_LINE_BYTES);
    } catch {
      return undefined;
    }
    const prefix = `${containerId} ${pid} `;
    // The last whole line of this launch (an id and a pid together are not reused within a file);
    // what follows the last newline is a line still being written, or never finished.
    const line = text
      .split('\n')
      .slice(0, -1)
      .reverse()
      .find((l) => l.startsWith(prefix));
    const match = /^(\d{1,3})$/.exec(line?.slice(prefix.length) ?? '');
    return match ? { code: Number(match[1]) } : undefined;
  }

  /**
   * At the agent's start, before any launch: the files the recovered containers were given (by
   * container id) are kept for them, and every other one goes.
   */
  async recover(held: ReadonlyMap<string, string>): Promise<void> {
    for (const [containerId, name] of held) {
      let holders = this.holders.get(name);
      if (holders === undefined) this.holders.set(name, (holders = new Set()));
      holders.add(containerId);
    }
    const names = await readdir(this.dir).catch(() => []);
    await Promise.all(
      names
        .filter((name) => EXIT_FILE_PATTERN.test(name) && !this.holders.has(name))
        .map((name) => rm(join(this.dir, name), { force: true })),
    );
  }

  private async currentFile(): Promise<{ name: string; handle: FileHandle }> {
    const current = this.current;
    if (current !== undefined && current.launches < this.launchesPerFile) {
      current.launches += 1;
      return current;
    }
    // Launches at once share the opening of the next file.
    this.opening ??= this.openNext().finally(() => (this.opening = undefined));
    await this.opening;
    return this.currentFile();
  }

  private async openNext(): Promise<{ name: string; handle: FileHandle }> {
    const name = `exits-${randomBytes(8).toString('hex')}`;
    // Made anew (`ax`, appending): a name already there is nobody's to append to.
    const handle = await open(join(this.dir, name), 'ax', 0o600);
    const previous = this.current;
    this.current = { name, handle, launches: 0 };
    if (previous !== undefined) {
      // Its wrappers keep their own descriptors; the agent needs its own no more.
      await previous.handle.close();
      if ((this.holders.get(previous.name)?.size ?? 0) === 0) {
        this.holders.delete(previous.name);
        await rm(join(this.dir, previous.name), { force: true });
      }
    }
    return this.current;
  }
}
