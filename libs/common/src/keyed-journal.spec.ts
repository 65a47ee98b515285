import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyedJournal } from './keyed-journal';

describe(KeyedJournal.name, () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-keyed-journal-'));
    path = join(dir, 'journal');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const journalOf = () => new KeyedJournal(path, { keyField: 'id', mode: 0o600, durable: false });
  const line = (id: string, value: number) => JSON.stringify({ id, value });

  it('writes the lines put in one turn together, a key once with its last line', async () => {
    const journal = journalOf();
    await Promise.all([journal.put('a', line('a', 1)), journal.put('b', line('b', 1))]);
    await Promise.all([journal.put('a', line('a', 2)), journal.put('a', line('a', 3))]);
    await journal.remove('b');

    const written = readFileSync(path, 'utf8').trim().split('\n');
    expect(written).toEqual([
      line('a', 1),
      line('b', 1),
      line('a', 3),
      '{"id":"b","removed":true}',
    ]);
    expect(journalOf().readSync(() => undefined)).toEqual(new Map([['a', line('a', 3)]]));
  });

  it('reports a line it cannot read by its number, and keeps the rest', () => {
    writeFileSync(path, `${line('a', 1)}\n{"no key":1}\nnot json\n`);
    const corrupt: string[] = [];

    expect(journalOf().readSync((where) => corrupt.push(where))).toEqual(
      new Map([['a', line('a', 1)]]),
    );
    expect(corrupt).toEqual(['journal line 2', 'journal line 3']);
  });

  it('refuses to be reset while lines are being written, which the reset would lose', async () => {
    const journal = journalOf();
    const writing = journal.put('a', line('a', 1));

    expect(() => journal.resetSync(new Map())).toThrow(/being written/);
    await writing;
    journal.resetSync(new Map());
    expect(readFileSync(path, 'utf8')).toBe('');
  });
});
