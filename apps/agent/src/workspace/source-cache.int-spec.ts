import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  startPackServer,
  type PackAnswer,
  type PackServer,
} from '../../../../test/integration/support/pack-server';
import { createUpstream } from '../../../../test/integration/support/upstream';
import { SourceCheckoutError } from './source-checkout';
import { SourceCache } from './source-cache';

describe(SourceCache.name, () => {
  let dir: string;
  let failures: unknown[];
  let cache: SourceCache;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-source-cache-'));
    failures = [];
    cache = new SourceCache(join(dir, 'cache'), (_key, error) => failures.push(error));
  });
  let packServer: PackServer | undefined;
  afterEach(async () => {
    await packServer?.close();
    packServer = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function workspace(name: string): string {
    const path = join(dir, name);
    mkdirSync(path);
    return path;
  }

  const credentials = { username: 'kiln-task', password: 'tok' };
  const gitIn = (w: string, ...args: string[]): string =>
    execFileSync('git', args, { cwd: w, encoding: 'utf8' }).trim();

  async function packed(answer: () => PackAnswer): Promise<string> {
    packServer = await startPackServer(answer);
    return packServer.url;
  }

  it('fetches a commit once: a second task of it checks out with its source gone', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'cached\n' });
    const source = { url: upstream.url, sha: upstream.sha, cacheKey: 'repo-1' };

    await cache.checkout(workspace('first'), source);
    // The source is unreachable now: only the cache can serve the commit.
    renameSync(join(dir, 'upstream'), join(dir, 'moved'));
    const second = workspace('second');
    await cache.checkout(second, source);

    expect(readFileSync(join(second, 'README.md'), 'utf8')).toBe('cached\n');
    // The checkout says nothing of the agent's cache; the cache is root's alone.
    expect(existsSync(join(second, '.git', 'FETCH_HEAD'))).toBe(false);
    expect(statSync(join(dir, 'cache')).mode & 0o777).toBe(0o700);
    expect(failures).toEqual([]);
  });

  it('checks the exact commit out of the cache, detached and shallow, with nothing of the cache', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'exact\n' });
    const w = workspace('exact');
    await cache.checkout(w, { url: upstream.url, sha: upstream.sha, cacheKey: 'repo-1' });

    const git = (...args: string[]): string =>
      execFileSync('git', args, { cwd: w, encoding: 'utf8' }).trim();
    expect(git('rev-parse', 'HEAD')).toBe(upstream.sha);
    expect(git('rev-parse', '--is-shallow-repository')).toBe('true');
    expect(git('status', '--porcelain')).toBe('');
    expect(() => git('symbolic-ref', '-q', 'HEAD')).toThrow();
    expect(git('config', '--list', '--local')).not.toContain(join(dir, 'cache'));
    expect(existsSync(join(w, '.git', 'FETCH_HEAD'))).toBe(false);
  });

  it('stops checking out of the cache once the task is killed', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'killed\n' });
    const source = { url: upstream.url, sha: upstream.sha, cacheKey: 'repo-1' };
    await cache.checkout(workspace('warm'), source);
    const killed = new AbortController();
    killed.abort();
    await expect(cache.checkout(workspace('killed'), source, killed.signal)).rejects.toThrow(
      /stopped: the task was killed/,
    );
  });

  it('fetches only into the cache of the source named, and fetches a new commit of it', async () => {
    const one = createUpstream(join(dir, 'one'), { 'a.txt': 'one\n' });
    const two = createUpstream(join(dir, 'two'), { 'a.txt': 'two\n' });
    await cache.checkout(workspace('w1'), { url: one.url, sha: one.sha, cacheKey: 'repo-1' });
    // Another repository's commit is not in repo-1's cache: it is fetched from its source.
    const w2 = workspace('w2');
    await cache.checkout(w2, { url: two.url, sha: two.sha, cacheKey: 'repo-2' });
    expect(readFileSync(join(w2, 'a.txt'), 'utf8')).toBe('two\n');
    await expect(
      cache.checkout(workspace('w3'), { url: one.url, sha: two.sha, cacheKey: 'repo-1' }),
    ).rejects.toThrow(SourceCheckoutError);
  });

  it('checks out directly when the source names no cache, or an unsafe one', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'direct\n' });
    for (const cacheKey of [undefined, 'a.b']) {
      const w = workspace(`w-${String(cacheKey)}`);
      await cache.checkout(w, {
        url: upstream.url,
        sha: upstream.sha,
        ...(cacheKey === undefined ? {} : { cacheKey }),
      });
      expect(readFileSync(join(w, 'README.md'), 'utf8')).toBe('direct\n');
    }
    expect(existsSync(join(dir, 'cache'))).toBe(false);
  });

  it("leaves the host's git configuration out of a checkout: its hooks never run there", async () => {
    // What an administrator's own git setup could bring to a hostile repository's checkout, run
    // by the agent as root: a global hook (or filter, or fsmonitor) acting in the workspace.
    const home = join(dir, 'home');
    const hooks = join(home, 'hooks');
    const ran = join(dir, 'hook-ran');
    mkdirSync(hooks, { recursive: true });
    writeFileSync(join(hooks, 'post-checkout'), `#!/bin/sh\ntouch '${ran}'\n`, { mode: 0o755 });
    writeFileSync(join(home, '.gitconfig'), `[core]\n\thooksPath = ${hooks}\n`);
    const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'hooked\n' });
    packServer = await startPackServer(() => ({
      repositoryDir: join(dir, 'upstream', '.git'),
      sha: upstream.sha,
    }));
    const packUrl = packServer.url;
    const home0 = process.env.HOME;
    process.env.HOME = home;
    try {
      // From git's own fetch, and from the cache's pack.
      await cache.checkout(workspace('fetched'), { url: upstream.url, sha: upstream.sha });
      await cache.checkout(workspace('packed'), {
        url: upstream.url,
        packUrl,
        sha: upstream.sha,
        cacheKey: 'repo-1',
      });
    } finally {
      process.env.HOME = home0;
    }

    expect(readFileSync(join(dir, 'fetched', 'README.md'), 'utf8')).toBe('hooked\n');
    expect(readFileSync(join(dir, 'packed', 'README.md'), 'utf8')).toBe('hooked\n');
    expect(existsSync(ran)).toBe(false);
  });

  describe('from a server that serves the commit as a pack', () => {
    it("downloads a commit's pack once: a second task of it checks out with the server gone", async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'packed\n' });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'upstream', '.git'),
        sha: upstream.sha,
      }));
      const source = { url: upstream.url, packUrl, sha: upstream.sha, cacheKey: 'repo-1' };
      await cache.checkout(workspace('first'), { ...source, ...credentials });
      // Neither the pack server nor git's source can serve it now: only the cache can.
      await packServer?.close();
      renameSync(join(dir, 'upstream'), join(dir, 'moved'));
      const second = workspace('second');
      await cache.checkout(second, { ...source, ...credentials });

      expect(packServer?.requests).toBe(1);
      expect(readFileSync(join(second, 'README.md'), 'utf8')).toBe('packed\n');
      expect(gitIn(second, 'rev-parse', 'HEAD')).toBe(upstream.sha);
      expect(gitIn(second, 'rev-parse', '--is-shallow-repository')).toBe('true');
      expect(gitIn(second, 'status', '--porcelain')).toBe('');
      expect(() => gitIn(second, 'symbolic-ref', '-q', 'HEAD')).toThrow();
      expect(gitIn(second, 'config', '--list', '--local')).not.toContain(join(dir, 'cache'));
      expect(gitIn(second, 'fsck', '--no-progress')).toBe('');
      expect(existsSync(join(second, '.git', 'FETCH_HEAD'))).toBe(false);
      expect(failures).toEqual([]);
    });

    /** Prefetches the pack, and checks it out once the server was asked for it: the workspace. */
    async function prefetchThenCheckOut(source: {
      url: string;
      packUrl: string;
      sha: string;
    }): Promise<string> {
      const cached = { ...source, cacheKey: 'repo-1', ...credentials };
      cache.prefetch(cached);
      // Asked for before any checkout is.
      await vi.waitFor(() => expect(packServer?.requests).toBe(1));
      const w = workspace('w');
      await cache.checkout(w, cached);
      return w;
    }

    it("downloads a pack once when the checkout comes while the LAUNCH's prefetch is under way", async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'early\n' });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'upstream', '.git'),
        sha: upstream.sha,
      }));
      const w = await prefetchThenCheckOut({ url: upstream.url, packUrl, sha: upstream.sha });

      expect(packServer?.requests).toBe(1);
      expect(readFileSync(join(w, 'README.md'), 'utf8')).toBe('early\n');
      expect(failures).toEqual([]);
    });

    it('downloads the pack again for the checkout when the prefetch failed', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'second try\n' });
      let answered = 0;
      const packUrl = await packed(() =>
        (answered += 1) === 1
          ? { status: 503 }
          : { repositoryDir: join(dir, 'upstream', '.git'), sha: upstream.sha },
      );
      const w = await prefetchThenCheckOut({ url: upstream.url, packUrl, sha: upstream.sha });

      expect(packServer?.requests).toBe(2);
      expect(readFileSync(join(w, 'README.md'), 'utf8')).toBe('second try\n');
      // The prefetch's failure is not the cache's: the checkout had its pack.
      expect(failures).toEqual([]);
    });

    it('closes the cache to all but root again when it was removed meanwhile', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'again\n' });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'upstream', '.git'),
        sha: upstream.sha,
      }));
      const source = { url: upstream.url, sha: upstream.sha, ...credentials };
      await cache.checkout(workspace('first'), { ...source, packUrl, cacheKey: 'repo-1' });
      rmSync(join(dir, 'cache'), { recursive: true, force: true });
      // Served without a pack: fetched into a cache repository of its own, made anew.
      await cache.checkout(workspace('second'), { ...source, cacheKey: 'repo-2' });

      expect(statSync(join(dir, 'cache')).mode & 0o777).toBe(0o700);
      expect(readFileSync(join(dir, 'second', 'README.md'), 'utf8')).toBe('again\n');
    });

    it('checks out through git, and says why, when the pack cannot be had', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'fallback\n' });
      const packUrl = await packed(() => ({ status: 503 }));
      const w = workspace('w');
      await cache.checkout(w, {
        url: upstream.url,
        packUrl,
        sha: upstream.sha,
        cacheKey: 'repo-1',
        ...credentials,
      });
      expect(readFileSync(join(w, 'README.md'), 'utf8')).toBe('fallback\n');
      expect(String(failures[0])).toMatch(/answered 503: failed with 503/);
    });

    it('drops a pack that lacks the commit, and checks out through git', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'right\n' });
      const other = createUpstream(join(dir, 'other'), { 'README.md': 'wrong\n' });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'other', '.git'),
        sha: other.sha,
      }));
      const source = { url: upstream.url, packUrl, sha: upstream.sha, cacheKey: 'repo-1' };
      const w = workspace('w');
      await cache.checkout(w, { ...source, ...credentials });
      expect(readFileSync(join(w, 'README.md'), 'utf8')).toBe('right\n');
      expect(gitIn(w, 'rev-parse', 'HEAD')).toBe(upstream.sha);
      expect(failures).toHaveLength(1);
      // Dropped: the next task downloads it again rather than failing on it.
      expect(existsSync(join(dir, 'cache', 'repo-1.packs', upstream.sha))).toBe(false);
    });

    it('drops a pack whose commit its container could not check out: the next task downloads it again', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'right\n' });
      const other = createUpstream(join(dir, 'other'), { 'README.md': 'wrong\n' });
      let served = join(dir, 'other', '.git');
      let downloads = 0;
      const packUrl = await packed(() => {
        downloads += 1;
        return { repositoryDir: served, sha: served.includes('other') ? other.sha : upstream.sha };
      });
      const source = { url: upstream.url, packUrl, sha: upstream.sha, cacheKey: 'repo-1' };
      const w = workspace('w');
      // The container checks out: the agent puts the pack's objects there, and runs no git on them.
      await cache.checkout(w, { ...source, ...credentials }, undefined, 'container');
      expect(() => gitIn(w, 'rev-list', '--objects', upstream.sha)).toThrow();
      await cache.dropPack(source);
      served = join(dir, 'upstream', '.git');
      const w2 = workspace('w2');
      await cache.checkout(w2, { ...source, ...credentials }, undefined, 'container');
      expect(gitIn(w2, 'rev-list', '--objects', upstream.sha)).toContain(upstream.sha);
      expect(downloads).toBe(2);
    });

    it('sends the task token: a server that refuses it leaves the checkout to git', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'token\n' });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'upstream', '.git'),
        sha: upstream.sha,
      }));
      const w = workspace('w');
      const source = { url: upstream.url, packUrl, sha: upstream.sha, cacheKey: 'repo-1' };
      await cache.checkout(w, { ...source, username: 'kiln-task', password: 'not-it' });
      expect(String(failures[0])).toMatch(/answered 401/);
      await cache.checkout(workspace('w2'), { ...source, ...credentials });
      expect(failures).toHaveLength(1);
      expect(existsSync(join(dir, 'cache', 'repo-1.packs', upstream.sha))).toBe(true);
    });

    it('checks a commit too large for the pack cache out through git, kept in no cache', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), {
        'blob.txt': randomBytes(40_000).toString('base64'),
      });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'upstream', '.git'),
        sha: upstream.sha,
      }));
      const small = new SourceCache(join(dir, 'small'), (_key, e) => failures.push(e), {
        maxBytes: 1_000,
      });
      const source = { url: upstream.url, packUrl, sha: upstream.sha, cacheKey: 'repo-1' };

      for (const name of ['first', 'second']) {
        const w = workspace(name);
        await small.checkout(w, { ...source, ...credentials });
        expect(gitIn(w, 'rev-parse', 'HEAD')).toBe(upstream.sha);
      }

      expect(String(failures[0])).toMatch(/is over the cache's 1000 bytes/);
      // Asked for once: the second task knew it was too large.
      expect(packServer?.requests).toBe(1);
      expect(readdirSync(join(dir, 'small'))).toEqual(['repo-1.packs']);
      expect(readdirSync(join(dir, 'small', 'repo-1.packs'))).toEqual([]);
    });

    it('fails the checkout, and only it, when the workspace cannot be made a repository', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'x\n' });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'upstream', '.git'),
        sha: upstream.sha,
      }));
      const source = { url: upstream.url, packUrl, sha: upstream.sha, cacheKey: 'repo-1' };
      // No such directory: git init fails at once, while the pack is still being downloaded,
      // which an agent that left that failure unhandled did not survive.
      await expect(
        cache.checkout(join(dir, 'no-such-workspace'), { ...source, ...credentials }),
      ).rejects.toThrow();
    });

    it('stops once the task is killed', async () => {
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'killed\n' });
      const packUrl = await packed(() => ({
        repositoryDir: join(dir, 'upstream', '.git'),
        sha: upstream.sha,
      }));
      const killed = new AbortController();
      killed.abort();
      const source = { url: upstream.url, packUrl, sha: upstream.sha, cacheKey: 'repo-1' };
      await expect(
        cache.checkout(workspace('killed'), { ...source, ...credentials }, killed.signal),
      ).rejects.toThrow(/stopped: the task was killed/);
      expect(failures).toEqual([]);
    });
  });

  describe("as the task's user", () => {
    /** A host id of no user here, as a task's range starts. */
    const OWNER = 1_234_568;
    const owned = (path: string) => lstatSync(path).uid === OWNER;

    it.each([
      ['its pack', 'pack'],
      ["the agent's cache repository", 'cache'],
      ['git, from the source', 'direct'],
      ['git, when its pack lacks the commit', 'wrong pack'],
    ] as const)(
      'checks a commit out through %s, every file of it then the owner’s',
      async (_, way) => {
        const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'owned\n' });
        const other = createUpstream(join(dir, 'other'), { 'README.md': 'wrong\n' });
        const packUrl = way.endsWith('pack')
          ? await packed(() => ({
              repositoryDir: join(dir, way === 'pack' ? 'upstream' : 'other', '.git'),
              sha: way === 'pack' ? upstream.sha : other.sha,
            }))
          : undefined;
        const w = workspace('w');
        const source = {
          url: upstream.url,
          sha: upstream.sha,
          ...(way === 'direct' ? {} : { cacheKey: 'repo-1' }),
          ...(packUrl === undefined ? {} : { packUrl, ...credentials }),
        };

        await cache.checkout(w, source, undefined, { checkoutUser: OWNER, owner: OWNER });

        expect(readFileSync(join(w, 'README.md'), 'utf8')).toBe('owned\n');
        // Root's git refuses another user's repository, but where told to trust it.
        expect(gitIn(w, '-c', `safe.directory=${w}`, 'rev-parse', 'HEAD')).toBe(upstream.sha);
        for (const path of ['', 'README.md', '.git', '.git/index', '.git/HEAD', '.git/shallow']) {
          expect(owned(join(w, path)), path).toBe(true);
        }
        expect(failures).toHaveLength(way === 'wrong pack' ? 1 : 0);
      },
    );

    it("fails for good when the owner's checkout fails: the agent's git never runs after it", async () => {
      // A name git can store but no file system holds, which puts "timed out" in git's error: a
      // retry would have root's git init the owner's repository, following the owner's links.
      const upstream = createUpstream(join(dir, 'upstream'), { 'README.md': 'x\n' });
      const gitUp = (...args: string[]) =>
        execFileSync('git', args, { cwd: join(dir, 'upstream'), encoding: 'utf8' }).trim();
      const blob = gitUp('rev-parse', 'HEAD:README.md');
      const tree = execFileSync('git', ['mktree'], {
        cwd: join(dir, 'upstream'),
        input: `100644 blob ${blob}\ttimed out ${'a'.repeat(300)}\n`,
        encoding: 'utf8',
      }).trim();
      const sha = gitUp('commit-tree', tree, '-p', upstream.sha, '-m', 'too long');
      gitUp('update-ref', 'refs/heads/main', sha);
      const w = workspace('w');

      const failed = cache.checkout(w, { url: upstream.url, sha }, undefined, {
        checkoutUser: OWNER,
        owner: OWNER,
      });

      await expect(failed).rejects.toThrow(SourceCheckoutError);
      await expect(failed).rejects.toThrow(/File name too long/);
      await expect(failed).rejects.not.toThrow(/dubious ownership/);
    });
  });
});
