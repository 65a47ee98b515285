import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sortKeys, staleFiles } from './generate';

describe(sortKeys.name, () => {
  it('sorts the keys at every depth and keeps the order of arrays', () => {
    const sorted = sortKeys({ b: { d: 1, c: [{ z: 1, y: 2 }, 'b', 'a'] }, a: null });
    expect(JSON.stringify(sorted)).toBe('{"a":null,"b":{"c":[{"y":2,"z":1},"b","a"],"d":1}}');
  });
});

describe(staleFiles.name, () => {
  let root: string | undefined;
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('names each file that differs from what is generated, or is missing', () => {
    root = mkdtempSync(join(tmpdir(), 'kiln-api-stale-'));
    writeFileSync(join(root, 'same.json'), '{}\n');
    writeFileSync(join(root, 'old.ts'), 'export type A = 1;\n');
    const generated = new Map([
      ['same.json', '{}\n'],
      ['old.ts', 'export type A = 2;\n'],
      ['missing.ts', ''],
    ]);
    expect(staleFiles(generated, root)).toEqual(['old.ts', 'missing.ts']);
  });
});
