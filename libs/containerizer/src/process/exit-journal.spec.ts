import {
  appendFileSync,
  fstatSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExitJournal } from './exit-journal';

describe(ExitJournal.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-exit-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function journal(launchesPerFile?: number): Promise<ExitJournal> {
    const made = new ExitJournal(dir, launchesPerFile);
    await made.prepare();
    return made;
  }

  it("reads the code of the container's own launch, whatever else the file holds", async () => {
    const exits = await journal();
    const { name, fd } = exits.take('task-1');
    writeSync(fd, 'task-1 100 3\n');
    writeSync(fd, 'task-10 200 4\n');
    writeSync(fd, 'task-1 300 5\n');

    expect(await exits.read(name, 'task-1', 100)).toEqual({ code: 3 });
    expect(await exits.read(name, 'task-1', 300)).toEqual({ code: 5 });
    expect(await exits.read(name, 'task-1', 200)).toBeUndefined();
    expect(await exits.read(name, 'task-10', 200)).toEqual({ code: 4 });
  });

  it('tells a launch whose wrapper never started its command from one that ended', async () => {
    const exits = await journal();
    const { name, fd } = exits.take('task-1');
    writeSync(fd, 'task-1 100 unstarted\n');
    writeSync(fd, 'task-2 200 125\n');
    writeSync(fd, 'task-3 300 started\n');

    expect(await exits.read(name, 'task-1', 100)).toEqual({ unstarted: true });
    expect(await exits.read(name, 'task-2', 200)).toEqual({ code: 125 });
    expect(await exits.read(name, 'task-3', 300)).toBeUndefined();
  });

  it('reads lines written after an earlier read', async () => {
    const exits = await journal();
    const { name, fd } = exits.take('task-1');
    expect(await exits.read(name, 'task-1', 100)).toBeUndefined();
    writeSync(fd, 'task-1 100 9\n');
    expect(await exits.read(name, 'task-1', 100)).toEqual({ code: 9 });
  });

  it('takes no half-written line, nor a name that is not one of its files', async () => {
    const exits = await journal();
    const { name, fd } = exits.take('task-1');
    writeSync(fd, 'task-1 100 1');
    expect(await exits.read(name, 'task-1', 100)).toBeUndefined();
    writeSync(fd, 'x\n');
    expect(await exits.read(name, 'task-1', 100)).toBeUndefined();

    writeFileSync(join(dir, '..', 'exits-elsewhere'), 'task-1 100 0\n');
    expect(await exits.read('../exits-elsewhere', 'task-1', 100)).toBeUndefined();
    rmSync(join(dir, '..', 'exits-elsewhere'));
  });

  it('opens a new file after its share of launches, and removes an old one once no live container holds it', async () => {
    const exits = await journal(2);
    const first = exits.take('a');
    await exits.prepare();
    expect(exits.take('b').name).toBe(first.name);
    await exits.prepare();
    const second = exits.take('c');
    expect(second.name).not.toBe(first.name);
    expect(readdirSync(dir).sort()).toEqual([first.name, second.name].sort());

    await exits.release('a', first.name);
    expect(readdirSync(dir)).toContain(first.name);
    await exits.release('b', first.name);
    expect(readdirSync(dir)).toEqual([second.name]);
    // The current file stays, held or not: the next launches are given it.
    await exits.release('c', second.name);
    expect(readdirSync(dir)).toEqual([second.name]);
  });

  it('keeps a file open for a spawn under way until the wrapper has it, across the next file', async () => {
    const exits = await journal(1);
    const taken = exits.take('a');
    const path = join(dir, taken.name);
    await exits.prepare();
    expect(exits.take('b').name).not.toBe(taken.name);
    // A spawn on another thread is yet to hand this descriptor on: it must still be this file's.
    expect(readlinkSync(`/proc/self/fd/${taken.fd}`)).toBe(path);

    taken.handedOver();
    await vi.waitFor(() => expect(descriptorPath(taken.fd)).not.toBe(path));
  });

  it('gives every launch the descriptor of the file it names, across new files', async () => {
    const exits = await journal(2);
    for (let i = 0; i < 5; i += 1) {
      await exits.prepare();
      const { name, fd } = exits.take(`task-${i}`);
      expect(fstatSync(fd).ino).toBe(statSync(join(dir, name)).ino);
    }
  });

  it('refuses to hand out a file before one is open', () => {
    expect(() => new ExitJournal(dir).take('a')).toThrow(/prepare/);
  });

  it('removes, at the start, the files no container found again holds', async () => {
    const held = 'exits-00000000000000aa';
    const stale = 'exits-00000000000000bb';
    for (const name of [held, stale, 'records']) appendFileSync(join(dir, name), '');
    const exits = new ExitJournal(dir);
    exits.hold('task-1', held);
    await exits.removeUnheld();

    expect(readdirSync(dir).sort()).toEqual([held, 'records']);
    await exits.prepare();
    const { name } = exits.take('task-2');
    await exits.release('task-1', held);
    expect(readdirSync(dir).sort()).toEqual([name, 'records'].sort());
  });
});

/** The file descriptor `fd` of this process is open on, if it is open. */
function descriptorPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}
