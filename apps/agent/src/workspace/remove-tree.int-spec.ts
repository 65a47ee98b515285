import { execFile, execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { programsForked } from '@kiln/common/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeStrays, removeTree } from './remove-tree';

describe(removeTree.name, () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-remove-tree-'));
  });
  // Whatever a failing test leaves, however deep.
  afterEach(() => execFileSync('rm', ['-rf', '--', dir]));

  /** A tree whose deepest file's path is over 4,096 bytes: made as a build would, going down. */
  function deepTree(root: string): void {
    mkdirSync(root);
    const segment = 'd'.repeat(250);
    execFileSync(
      'sh',
      ['-c', `for i in $(seq 20); do mkdir ${segment}; cd ${segment}; done; echo x > f`],
      {
        cwd: root,
      },
    );
  }

  it('removes a tree deeper than a path can be long, which a recursive rm gives up on', async () => {
    const sandbox = join(dir, 'sandbox');
    deepTree(sandbox);
    await expect(rm(sandbox, { recursive: true, force: true })).rejects.toMatchObject({
      code: 'ENAMETOOLONG',
    });

    await removeTree(sandbox);

    expect(existsSync(sandbox)).toBe(false);
  });

  // A build makes millions of empty files for nothing. Removing them must not take the agent's
  // memory, or the agent dies at each removal, and at each restart (the sandboxes left behind).
  it('removes a directory of more names than the agent could hold in a small heap', async () => {
    const sandbox = join(dir, 'sandbox');
    mkdirSync(join(sandbox, 'workspace'), { recursive: true });
    const long = 'x'.repeat(200);
    for (let i = 0; i < 40_000; i += 1) {
      closeSync(openSync(join(sandbox, 'workspace', `${long}${i}`), 'w'));
    }
    // An agent with a 40 MiB heap, removing the sandbox: tsx and the modules it loads fit in 32,
    // Node's recursive rm of this tree does not in 48.
    const script = `require(${JSON.stringify(resolve(__dirname, 'remove-tree.ts'))}).removeTree(process.argv[1])`;
    await promisify(execFile)(
      process.execPath,
      ['--max-old-space-size=40', '--import', 'tsx', '-e', script, sandbox],
      { timeout: 60_000 },
    );

    expect(existsSync(sandbox)).toBe(false);
  }, 120_000);

  it('removes an ordinary tree, and nothing when there is none', async () => {
    const sandbox = join(dir, 'sandbox');
    mkdirSync(join(sandbox, 'workspace'), { recursive: true });
    writeFileSync(join(sandbox, 'workspace', 'f'), 'x');

    await removeTree(sandbox);
    await removeTree(sandbox);

    expect(existsSync(sandbox)).toBe(false);
  });

  it("removes trees from the agent's launcher, never forking the agent", async () => {
    const sandbox = join(dir, 'sandbox');
    mkdirSync(join(sandbox, 'workspace'), { recursive: true });

    expect(await programsForked(() => removeTree(sandbox))).toEqual([]);
    expect(existsSync(sandbox)).toBe(false);
  });

  it('removes the trees asked for at once, and fails only the one it could not remove', async () => {
    const sandboxes = ['one', 'two', 'mounted', 'three'].map((name) => join(dir, name));
    for (const sandbox of sandboxes) mkdirSync(join(sandbox, 'workspace'), { recursive: true });
    // A file system mounted inside a sandbox is left alone (--one-file-system), and so is the
    // sandbox holding it.
    const mount = join(dir, 'mounted', 'workspace');
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mount]);
    try {
      const removals = await Promise.allSettled(sandboxes.map((sandbox) => removeTree(sandbox)));

      expect(removals.map((r) => r.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
      expect(String((removals[2] as PromiseRejectedResult).reason)).toContain(mount);
      expect(readdirSync(dir)).toEqual(['mounted']);
    } finally {
      execFileSync('umount', [mount]);
    }
  });

  it('removes the entries of a directory it is not told to keep, deep ones too', async () => {
    for (const name of ['kept', 'left-behind'])
      mkdirSync(join(dir, name, 'workspace'), { recursive: true });
    deepTree(join(dir, 'deep'));

    expect((await removeStrays(dir, new Set(['kept']))).sort()).toEqual(['deep', 'left-behind']);
    expect(readdirSync(dir)).toEqual(['kept']);
    expect(await removeStrays(join(dir, 'none'), new Set())).toEqual([]);
  });
});
