import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WarmContainers, type ContainerShape, type WarmContainer } from './warm-containers';

const SMALL: ContainerShape = { network: 'private', cpus: 0.5, memMiB: 64 };
const BIG: ContainerShape = { network: 'private', cpus: 0.5, memMiB: 128 };

describe(WarmContainers.name, () => {
  let dir: string;
  let made: WarmContainer[];
  let discarded: string[];
  let warnings: string[];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-warm-'));
    made = [];
    discarded = [];
    warnings = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A pool whose containers are directories with a file in them, made at once. */
  function pool(count = 1): WarmContainers<WarmContainer> {
    return new WarmContainers({
      count,
      dir: join(dir, 'warm'),
      refillAfterMs: 60_000,
      make: async (runcId, sandbox, shape) => {
        await mkdir(sandbox, { recursive: true });
        await writeFile(join(sandbox, 'made'), runcId);
        const container = { runcId, sandbox, shape };
        made.push(container);
        return container;
      },
      discard: (container) => {
        discarded.push(container.runcId);
        return rm(container.sandbox, { recursive: true, force: true });
      },
      warn: (message) => warnings.push(message),
    });
  }

  it('makes containers of the shape tasks last had once the task ends, and gives one to a task of it', async () => {
    const warm = pool(2);
    expect(await warm.take('t1', join(dir, 't1'), SMALL)).toBeUndefined();
    warm.wanted(SMALL, Promise.resolve());
    await vi.waitFor(() => expect(made).toHaveLength(2));
    const taken = await warm.take('t2', join(dir, 'sandboxes', 't2'), SMALL);
    expect(taken?.sandbox).toBe(join(dir, 'sandboxes', 't2'));
    expect(await readdir(join(dir, 'sandboxes', 't2'))).toEqual(['made']);
    expect(warm.holds(taken!.runcId)).toBe(false);
    expect(warm.claim('t2')).toBe(taken);
    expect(warm.claim('t2')).toBeUndefined();
    // Not one of another shape.
    expect(await warm.take('t3', join(dir, 't3'), BIG)).toBeUndefined();
  });

  it('discards the containers of a shape no task wants any more', async () => {
    const warm = pool();
    warm.wanted(SMALL, Promise.resolve());
    await vi.waitFor(() => expect(made).toHaveLength(1));
    warm.wanted(BIG, Promise.resolve());
    await vi.waitFor(() => expect(made).toHaveLength(2));
    expect(discarded).toEqual([made[0]!.runcId]);
    expect(made[1]!.shape).toEqual(BIG);
    expect(await warm.take('t1', join(dir, 't1'), BIG)).toBe(made[1]);
  });

  it('waits for the task that wanted it, but not past its time', async () => {
    vi.useFakeTimers();
    try {
      const warm = new WarmContainers({
        count: 1,
        dir,
        refillAfterMs: 1_000,
        make: (runcId, sandbox, shape) => {
          made.push({ runcId, sandbox, shape });
          return Promise.resolve({ runcId, sandbox, shape });
        },
        discard: () => Promise.resolve(),
        warn: () => undefined,
      });
      warm.wanted(SMALL, new Promise(() => undefined));
      await vi.advanceTimersByTimeAsync(999);
      expect(made).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(made).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps a container it could not give, for the next task', async () => {
    const warm = pool();
    warm.wanted(SMALL, Promise.resolve());
    await vi.waitFor(() => expect(made).toHaveLength(1));
    // A sandbox already there, with something in it.
    await mkdir(join(dir, 't1'));
    await writeFile(join(dir, 't1', 'left'), '');
    expect(await warm.take('t1', join(dir, 't1'), SMALL)).toBeUndefined();
    expect(warnings[0]).toMatch(/could not become t1's/);
    expect(await warm.take('t2', join(dir, 't2'), SMALL)).toBe(made[0]);
  });

  it('discards one being made once it is, when closed', async () => {
    let finish!: () => void;
    const warm = new WarmContainers({
      count: 1,
      dir,
      make: (runcId, sandbox, shape) =>
        new Promise<WarmContainer>(
          (resolve) => (finish = () => resolve({ runcId, sandbox, shape })),
        ),
      discard: (container) => {
        discarded.push(container.runcId);
        return Promise.resolve();
      },
      warn: () => undefined,
    });
    warm.wanted(SMALL, Promise.resolve());
    await vi.waitFor(() => expect(finish).toBeDefined());
    let settled = false;
    const closed = warm.close().then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    finish();
    await closed;
    expect(discarded).toHaveLength(1);
  });

  it('discards what waits when closed, and makes no more', async () => {
    const warm = pool();
    warm.wanted(SMALL, Promise.resolve());
    await vi.waitFor(() => expect(made).toHaveLength(1));
    await warm.close();
    expect(discarded).toEqual([made[0]!.runcId]);
    warm.wanted(SMALL, Promise.resolve());
    await new Promise((resolve) => setImmediate(resolve));
    expect(made).toHaveLength(1);
  });
});
