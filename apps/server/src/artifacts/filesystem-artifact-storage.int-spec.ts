import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactRejectedError, ArtifactTooLargeError, type ArtifactKey } from './artifact-storage';
import { FilesystemArtifactStorage } from './filesystem-artifact-storage';

const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex');

describe(FilesystemArtifactStorage.name, () => {
  let dir: string;
  let root: string;
  let storage: FilesystemArtifactStorage;
  const key = (name: string): ArtifactKey => ({ runId: 'r1', jobId: 'j1', attempt: 2, name });
  const body = (data: string): Readable => Readable.from([Buffer.from(data)]);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-artifact-storage-'));
    root = join(dir, 'artifacts');
    storage = new FilesystemArtifactStorage(root);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Every file under the root but the (empty) temporary directory. */
  function files(): string[] {
    if (!existsSync(root)) return [];
    return readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
      .sort();
  }

  it('stores under run/job/attempt/name, and serves the bytes back', async () => {
    const stored = await storage.put(key('out/a.txt'), body('hello\n'), {
      sha256: sha256('hello\n'),
      maxBytes: 100,
    });
    expect(stored).toEqual({ size: 6, sha256: sha256('hello\n') });
    expect(files()).toEqual(['r1/j1/2/out/a.txt']);
    expect(await text((await storage.open(key('out/a.txt')))!)).toBe('hello\n');
    expect(await storage.open(key('out/b.txt'))).toBeUndefined();
    expect(await storage.open(key('out'))).toBeUndefined();
  });

  it('replaces an artifact put again', async () => {
    await storage.put(key('a'), body('one'), { sha256: sha256('one'), maxBytes: 100 });
    await storage.put(key('a'), body('two'), { sha256: sha256('two'), maxBytes: 100 });
    expect(await text((await storage.open(key('a')))!)).toBe('two');
  });

  it('keeps nothing of a body whose checksum is wrong, or that is too large', async () => {
    await expect(
      storage.put(key('a'), body('hello'), { sha256: sha256('other'), maxBytes: 100 }),
    ).rejects.toThrow(/the SHA-256 of the 5 bytes received is [0-9a-f]{64}, not /);
    await expect(
      storage.put(key('b'), body('hello'), { sha256: sha256('hello'), maxBytes: 4 }),
    ).rejects.toThrow(new ArtifactTooLargeError(4));
    expect(files()).toEqual([]);
  });

  it('refuses a name that would leave the root, even if it got past normalisation', async () => {
    for (const name of ['../../../etc/passwd', '/etc/passwd', 'a/../../x', 'a//b', '.']) {
      await expect(
        storage.put(key(name), body('x'), { sha256: sha256('x'), maxBytes: 100 }),
      ).rejects.toBeInstanceOf(ArtifactRejectedError);
    }
    expect(files()).toEqual([]);
    // Refused before anything is written, anywhere.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a file where a directory of another artifact is', async () => {
    await storage.put(key('out/a'), body('x'), { sha256: sha256('x'), maxBytes: 100 });
    await expect(
      storage.put(key('out'), body('y'), { sha256: sha256('y'), maxBytes: 100 }),
    ).rejects.toThrow(/clashes with another artifact/);
    await expect(
      storage.put(key('out/a/b'), body('y'), { sha256: sha256('y'), maxBytes: 100 }),
    ).rejects.toThrow(/clashes with another artifact/);
    expect(files()).toEqual(['r1/j1/2/out/a']);
  });

  it("deletes a run's artifacts, of every job and attempt, and no other run's", async () => {
    const put = (runId: string, jobId: string, attempt: number, name: string) =>
      storage.put({ runId, jobId, attempt, name }, body('x'), {
        sha256: sha256('x'),
        maxBytes: 100,
      });
    await put('r1', 'j1', 1, 'out/a');
    await put('r1', 'j1', 2, 'out/a');
    await put('r1', 'j2', 1, 'b');
    await put('r2', 'j3', 1, 'out/a');
    await storage.deleteRun('r1');
    expect(files()).toEqual(['r2/j3/1/out/a']);
    expect(readdirSync(root).sort()).toEqual(['.tmp', 'r2']);
    expect(await storage.open({ runId: 'r1', jobId: 'j1', attempt: 1, name: 'out/a' })).toBe(
      undefined,
    );
    // Again, and a run that never stored anything: nothing to do, no error.
    await storage.deleteRun('r1');
    await storage.deleteRun('r9');
    expect(files()).toEqual(['r2/j3/1/out/a']);
  });

  it('deletes nothing for a run id that is not one name under the root', async () => {
    await storage.put(key('a'), body('x'), { sha256: sha256('x'), maxBytes: 100 });
    for (const runId of ['', '.', '..', '.tmp', '../r1', 'r1/j1']) {
      await expect(storage.deleteRun(runId)).rejects.toThrow(/is not a run id/);
    }
    expect(files()).toEqual(['r1/j1/2/a']);
  });
});
