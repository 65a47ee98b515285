import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex';

describe(KeyedMutex.name, () => {
  /** A task that logs its start and end, and finishes when `finish` is called. */
  function task(log: string[], name: string) {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    return {
      run: async () => {
        log.push(`${name} start`);
        await finished;
        log.push(`${name} end`);
        return name;
      },
      finish: () => finish(),
    };
  }

  it('runs the tasks of a key one at a time, in the order they came', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const [a, b] = [task(log, 'a'), task(log, 'b')];
    const first = mutex.run('repo', a.run);
    const second = mutex.run('repo', b.run);
    await Promise.resolve();
    b.finish();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['a start']);
    a.finish();
    expect(await Promise.all([first, second])).toEqual(['a', 'b']);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end']);
  });

  it('runs the tasks of different keys side by side', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const [a, b] = [task(log, 'a'), task(log, 'b')];
    const both = Promise.all([mutex.run('one', a.run), mutex.run('two', b.run)]);
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['a start', 'b start']);
    a.finish();
    b.finish();
    await both;
  });

  it('goes on with the next task of a key after one fails, and gives the failure to its caller', async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run('repo', () => Promise.reject(new Error('fetch failed')));
    const next = mutex.run('repo', () => Promise.resolve('fetched'));
    await expect(failing).rejects.toThrow('fetch failed');
    await expect(next).resolves.toBe('fetched');
  });
});
