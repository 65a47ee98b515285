import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '@kiln/persistence/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  TaskLogsRepository,
  type IncomingLogChunk,
  type RenderLog,
  type TaskStepEvent,
} from './task-logs.repository';

/** Stores the data as it is, and records what it was asked to render. */
function recorder(): RenderLog & { calls: [string, number][] } {
  const calls: [string, number][] = [];
  const render = (data: string, firstLine: number) => {
    calls.push([data, firstLine]);
    return { text: data, steps: [] };
  };
  return Object.assign(render, { calls });
}

const plain: RenderLog = (data) => ({ text: data, steps: [] });

function chunk(offset: number, data: string, eof = false): IncomingLogChunk {
  return { offset, bytes: Buffer.byteLength(data), data, eof };
}

describe.each(TEST_DIALECTS)(`${TaskLogsRepository.name} on %s`, (dialect) => {
  let database: TestDatabase;
  let logs: TaskLogsRepository;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    logs = new TaskLogsRepository(database);
  });
  afterEach(() => database.drop());

  async function text(taskId: string): Promise<string> {
    return (await logs.readFromOffset(taskId, 0, 1000)).map((c) => c.text).join('');
  }

  it('appends contiguous chunks and numbers their lines', async () => {
    const first = await logs.append('t1', chunk(0, 'one\ntwo\n'), plain);
    expect(first).toMatchObject({
      outcome: 'appended',
      nextOffset: 8,
      chunk: { taskId: 't1', offset: 0, bytes: 8, firstLine: 1, lineCount: 2, eof: false },
      steps: [],
    });
    await logs.append('t1', chunk(8, 'three\nfo'), plain);
    const last = await logs.append('t1', chunk(16, 'ur\n', true), plain);
    expect(last).toMatchObject({ chunk: { firstLine: 4, lineCount: 1, eof: true } });
    expect(await text('t1')).toBe('one\ntwo\nthree\nfour\n');
    expect(await logs.tail('t1')).toEqual({ nextOffset: 19, nextLine: 5, eof: true });
    expect(await logs.isComplete('t1')).toBe(true);
    expect(await logs.tail('other')).toEqual({ nextOffset: 0, nextLine: 1, eof: false });
  });

  it('tells the renderer whether the data continues a line the stored text left unended', async () => {
    const inLine: boolean[] = [];
    const render: RenderLog = (data, _firstLine, _range, continues) => {
      inLine.push(continues);
      return { text: data.replace('drop\n', ''), steps: [] };
    };
    await logs.append('t1', chunk(0, 'a long line, cut'), render);
    await logs.append('t1', chunk(16, ' and ended\n'), render);
    await logs.append('t1', chunk(27, 'é cut'), render);
    // A chunk that stores no text leaves the line as it was.
    await logs.append('t1', chunk(33, 'drop\n'), render);
    await logs.append('t1', chunk(38, '\n', true), render);
    expect(inLine).toEqual([false, true, false, true, true]);
    expect(await text('t1')).toBe('a long line, cut and ended\né cut\n');
  });

  it('keeps only the unseen suffix of an overlapping resend, counting bytes, not characters', async () => {
    await logs.append('t1', chunk(0, 'héllo\n'), plain);
    const render = recorder();
    const resend = await logs.append('t1', chunk(0, 'héllo\nwörld\n'), render);
    expect(render.calls).toEqual([['wörld\n', 2]]);
    expect(resend).toMatchObject({
      outcome: 'appended',
      nextOffset: 14,
      chunk: { offset: 7, bytes: 7, firstLine: 2 },
    });
    expect(await text('t1')).toBe('héllo\nwörld\n');
  });

  it('stores nothing of a resend it cannot cut exactly, and says where the log ends', async () => {
    await logs.append('t1', chunk(0, 'one\n'), plain);
    // Raw bytes 'one\n' + 0xFF 0xFF + '\n': the decoding is longer than the bytes.
    const resend = { offset: 0, bytes: 7, data: 'one\n\uFFFD\uFFFD\n', eof: false };
    expect(await logs.append('t1', resend, plain)).toEqual({ outcome: 'seen', nextOffset: 4 });
    expect(await text('t1')).toBe('one\n');
    const rest = { offset: 4, bytes: 3, data: '\uFFFD\uFFFD\n', eof: true };
    expect(await logs.append('t1', rest, plain)).toMatchObject({ outcome: 'appended' });
    expect(await text('t1')).toBe('one\n\uFFFD\uFFFD\n');
  });

  it('stores a NUL of the output as U+FFFD, which any text column holds', async () => {
    expect(await logs.append('t1', chunk(0, 'binary \0 here\nnext\n'), plain)).toMatchObject({
      outcome: 'appended',
      chunk: { lineCount: 2 },
    });
    expect(await text('t1')).toBe('binary \uFFFD here\nnext\n');
  });

  it('starts a new row of dropped output before one would count more bytes than it can', async () => {
    const dropped: RenderLog = () => ({ text: '', steps: [] });
    await logs.append('t1', chunk(0, 'kept\n'), plain);
    await logs.append('t1', chunk(5, 'gone\n'), dropped);
    // As if 2 GiB had been dropped since: the row's count just under what the column holds.
    const nearly = 2 ** 31 - 51;
    await database.db
      .updateTable('task_logs')
      .set({ bytes: nearly })
      .where('task_id', '=', 't1')
      .where('byte_offset', '=', 5)
      .execute();
    const next = await logs.append('t1', chunk(5 + nearly, 'x'.repeat(140)), dropped);
    expect(next).toMatchObject({ outcome: 'appended', nextOffset: 5 + nearly + 140 });
    expect(await logs.tail('t1')).toMatchObject({ nextOffset: 5 + nearly + 140 });
  });

  it('ignores a chunk it has seen entirely', async () => {
    await logs.append('t1', chunk(0, 'a\nb\n'), plain);
    const render = recorder();
    expect(await logs.append('t1', chunk(0, 'a\nb\n'), render)).toEqual({
      outcome: 'seen',
      nextOffset: 4,
    });
    expect(await logs.append('t1', chunk(2, 'b\n'), render)).toEqual({
      outcome: 'seen',
      nextOffset: 4,
    });
    expect(render.calls).toEqual([]);
    expect(await logs.readFromOffset('t1', 0)).toHaveLength(1);
  });

  it('refuses a gap, naming the offset it expects', async () => {
    await logs.append('t1', chunk(0, 'a\n'), plain);
    expect(await logs.append('t1', chunk(5, 'x\n'), plain)).toEqual({
      outcome: 'gap',
      nextOffset: 2,
    });
    expect(await logs.append('t2', chunk(1, 'x\n'), plain)).toEqual({
      outcome: 'gap',
      nextOffset: 0,
    });
    expect(await text('t1')).toBe('a\n');
  });

  it('stores an eof sent again on seen bytes, and nothing after the eof', async () => {
    await logs.append('t1', chunk(0, 'a\n'), plain);
    const eof = await logs.append('t1', chunk(0, 'a\n', true), plain);
    expect(eof).toMatchObject({ outcome: 'appended', chunk: { offset: 2, bytes: 0, eof: true } });
    expect(await logs.append('t1', chunk(2, 'late\n'), plain)).toEqual({
      outcome: 'seen',
      nextOffset: 2,
    });
    expect(await logs.isComplete('t1')).toBe(true);
    expect(await text('t1')).toBe('a\n');
  });

  it('stores a chunk once when the same chunk is appended concurrently', async () => {
    const first = chunk(0, 'line\n'.repeat(100));
    const longer = chunk(0, 'line\n'.repeat(150));
    const results = await Promise.all([
      logs.append('t1', first, plain),
      logs.append('t1', first, plain),
      logs.append('t1', longer, plain),
      logs.append('t1', first, plain),
    ]);
    expect(results.every((r) => r.outcome !== 'gap')).toBe(true);
    expect(await text('t1')).toBe('line\n'.repeat(150));
    const chunks = await logs.readFromOffset('t1', 0, 100);
    expect(chunks.map((c) => c.offset + c.bytes).at(-1)).toBe(750);
    expect(chunks.reduce((sum, c) => sum + c.lineCount, 0)).toBe(150);
  });

  it('reads from a byte offset and from a line number', async () => {
    await logs.append('t1', chunk(0, '1\n2\n'), plain);
    await logs.append('t1', chunk(4, '3\n4\n'), plain);
    await logs.append('t1', chunk(8, '5\n', true), plain);
    const offsets = async (from: number, limit?: number) =>
      (await logs.readFromOffset('t1', from, limit)).map((c) => c.offset);
    expect(await offsets(0)).toEqual([0, 4, 8]);
    expect(await offsets(4)).toEqual([4, 8]);
    expect(await offsets(5)).toEqual([4, 8]);
    expect(await offsets(10)).toEqual([]);
    expect(await offsets(0, 2)).toEqual([0, 4]);
    const lines = async (from: number) =>
      (await logs.readFromLine('t1', from)).map((c) => c.firstLine);
    expect(await lines(1)).toEqual([1, 3, 5]);
    expect(await lines(4)).toEqual([3, 5]);
    expect(await lines(5)).toEqual([3, 5]);
    expect(await lines(7)).toEqual([]);
  });

  it('records the steps a chunk starts and ends, in the same transaction', async () => {
    const withSteps =
      (events: TaskStepEvent[]): RenderLog =>
      (data) => ({ text: data, steps: events });
    const at = new Date('2026-03-04T05:06:07.000Z');
    const first = await logs.append(
      't1',
      chunk(0, 'a\n'),
      withSteps([{ kind: 'start', idx: 0, name: 'build', firstLine: 1 }]),
      at,
    );
    expect(first).toMatchObject({
      steps: [{ idx: 0, name: 'build', firstLine: 1, exitCode: null, finishedAt: null }],
    });
    const second = await logs.append(
      't1',
      chunk(2, 'b\n'),
      withSteps([
        { kind: 'end', idx: 0, exitCode: 0 },
        { kind: 'start', idx: 1, name: 'test', firstLine: 2 },
        { kind: 'end', idx: 1, exitCode: 3 },
      ]),
      at,
    );
    expect(second).toMatchObject({
      steps: [
        { idx: 0, exitCode: 0, finishedAt: at },
        { idx: 1, name: 'test', exitCode: 3, startedAt: at, finishedAt: at },
      ],
    });
    expect(await logs.listSteps('t1')).toEqual([
      {
        taskId: 't1',
        idx: 0,
        name: 'build',
        firstLine: 1,
        exitCode: 0,
        startedAt: at,
        finishedAt: at,
      },
      {
        taskId: 't1',
        idx: 1,
        name: 'test',
        firstLine: 2,
        exitCode: 3,
        startedAt: at,
        finishedAt: at,
      },
    ]);
  });

  it('starts a step once and ends only a started step', async () => {
    expect(await logs.endStep('t1', 0, 1)).toBeUndefined();
    expect(await logs.startStep('t1', { idx: 0, name: 'a', firstLine: 1 })).toMatchObject({
      idx: 0,
    });
    expect(await logs.startStep('t1', { idx: 0, name: 'b', firstLine: 9 })).toBeUndefined();
    expect(await logs.endStep('t1', 0, 1)).toMatchObject({ exitCode: 1 });
    expect(await logs.endStep('t1', 0, 2)).toBeUndefined();
    expect(await logs.listSteps('t1')).toMatchObject([{ name: 'a', firstLine: 1, exitCode: 1 }]);
  });

  it('keeps output that stores no text in one row, ending it like any other', async () => {
    // What a log limit leaves: text, then output of which only the step boundaries are kept.
    const dropped: RenderLog = (data) => ({
      text: '',
      steps: data.startsWith('end') ? [{ kind: 'end', idx: 0, exitCode: 2 }] : [],
    });
    await logs.startStep('t1', { idx: 0, name: 'build', firstLine: 1 });
    await logs.append('t1', chunk(0, 'kept\n'), plain);
    const first = await logs.append('t1', chunk(5, 'gone\n'), dropped);
    const second = await logs.append('t1', chunk(10, 'more\n'), dropped);
    const last = await logs.append('t1', chunk(15, 'end\n', true), dropped);
    expect([first, second, last]).toMatchObject([
      { outcome: 'appended', nextOffset: 10, chunk: { offset: 5, bytes: 5, text: '' } },
      { outcome: 'appended', nextOffset: 15, chunk: { offset: 10, bytes: 5, eof: false } },
      {
        outcome: 'appended',
        nextOffset: 19,
        chunk: { offset: 15, bytes: 4, firstLine: 2, eof: true },
        steps: [{ idx: 0, exitCode: 2 }],
      },
    ]);
    const rows = await database.db
      .selectFrom('task_logs')
      .select(['byte_offset', 'bytes', 'text', 'eof'])
      .orderBy('byte_offset')
      .execute();
    expect(rows.map((r) => [Number(r.byte_offset), r.bytes, r.text, r.eof])).toEqual([
      [0, 5, 'kept\n', 0],
      [5, 14, '', 1],
    ]);
    expect(await logs.tail('t1')).toEqual({ nextOffset: 19, nextLine: 2, eof: true });
    expect(await logs.append('t1', chunk(10, 'more\n'), dropped)).toEqual({
      outcome: 'seen',
      nextOffset: 19,
    });
    expect(await text('t1')).toBe('kept\n');
    expect(await logs.readFromOffset('t1', 12)).toMatchObject([{ offset: 5, eof: true }]);
  });
});
