import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitJournal } from './exit-journal';

describe(ExitJournal.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-exit-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the code of the container's own launch, whatever else the file holds", async () => {
    const journal = new ExitJournal(dir);
    const { name, fd } = await journal.take('task-1');
    writeSync(fd, 'task-1 100 3\n');
    writeSync(fd, 'task-10 200 4\n');
    writeSync(fd, 'task-1 300 5\n');

    expect(await journal.read(name, 'task-1', 100)).toEqual({ code: 3 });
    expect(await journal.read(name, 'task-1', 300)).toEqual({ code: 5 });
    expect(await journal.read(name, 'task-1', 200)).toBeUndefined();
    expect(await journal.read(name, 'task-10', 200)).toEqual({ code: 4 });
  });

  it('takes no half-written line, nor a name that is not one of its files', async () => {
    const journal = new ExitJournal(dir);
    const { name, fd } = await journal.take('task-1');
    writeSync(fd, 'task-1 100 1');
    expect(await journal.read(name, 'task-1', 100)).toBeUndefined();
    writeSync(fd, 'x\n');
    expect(await journal.read(name, 'task-1', 100)).toBeUndefined();

    writeFileSync(join(dir, '..', 'exits-elsewhere'), 'task-1 100 0\n');
    expect(await journal.read('../exits-elsewhere', 'task-1', 100)).toBeUndefined();
    rmSync(join(dir, '..', 'exits-elsewhere'));
  });

  it('opens a new file after its share of launches, and removes an old one once no live container holds it', async () => {
    const journal = new ExitJournal(dir, 2);
    const first = await journal.take('a');
    expect((await journal.take('b')).name).toBe(first.name);
    const second = await journal.take('c');
    expect(second.name).not.toBe(first.name);
    expect(readdirSync(dir).sort()).toEqual([first.name, second.name].sort());

    await journal.release('a', first.name);
    expect(readdirSync(dir)).toContain(first.name);
    await journal.release('b', first.name);
    expect(readdirSync(dir)).toEqual([second.name]);
    // The current file stays, held or not: the next launches are given it.
    await journal.release('c', second.name);
    expect(readdirSync(dir)).toEqual([second.name]);
  });

  it('keeps, at recovery, the files recovered containers hold, and removes every other', async () => {
    const held = 'exits-00000000000000aa';
    const stale = 'exits-00000000000000bb';
    for (const name of [held, stale, 'records']) appendFileSync(join(dir, name), '');
    const journal = new ExitJournal(dir);
    await journal.recover(new Map([['task-1', held]]));

    expect(readdirSync(dir).sort()).toEqual([held, 'records']);
    const { name } = await journal.take('task-2');
    await journal.release('task-1', held);
    expect(readdirSync(dir).sort()).toEqual([name, 'records'].sort());
  });
});
