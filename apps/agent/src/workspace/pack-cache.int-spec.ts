import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
    const cache = new PackCache(join(dir, 'cache'), { commitsPerRepository: 2 });
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

  it('stays within its size, removing the least recently used commits of any repository', async () => {
    // Random text, which compresses little: each commit's pack is about 41 kB, two fit in 100 kB.
    const commit = (repo: string): string => {
      writeFileSync(join(repo, 'blob.txt'), randomBytes(40_000).toString('base64'));
      execFileSync('git', ['add', '-A'], { cwd: repo });
      execFileSync('git', ['commit', '-qm', 'blob'], { cwd: repo });
      return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
    };
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    createUpstream(a, { 'README.md': 'a\n' });
    createUpstream(b, { 'README.md': 'b\n' });
    const [a1, b1, b2] = [commit(a), commit(b), commit(b)];
    let wanted = { repositoryDir: join(a, '.git'), sha: a1 };
    server = await startPackServer(() => wanted);
    const cache = new PackCache(join(dir, 'cache'), { maxBytes: 100_000 });
    const hold = (key: string, repo: string, sha: string) => {
      wanted = { repositoryDir: join(repo, '.git'), sha };
      return cache.hold(key, {
        url: 'http://unused.invalid/repo.git',
        packUrl: server?.url ?? '',
        sha,
        username: 'kiln-task',
        password: 'tok',
      });
    };

    await hold('repo-a', a, a1);
    await hold('repo-b', b, b1);
    await hold('repo-a', a, a1);
    await hold('repo-b', b, b2);

    // b1, the least recently used of all, went to make room for b2.
    expect(readdirSync(join(dir, 'cache', 'repo-a.packs'))).toEqual([a1]);
    expect(readdirSync(join(dir, 'cache', 'repo-b.packs'))).toEqual([b2]);
    expect(server.requests).toBe(3);
  });

  it('keeps no commit whose pack alone is larger than the whole cache', async () => {
    const repo = join(dir, 'upstream');
    const { sha } = createUpstream(repo, { 'blob.txt': randomBytes(40_000).toString('base64') });
    server = await startPackServer(() => ({ repositoryDir: join(repo, '.git'), sha }));
    const cache = new PackCache(join(dir, 'cache'), { maxBytes: 10_000 });

    await expect(
      cache.hold('repo-1', {
        url: 'http://unused.invalid/repo.git',
        packUrl: server.url,
        sha,
        username: 'kiln-task',
        password: 'tok',
      }),
    ).rejects.toThrow(`the pack of ${sha} is over the cache's 10000 bytes`);
    expect(readdirSync(join(dir, 'cache', 'repo-1.packs'))).toEqual([]);
  });
});
