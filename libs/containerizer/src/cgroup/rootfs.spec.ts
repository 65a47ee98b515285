import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PRIVATE_SHELL } from './private-shell';
import { prepareRootFilesystem } from './rootfs';

describe(prepareRootFilesystem.name, () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-rootfs-spec-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('puts the private shell in the root, executable and readable by no one but its owner', async () => {
    const { rootfs } = await prepareRootFilesystem(dir, 'kiln');
    const shell = await stat(join(rootfs, PRIVATE_SHELL));
    expect(shell.mode & 0o777).toBe(0o111);
    expect(shell.size).toBe((await stat('/bin/sh')).size);
  });

  it('is made by several at once over itself, each finding it whole', async () => {
    const made = await Promise.all(
      Array.from({ length: 8 }, () => prepareRootFilesystem(dir, 'kiln')),
    );
    expect(new Set(made.map((m) => m.rootfs)).size).toBe(1);
    expect((await stat(join(made[0]!.rootfs, PRIVATE_SHELL))).mode & 0o777).toBe(0o111);
  });
});
