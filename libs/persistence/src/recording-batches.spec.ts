import { describe, expect, it } from 'vitest';
import { RecordingBatches } from './recording-batches';

/** A recording's value and what had to wait for its commit, as the build framework records. */
interface Recorded<T> {
  value: T;
  finish(): Promise<void>;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A `write` that records the size of each batch and waits for the test's `commits`. */
function writer(commits: Promise<void>[] = []) {
  const sizes: number[] = [];
  const write = async (recordings: ReadonlyArray<() => Promise<number>>) => {
    sizes.push(recordings.length);
    const values = await Promise.all(recordings.map((recording) => recording()));
    await commits.shift();
    return values.map((value): Recorded<number> => ({ value, finish: () => Promise.resolve() }));
  };
  return { sizes, write };
}

describe(RecordingBatches.name, () => {
  it('writes what was submitted in one turn together, in batches of at most maxSize', async () => {
    const { sizes, write } = writer();
    const batches = new RecordingBatches(write, { maxSize: 3, maxInFlight: 2 });
    const recorded = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => batches.submit(() => Promise.resolve(n))),
    );
    expect(recorded.map((r) => r.value)).toEqual([1, 2, 3, 4, 5]);
    expect(sizes).toEqual([3, 2]);
  });

  it('gathers what arrives while maxInFlight transactions are busy into the next one', async () => {
    const first = deferred();
    const { sizes, write } = writer([first.promise]);
    const batches = new RecordingBatches(write, { maxSize: 100, maxInFlight: 1 });
    const one = batches.submit(() => Promise.resolve(1));
    await new Promise((resolve) => setImmediate(resolve));
    const later = [2, 3, 4].map((n) => batches.submit(() => Promise.resolve(n)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sizes).toEqual([1]);
    first.resolve();
    expect((await Promise.all([one, ...later])).map((r) => r.value)).toEqual([1, 2, 3, 4]);
    expect(sizes).toEqual([1, 3]);
  });

  it('writes a failed batch again one recording at a time; only the failing one fails', async () => {
    let calls = 0;
    const batches = new RecordingBatches<() => Promise<number>, Recorded<number>>(
      async (recordings) => {
        calls += 1;
        if (recordings.length > 1) throw new Error('deadlock detected');
        const value = await recordings[0]!();
        return [{ value, finish: () => Promise.resolve() }];
      },
      { maxSize: 100, maxInFlight: 1 },
    );
    const results = await Promise.allSettled([
      batches.submit(() => Promise.resolve(1)),
      batches.submit(() => Promise.reject(new Error('no such job'))),
      batches.submit(() => Promise.resolve(3)),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.value : 'failed'))).toEqual([
      1,
      'failed',
      3,
    ]);
    expect(calls).toBe(4);
  });
});
