import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startPackServer, type PackServer } from '../../../../test/integration/support/pack-server';
import { createUpstream } from '../../../../test/integration/support/upstream';
import { PackCache, PackTooLargeError } from './pack-cache';

/** A commit as a task's source names it, its pack at `packUrl`. */
const source = (packUrl: string, sha: string) => ({
  url: 'http://unused.invalid/repo.git',
  packUrl,
  sha,
  username: 'kiln-task',
  password: 'tok',
});

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

  it('counts the downloads under way against its size: one that cannot fit beside them is not kept', async () => {
    const repo = join(dir, 'upstream');
    const { sha } = createUpstream(repo, { 'blob.txt': randomBytes(40_000).toString('base64') });
    server = await startPackServer(() => ({ repositoryDir: join(repo, '.git'), sha }));
    // A server that announces a pack of 41 kB, sends nothing of it, and hangs up when told.
    const stalled: ServerResponse[] = [];
    const slow = createServer((_request, response) => {
      response.writeHead(200, { 'content-length': '41000' }).flushHeaders();
      stalled.push(response);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const cache = new PackCache(join(dir, 'cache'), { maxBytes: 60_000 });
    const other = 'f'.repeat(40);
    try {
      const first = cache
        .hold('repo-a', source(`http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, other))
        .catch((error: unknown) => error);
      // Under way: room made for its 41 kB, and its file begun.
      await vi.waitFor(() => {
        const packs = readdirSync(join(dir, 'cache', 'repo-a.packs'));
        expect(
          packs.some((name) =>
            existsSync(join(dir, 'cache', 'repo-a.packs', name, 'download.pack')),
          ),
        ).toBe(true);
        // A busy machine may take more than waitFor's default second over one local request.
      }, 10_000);

      // 41 kB more would take the cache to 82 kB of its 60: not downloaded, not kept, not remembered.
      const refused = await cache
        .hold('repo-b', source(server.url, sha))
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PackTooLargeError);
      expect((refused as PackTooLargeError).lasting).toBe(false);
      expect((refused as Error).message).toMatch(
        /does not fit now: 41000 of the cache's 60000 bytes are promised/,
      );
      expect(server.requests).toBe(1);
      expect(
        readdirSync(join(dir, 'cache')).includes('repo-b.packs')
          ? readdirSync(join(dir, 'cache', 'repo-b.packs'))
          : [],
      ).toEqual([]);

      // Once the first download has failed, its room is free again.
      for (const response of stalled) response.destroy();
      expect(await first).toBeInstanceOf(Error);
      await cache.hold('repo-b', source(server.url, sha));
      expect(readdirSync(join(dir, 'cache', 'repo-b.packs'))).toEqual([sha]);
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it('keeps no pack of unknown length, and removes nothing to make room for it', async () => {
    const repo = join(dir, 'upstream');
    const { sha } = createUpstream(repo, { 'blob.txt': randomBytes(40_000).toString('base64') });
    server = await startPackServer(() => ({ repositoryDir: join(repo, '.git'), sha }));
    const cache = new PackCache(join(dir, 'cache'), { maxBytes: 60_000 });
    await cache.hold('repo-a', source(server.url, sha));
    // Sent in chunks, with no length, as a proxy may pass a pack on.
    const chunked = createServer((_request, response) => {
      response.write(Buffer.alloc(1000));
      response.end();
    });
    await new Promise<void>((resolve) => chunked.listen(0, '127.0.0.1', resolve));
    try {
      const other = 'e'.repeat(40);
      const port = (chunked.address() as AddressInfo).port;
      const refused = await cache
        .hold('repo-b', source(`http://127.0.0.1:${port}/`, other))
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PackTooLargeError);
      expect(refused).toMatchObject({
        lasting: false,
        message: `the server announced no length for the pack of ${other}: it is not kept`,
      });
      expect(readdirSync(join(dir, 'cache', 'repo-a.packs'))).toEqual([sha]);
    } finally {
      chunked.closeAllConnections();
      await new Promise((resolve) => chunked.close(resolve));
    }
  });
});
