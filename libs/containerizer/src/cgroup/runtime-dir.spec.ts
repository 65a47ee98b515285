import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeRuntimeDir } from './runtime-dir';

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('makeRuntimeDir', () => {
  let top: string;
  beforeEach(async () => {
    top = await mkdtemp(join(tmpdir(), 'kiln-runtime-dir-'));
    await chmod(top, 0o755);
  });
  afterEach(() => rm(top, { recursive: true, force: true }));

  it('makes every level from the base down searchable, even levels an earlier agent left 0700', async () => {
    const base = join(top, 'kiln');
    await mkdir(join(base, 'cgroup'), { recursive: true, mode: 0o700 });
    await chmod(base, 0o700);
    const dir = join(base, 'cgroup', 'kiln+agent');
    await makeRuntimeDir(dir, base);
    expect(await modeOf(base)).toBe(0o711);
    expect(await modeOf(join(base, 'cgroup'))).toBe(0o711);
    expect(await modeOf(dir)).toBe(0o711);
  });

  it('makes new levels searchable under a restrictive umask', async () => {
    const previous = process.umask(0o077);
    try {
      const base = join(top, 'kiln');
      await makeRuntimeDir(join(base, 'a', 'b'), base);
      expect(await modeOf(base)).toBe(0o711);
      expect(await modeOf(join(base, 'a'))).toBe(0o711);
      expect(await modeOf(join(base, 'a', 'b'))).toBe(0o711);
    } finally {
      process.umask(previous);
    }
  });

  it('refuses, naming the level, a directory under a host level it must not change', async () => {
    const closed = join(top, 'closed');
    await mkdir(closed, { mode: 0o700 });
    await chmod(closed, 0o700);
    await expect(makeRuntimeDir(join(closed, 'runtime'), join(top, 'elsewhere'))).rejects.toThrow(
      `${closed} is not searchable by other users`,
    );
    // And leaves the host's level as it was.
    expect(await modeOf(closed)).toBe(0o700);
  });
});
