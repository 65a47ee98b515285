import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spreadSandboxes } from './spread-sandboxes';

/** The file system type `stat -f` names (`ext2/ext3` for ext4 too). */
function fileSystemOf(dir: string): string {
  return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
}

/** The flags `lsattr` lists for the directory itself. */
function flagsOf(dir: string): string {
  return execFileSync('lsattr', ['-d', dir], { encoding: 'utf8' }).split(' ')[0] ?? '';
}

describe(spreadSandboxes.name, () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('marks a directory of an ext4 file system as a top directory, whose subdirectories ext4 spreads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-spread-'));
    made.push(dir);
    // The machines Kiln is tested on keep their temporary files on ext4: said, not assumed.
    expect(fileSystemOf(dir), 'the temporary directory is on ext2/3/4').toBe('ext2/ext3');
    expect(flagsOf(dir)).not.toContain('T');

    await expect(spreadSandboxes(dir)).resolves.toBeUndefined();

    expect(flagsOf(dir)).toContain('T');
  });

  it('leaves a directory of a file system without the flag as it was, and says why', async () => {
    const dir = mkdtempSync('/dev/shm/kiln-spread-');
    made.push(dir);
    expect(fileSystemOf(dir)).toBe('tmpfs');

    await expect(spreadSandboxes(dir)).resolves.toMatch(/not supported/);
  });
});
