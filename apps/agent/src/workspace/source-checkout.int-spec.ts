import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

  it('waits for a source server that hangs up on it, and checks out once it serves', async () => {
    const upstream = createUpstream(join(dir, 'served', 'upstream'), { 'README.md': 'late\n' });
    const workspace = join(dir, 'workspace');
    mkdirSync(workspace);
    // A server restarting: it takes connections and drops them.
    let dropped = 0;
    const restarting = createServer((socket) => {
      dropped += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => restarting.listen(0, '127.0.0.1', resolve));
    const { port } = restarting.address() as AddressInfo;

    const checkout = checkoutSource(workspace, {
      url: `git://127.0.0.1:${port}/upstream`,
      sha: upstream.sha,
      ref: 'refs/heads/main',
    });
    // Should it give up (the defect this guards against), the rejection is the assertion's below.
    checkout.catch(() => undefined);
    await vi.waitFor(() => expect(dropped).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    await new Promise((resolve) => restarting.close(resolve));
    const daemon = spawn(
      'git',
      [
        'daemon',
        '--export-all',
        '--reuseaddr',
        `--base-path=${join(dir, 'served')}`,
        '--listen=127.0.0.1',
        `--port=${port}`,
      ],
      { stdio: 'ignore' },
    );
    try {
      await checkout;
      expect(readFileSync(join(workspace, 'README.md'), 'utf8')).toBe('late\n');
    } finally {
      daemon.kill();
    }
  });

  it('fails at once, naming why, when the server says there is no such repository', async () => {
    const workspace = join(dir, 'workspace');
    mkdirSync(workspace);
    await expect(
      checkoutSource(workspace, { url: `file://${join(dir, 'nowhere')}`, sha: 'f'.repeat(40) }),
    ).rejects.toThrow(/cannot check out f{40} of file:.*nowhere/);
  });
});
