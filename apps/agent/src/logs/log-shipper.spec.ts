import { LOG_CHUNK_MAX_BYTES } from '@kiln/contracts';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeLogSink } from './fake-log-sink';
import { chunkLength, LogShipper, type LogShipperOptions } from './log-shipper';

describe(LogShipper.name, () => {
  let dir: string;
  let file: string;
  let sink: FakeLogSink;
  const shippers: LogShipper[] = [];

  function ship(options: Partial<LogShipperOptions> = {}): LogShipper {
    const shipper = new LogShipper({
      taskId: 'task-1',
      sink: sink.sink,
      file,
      pollMs: 20,
      retryBaseMs: 10,
      retryMaxMs: 50,
      ...options,
    });
    shippers.push(shipper);
    return shipper;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-log-shipper-'));
    file = join(dir, 'stdout');
    sink = await FakeLogSink.start();
  });

  afterEach(async () => {
    await Promise.all(shippers.splice(0).map((s) => s.stop()));
    await sink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships whole lines as they are written, starting before the file exists', async () => {
    ship();
    writeFileSync(file, 'one\ntwo\nthr');
    await vi.waitFor(() => expect(sink.text).toBe('one\ntwo\n'));
    appendFileSync(file, 'ee\n');
    await vi.waitFor(() => expect(sink.text).toBe('one\ntwo\nthree\n'));
    expect(sink.chunks.every((c) => c.data.endsWith('\n'))).toBe(true);
    expect(sink.chunks.map((c) => c.seq)).toEqual(sink.chunks.map((_, i) => i));
  });

  it('sends the rest, even without a final newline, with eof once the task has ended', async () => {
    writeFileSync(file, 'done\nno newline');
    const shipper = ship();
    await vi.waitFor(() => expect(sink.text).toBe('done\n'));
    shipper.end();
    await expect(shipper.done).resolves.toBe('shipped');
    expect(sink.text).toBe('done\nno newline');
    expect(sink.chunks.at(-1)).toMatchObject({ offset: 5, bytes: 10, eof: true });
    expect(sink.complete).toBe(true);
  });

  it('never ships a file through a symbolic link, nor anything but a regular file', async () => {
    const secret = join(dir, 'secret');
    writeFileSync(secret, 'TOP SECRET\n');
    symlinkSync(secret, file);
    const linked = ship();
    linked.end();
    await expect(linked.done).resolves.toBe('stopped');
    rmSync(file);
    // A FIFO with no writer would block a plain open forever.
    execFileSync('mkfifo', [file]);
    const fifo = ship();
    fifo.end();
    await expect(fifo.done).resolves.toBe('stopped');
    expect(sink.chunks).toEqual([]);
  });

  it('sends an empty eof chunk when the task wrote nothing at all', async () => {
    const shipper = ship();
    shipper.end();
    await expect(shipper.done).resolves.toBe('shipped');
    expect(sink.chunks).toEqual([
      { taskId: 'task-1', seq: 0, offset: 0, bytes: 0, data: '', eof: true },
    ]);
  });

  it('cuts a line longer than a chunk at the last whole UTF-8 character', async () => {
    // 'a' then two-byte characters: byte LOG_CHUNK_MAX_BYTES falls inside one of them.
    const line = `a${'é'.repeat(LOG_CHUNK_MAX_BYTES / 2)}\n`;
    writeFileSync(file, line);
    const shipper = ship();
    shipper.end();
    await expect(shipper.done).resolves.toBe('shipped');
    expect(sink.text).toBe(line);
    const [first] = sink.chunks;
    expect(first?.bytes).toBe(LOG_CHUNK_MAX_BYTES - 1);
    expect(Buffer.byteLength(first?.data ?? '')).toBe(first?.bytes);
    expect(first?.data).not.toContain('\uFFFD');
  });

  it('moves to the offset a 409 names: rewinds when the sink has less than the cursor says', async () => {
    writeFileSync(file, 'first\nsecond\n');
    const shipper = ship({ from: { offset: 6, seq: 4 } });
    shipper.end();
    await expect(shipper.done).resolves.toBe('shipped');
    expect(sink.text).toBe('first\nsecond\n');
    expect(sink.chunks[0]).toMatchObject({ offset: 6, seq: 4 });
    expect(sink.chunks[1]).toMatchObject({ offset: 0, seq: 5 });
  });

  it('skips ahead when a 409 says the sink already has more', async () => {
    writeFileSync(file, 'seen\nnew\n');
    sink.overrides.push(() => ({ status: 409, body: { nextOffset: 5 } }));
    const shipper = ship();
    shipper.end();
    await expect(shipper.done).resolves.toBe('shipped');
    expect(sink.chunks[1]).toMatchObject({ offset: 5, data: 'new\n', eof: true });
  });

  it('sends again the part of a chunk the sink did not keep, from where it says it stands', async () => {
    writeFileSync(file, 'first line\n');
    sink.keepAtMost = 4;
    const shipper = ship();
    shipper.end();
    await expect(shipper.done).resolves.toBe('shipped');
    expect(sink.text).toBe('first line\n');
    expect(sink.chunks[1]).toMatchObject({ offset: 4, data: 't line\n', eof: true });
  });

  it('retries the same output after a 503 until the sink takes it', async () => {
    writeFileSync(file, 'line\n');
    sink.overrides.push(
      () => ({ status: 503 }),
      () => ({ status: 503 }),
    );
    const shipper = ship();
    shipper.end();
    await expect(shipper.done).resolves.toBe('shipped');
    expect(sink.text).toBe('line\n');
    expect(sink.chunks.map((c) => [c.offset, c.seq])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  });

  it('keeps retrying a failing sink until it is stopped', async () => {
    writeFileSync(file, 'line\n');
    const failing = () => ({ status: 500 });
    sink.overrides.push(...Array.from({ length: 1_000 }, () => failing));
    const shipper = ship();
    shipper.end();
    await vi.waitFor(() => expect(sink.chunks.length).toBeGreaterThanOrEqual(3));
    await expect(shipper.stop()).resolves.toBe('stopped');
    expect(sink.text).toBe('');
  });

  it('stops cleanly while the sink cannot be reached', async () => {
    writeFileSync(file, 'line\n');
    const shipper = ship({ sink: { url: 'http://127.0.0.1:1/logs', token: 't' } });
    shipper.end();
    await expect(shipper.stop()).resolves.toBe('stopped');
  });

  it('gives up on a log the sink refuses for good', async () => {
    writeFileSync(file, 'line\n');
    const shipper = ship({ sink: { ...sink.sink, token: 'wrong' } });
    await expect(shipper.done).resolves.toBe('refused');
    expect(sink.chunks).toEqual([]);
  });

  it('reports the cursor after every chunk the sink takes', async () => {
    writeFileSync(file, 'a\n');
    const progress = vi.fn();
    const shipper = ship({ onProgress: progress });
    await vi.waitFor(() => expect(progress).toHaveBeenCalledWith({ offset: 2, seq: 1 }));
    shipper.end();
    await shipper.done;
    expect(progress).toHaveBeenLastCalledWith({ offset: 2, seq: 2, done: true });
  });
});

describe(chunkLength.name, () => {
  it('ends a chunk after its last newline', () => {
    expect(chunkLength(Buffer.from('a\nb\nc'), 10)).toBe(4);
  });

  it('holds back a line shorter than a chunk until its newline', () => {
    expect(chunkLength(Buffer.from('abc'), 10)).toBe(0);
  });

  it('cuts a full buffer without a newline before a split character', () => {
    expect(chunkLength(Buffer.from('ab€').subarray(0, 4), 4)).toBe(2);
    expect(chunkLength(Buffer.from('a€'), 4)).toBe(4);
    expect(chunkLength(Buffer.from('abcd'), 4)).toBe(4);
  });
});
