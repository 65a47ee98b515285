import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git as gitIn } from '../../../../test/e2e/support/git';
import { CatFileBatch, findTreeEntry } from './cat-file-batch';

describe(CatFileBatch.name, () => {
  let dir: string;
  let batch: CatFileBatch;
  const git = (...args: string[]): string => gitIn(dir, ...args);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-cat-file-'));
    git('init', '--quiet');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'small.txt'), 'hello\n');
    // Larger than a pipe's buffer: the answer arrives in several chunks.
    writeFileSync(join(dir, 'sub', 'big.txt'), 'x'.repeat(300_000));
    git('add', '-A');
    git('commit', '--quiet', '-m', 'one');
    batch = new CatFileBatch(dir, { PATH: process.env.PATH ?? '' });
  });

  afterEach(() => {
    batch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers many requests in order over one process, small and large objects alike', async () => {
    const head = git('rev-parse', 'HEAD');
    const [commit, tree, small, big, missing] = await Promise.all([
      batch.info(`${head}^{commit}`),
      batch.contents(`${head}^{tree}`),
      batch.contents(`${head}:small.txt`),
      batch.contents(`${head}:sub/big.txt`),
      batch.info('0'.repeat(40)),
    ]);
    expect(commit).toEqual({ oid: head, type: 'commit', size: expect.any(Number) as number });
    expect(small?.content.toString()).toBe('hello\n');
    expect(big?.content.length).toBe(300_000);
    expect(missing).toBeUndefined();
    expect(findTreeEntry(tree!.content, 20, 'small.txt')).toEqual({
      mode: '100644',
      oid: git('rev-parse', `${head}:small.txt`),
    });
    expect(findTreeEntry(tree!.content, 20, 'sub')).toEqual({
      mode: '40000',
      oid: git('rev-parse', `${head}:sub`),
    });
    expect(findTreeEntry(tree!.content, 20, 'sub/big.txt')).toBeUndefined();
    expect(findTreeEntry(tree!.content, 20, 'small')).toBeUndefined();
  });

  it('finds a commit made after it started', async () => {
    writeFileSync(join(dir, 'later.txt'), 'later\n');
    git('add', '-A');
    git('commit', '--quiet', '-m', 'two');
    const later = await batch.contents(`${git('rev-parse', 'HEAD')}:later.txt`);
    expect(later?.content.toString()).toBe('later\n');
  });

  it('fails its requests once closed, instead of hanging', async () => {
    batch.close();
    await expect(batch.info('HEAD')).rejects.toThrow(/closed/);
    expect(batch.alive).toBe(false);
  });
});
