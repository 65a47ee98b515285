import { execFile } from 'node:child_process';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chownTree } from './workspace-owner';

const ID = 1_234_567;

describe(chownTree.name, () => {
  let dir: string;
  let outside: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-workspace-owner-'));
    outside = join(dir, 'outside');
    writeFileSync(outside, 'the host\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A workspace of `files` files in directories of ten, and a link to a file outside it. */
  function workspace(files: number): string {
    const root = join(dir, 'workspace');
    for (let i = 0; i < files; i += 1) {
      const sub = join(root, `d${Math.floor(i / 10)}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `f${i}`), '');
    }
    mkdirSync(root, { recursive: true });
    symlinkSync(outside, join(root, 'link'));
    return root;
  }

  const owner = (path: string) => lstatSync(path).uid;

  it.each([
    ['a small tree, walked', 20],
    ['a tree of more entries than are walked, by chown', 1_000],
  ])('gives %s to the id, links themselves and never what they name', async (_, files) => {
    const root = workspace(files);

    await chownTree(root, ID);

    for (const path of [root, join(root, 'd0'), join(root, 'd0', 'f0'), join(root, 'link')]) {
      expect(owner(path)).toBe(ID);
    }
    expect(owner(join(root, `d${Math.floor((files - 1) / 10)}`, `f${files - 1}`))).toBe(ID);
    expect(lstatSync(join(root, 'link')).gid).toBe(ID);
    expect(owner(outside)).toBe(0);
  });

  // A repository of a hundred thousand files and more: giving it to the task must not take the
  // agent's memory (listed whole, its names took 50 MB).
  it('gives a directory of more names than the agent could hold in a small heap', async () => {
    const root = join(dir, 'workspace');
    mkdirSync(root);
    const long = 'x'.repeat(240);
    for (let i = 0; i < 150_000; i += 1) closeSync(openSync(join(root, `${long}${i}`), 'w'));
    // An agent with a 40 MiB heap: tsx and the modules it loads take about 26.
    const script = `require(${JSON.stringify(resolve(__dirname, 'workspace-owner.ts'))}).chownTree(process.argv[1], ${ID})`;
    await promisify(execFile)(
      process.execPath,
      ['--max-old-space-size=40', '--import', 'tsx', '-e', script, root],
      { timeout: 60_000 },
    );

    expect(owner(join(root, `${long}149999`))).toBe(ID);
  }, 120_000);
});
