import { describe, expect, it } from 'vitest';
import { IdPool } from './id-pool';

const OPTIONS = { firstHostId: 1_000_000, size: 65_536, count: 3 };

describe(IdPool.name, () => {
  it('gives each live container its own range, the lowest free one', () => {
    const pool = new IdPool(OPTIONS);
    expect(pool.take('a')).toEqual({ hostId: 1_000_000, size: 65_536 });
    expect(pool.take('b')).toEqual({ hostId: 1_065_536, size: 65_536 });
    expect(pool.take('a')).toEqual({ hostId: 1_000_000, size: 65_536 });

    pool.free('a');
    expect(pool.take('c')).toEqual({ hostId: 1_000_000, size: 65_536 });
  });

  it('hands a warm container range on to the task it runs, which then holds and frees it', () => {
    const pool = new IdPool(OPTIONS);
    const range = pool.take('warm-1');
    pool.rename('warm-1', 'task-1');
    expect(pool.take('task-1')).toEqual(range);
    expect(pool.take('warm-2')).not.toEqual(range);
    pool.free('warm-1');
    expect(pool.take('task-2')).not.toEqual(range);
    pool.free('task-1');
    expect(pool.take('task-3')).toEqual(range);
    expect(() => pool.rename('task-2', 'task-3')).toThrow(/already holds/);
  });

  it('refuses a container when every range is held, naming why', () => {
    const pool = new IdPool(OPTIONS);
    for (const id of ['a', 'b', 'c']) pool.take(id);
    expect(() => pool.take('d')).toThrow(/all 3 host id ranges are held by running containers/);
  });

  it('takes a recovered container range back, so no new container is given it', () => {
    const pool = new IdPool(OPTIONS);
    expect(pool.reclaim('old', 1_065_536)).toBe(true);
    expect(pool.take('new-1').hostId).toBe(1_000_000);
    expect(pool.take('new-2').hostId).toBe(1_131_072);
  });

  it('does not reclaim a range that is not one of its own or is held by another container', () => {
    const pool = new IdPool(OPTIONS);
    pool.take('a');
    expect(pool.reclaim('b', 1_000_000)).toBe(false);
    expect(pool.reclaim('b', 100_000)).toBe(false);
    expect(pool.reclaim('b', 1_000_001)).toBe(false);
    expect(pool.reclaim('b', 1_196_608)).toBe(false);
    expect(pool.take('b').hostId).toBe(1_065_536);
  });

  it('rejects a pool that is empty or runs past the highest host id', () => {
    expect(() => new IdPool({ ...OPTIONS, count: 0 })).toThrow(/count must be a positive integer/);
    expect(() => new IdPool({ firstHostId: 2 ** 32 - 65_536, size: 65_536, count: 2 })).toThrow(
      /past the highest host id/,
    );
  });
});
