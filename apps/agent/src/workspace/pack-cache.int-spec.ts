import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPackServer, type PackServer } from '../../../../test/integration/support/pack-server';
import { createUpstream } from '../../../../test/integration/support/upstream';
import { PackCache } from './pack-cache';

describe(PackCache.name, () => {
  let dir: string;
  let server: PackServer | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-pack-cache-'));
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the most recently used commits of a repository, and sweeps what a killed agent left', async () => {
    const repo = join(dir, 'upstream');
    const shas = [createUpstream(repo, { 'a.txt': '0\n' }).sha];
    for (const n of [1, 2]) {
      writeFileSync(join(repo, 'a.txt'), `${n}\n`);
      execFileSync('git', ['commit', '-qam', `c${n}`], { cwd: repo });
      shas.push(execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim());
    }
    const [first, second, third] = shas as [string, string, string];
    let wanted = first;
    server = await startPackServer(() => ({ repositoryDir: join(repo, '.git'), sha: wanted }));
    const packs = join(dir, 'cache', 'repo-1.packs');
    // A download an agent killed mid-way left.
    mkdirSync(join(packs, `${first}.0a1b2c3d.tmp`), { recursive: true });
    const cache = new PackCache(join(dir, 'cache'), 2);
    const hold = (sha: string) => {
      wanted = sha;
      return cache.hold('repo-1', {
        url: 'http://unused.invalid/repo.git',
        packUrl: server?.url ?? '',
        sha,
        username: 'kiln-task',
        password: 'tok',
      });
    };

    await hold(first);
    await hold(second);
    await hold(first);
    await hold(third);

    // The second was used least recently: it went when the third came.
    expect(readdirSync(packs).sort()).toEqual([first, third].sort());
    expect(existsSync(join(packs, `${first}.0a1b2c3d.tmp`))).toBe(false);
    expect(server.requests).toBe(3);
  });
});
