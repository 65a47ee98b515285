import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUpstream } from '../../../../test/integration/support/upstream';
import { checkoutSource } from './source-checkout';

describe(checkoutSource.name, () => {
  let dir: string;
  const saved = { EDITOR: process.env.EDITOR, PAGER: process.env.PAGER };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-checkout-'));
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('checks out the exact commit when the agent runs with an EDITOR and a PAGER', async () => {
    // simple-git refuses both as unsafe: handed all of the environment, every checkout failed.
    process.env.EDITOR = 'vi';
    process.env.PAGER = 'less';
    const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'hello\n' });
    const workspace = join(dir, 'workspace');
    mkdirSync(workspace);
    await checkoutSource(workspace, {
      url: upstream.url,
      sha: upstream.sha,
      ref: 'refs/heads/main',
    });
    expect(readFileSync(join(workspace, 'README.md'), 'utf8')).toBe('hello\n');
  });
});
