import { freePort } from '@kiln/queue/testing';
import { randomUUID } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sharedLauncher } from '@kiln/common';
import { programsForked } from '@kiln/common/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { git } from '../../../../test/e2e/support/git';
import { GitDaemon } from '../../../../test/e2e/support/git-daemon';
import { serveUploadPack } from './git-http-backend';
import { GitContentRefused, GitMirror, GitMirrorError } from './git-mirror';

const UNKNOWN_SHA = 'deadbeef'.repeat(5);
const ZERO_SHA = '0'.repeat(40);

/** An upstream repository reached through a file:// URL, with files in subdirectories. */
class Upstream {
  readonly bare: string;
  readonly work: string;

  constructor(dir: string) {
    this.bare = join(dir, 'upstream.git');
    this.work = join(dir, 'work');
    mkdirSync(this.bare, { recursive: true });
    git(this.bare, 'init', '--bare', '--quiet', '--initial-branch=main');
    mkdirSync(this.work, { recursive: true });
    git(this.work, 'init', '--quiet', '--initial-branch=main');
    git(this.work, 'remote', 'add', 'origin', this.bare);
  }

  get url(): string {
    return `file://${this.bare}`;
  }

  commit(files: Record<string, string>): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), content);
    }
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '--quiet', '-m', 'change');
    git(this.work, 'push', '--quiet', 'origin', 'main');
    return git(this.work, 'rev-parse', 'HEAD');
  }
}

async function caught(promise: Promise<unknown>): Promise<GitMirrorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GitMirrorError);
  return error as GitMirrorError;
}

describe(GitMirror.name, () => {
  let daemon: GitDaemon;
  let dir: string;
  let root: string;
  let mirror: GitMirror;
  let upstream: Upstream;

  beforeAll(async () => {
    daemon = await GitDaemon.start(await freePort());
  });

  afterAll(async () => {
    await daemon.stop();
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-mirror-'));
    root = join(dir, 'mirrors');
    mirror = new GitMirror(root);
    upstream = new Upstream(join(dir, 'upstream'));
  });

  afterEach(() => {
    mirror.onApplicationShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a file at an older commit after a newer one was pushed (git daemon)', async () => {
    const name = `older-${randomUUID()}`;
    const commit = daemon.createRepository(name);
    const first = commit({ '.kiln.yml': 'steps: [one]\n' });
    const second = commit({ '.kiln.yml': 'steps: [two]\n' });

    await expect(mirror.readFile('repo-1', daemon.url(name), first, '.kiln.yml')).resolves.toBe(
      'steps: [one]\n',
    );
    await expect(mirror.readFile('repo-1', daemon.url(name), second, '.kiln.yml')).resolves.toBe(
      'steps: [two]\n',
    );
  });

  it("reads a commit's author and whole message, fetching the commit", async () => {
    writeFileSync(join(upstream.work, 'a.txt'), 'a\n');
    git(upstream.work, 'add', '-A');
    git(
      upstream.work,
      'commit',
      '--quiet',
      '--author=Ada Lovelace <ada@example.com>',
      '-m',
      'Fix the engine\n\nA body line.',
    );
    git(upstream.work, 'push', '--quiet', 'origin', 'main');
    const sha = git(upstream.work, 'rev-parse', 'HEAD');
    await expect(mirror.commitInfo('repo-1', upstream.url, sha)).resolves.toEqual({
      author: 'Ada Lovelace',
      message: 'Fix the engine\n\nA body line.',
    });
    expect(
      (await caught(mirror.commitInfo('repo-1', upstream.url, UNKNOWN_SHA))).message,
    ).toContain(UNKNOWN_SHA);
  });

  it('refuses to read the message of a commit larger than 1 MiB', async () => {
    writeFileSync(join(upstream.work, 'a.txt'), 'a\n');
    writeFileSync(join(dir, 'message'), 'x'.repeat(1024 * 1024 + 1));
    git(upstream.work, 'add', '-A');
    git(upstream.work, 'commit', '--quiet', '--file', join(dir, 'message'));
    git(upstream.work, 'push', '--quiet', 'origin', 'main');
    const sha = git(upstream.work, 'rev-parse', 'HEAD');

    const error = await caught(mirror.commitInfo('repo-1', upstream.url, sha));

    expect(error).toBeInstanceOf(GitContentRefused);
    expect(error.message).toMatch(
      new RegExp(`the commit ${sha} of .* is \\d+ bytes, over the limit of 1048576`),
    );
  });

  it('reads files in subdirectories and returns undefined for a missing file or a directory', async () => {
    const sha = upstream.commit({ 'ci/build.yml': 'build\n', '.kiln.yml': 'x: 1\n' });

    await expect(mirror.readFile('repo', upstream.url, sha, 'ci/build.yml')).resolves.toBe(
      'build\n',
    );
    await expect(
      mirror.readFile('repo', upstream.url, sha, 'missing.yml'),
    ).resolves.toBeUndefined();
    await expect(mirror.readFile('repo', upstream.url, sha, 'ci')).resolves.toBeUndefined();
  });

  it('refuses a commit whose objects git finds malformed, and keeps none of them', async () => {
    upstream.commit({ '.kiln.yml': 'x: 1\n' });
    // A tree naming the same file twice: git fsck's duplicateEntries, which git itself never
    // writes, but a forge that does not check what is pushed to it keeps and serves.
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], {
      cwd: upstream.bare,
      input: 'x',
    })
      .toString()
      .trim();
    const entry = Buffer.concat([Buffer.from('100644 a\0'), Buffer.from(blob, 'hex')]);
    const tree = execFileSync(
      'git',
      ['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'],
      {
        cwd: upstream.bare,
        input: Buffer.concat([entry, entry]),
      },
    )
      .toString()
      .trim();
    const sha = git(upstream.bare, 'commit-tree', tree, '-m', 'malformed');
    git(upstream.bare, 'update-ref', 'refs/heads/main', sha);

    const error = await caught(
      mirror.readFile('repo', upstream.url, sha, '.kiln.yml', undefined, 'refs/heads/main'),
    );

    expect(error).toBeInstanceOf(GitContentRefused);
    expect(error.message).toContain('duplicateEntries');
    expect(() => git(join(root, 'repo.git'), 'cat-file', '-e', tree)).toThrow();
  });

  it('fetches and names a commit with git started from the launcher, never forking the server', async () => {
    const first = upstream.commit({ '.kiln.yml': 'one\n' });
    // Its object reader, one long-lived git per mirror, is started by this first read.
    await mirror.readFile('repo-1', upstream.url, first, '.kiln.yml');
    const second = upstream.commit({ '.kiln.yml': 'two\n' });

    const forked = await programsForked(async () => {
      expect(await mirror.readFile('repo-1', upstream.url, second, '.kiln.yml')).toBe('two\n');
      await mirror.withCommitNamespace('repo-1', upstream.url, second);
    });

    expect(forked).toEqual([]);
  });

  it("names a commit's namespace once for all the requests of a task's fetch", async () => {
    const commit = upstream.commit({ 'README.md': 'one\n' });
    const launcher = sharedLauncher();
    const run = vi.spyOn(launcher, 'run');
    try {
      // A fetch over smart HTTP asks twice (its refs, then its pack), a retried fetch again.
      const named = await Promise.all(
        [1, 2, 3].map(() => mirror.withCommitNamespace('repo-1', upstream.url, commit)),
      );
      expect(new Set(named.map((n) => n.namespace))).toEqual(new Set([commit]));
      await mirror.withCommitNamespace('repo-1', upstream.url, commit);
      const updates = run.mock.calls.filter(([, args]) => args?.includes('update-ref'));
      expect(updates).toHaveLength(1);
      expect(
        git(join(root, 'repo-1.git'), 'rev-parse', `refs/namespaces/${commit}/refs/kiln/commit`),
      ).toBe(commit);
    } finally {
      run.mockRestore();
    }
  });

  it("leaves the mirror's maintenance out of its fetches, and does it once a while after", async () => {
    // The mirror's clock only, so that the wait is over when the test says (git and the fetches
    // keep real time): a loaded machine can take longer for three fetches than any real wait.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const bare = join(root, 'repo-1.git');
    const packs = () =>
      readdirSync(join(bare, 'objects', 'pack')).filter((name) => name.endsWith('.pack'));
    try {
      mirror.onApplicationShutdown();
      mirror = new GitMirror(root, { maintenanceDelayMs: 5_000 });
      const first = upstream.commit({ '.kiln.yml': 'one\n' });
      await mirror.readFile('repo-1', upstream.url, first, '.kiln.yml');
      // Each fetch keeps its objects as a pack, and more than one pack calls for a repack.
      git(bare, 'config', 'fetch.unpackLimit', '1');
      git(bare, 'config', 'gc.autoPackLimit', '1');
      for (const n of [2, 3]) {
        const sha = upstream.commit({ '.kiln.yml': `${n}\n` });
        await mirror.readFile('repo-1', upstream.url, sha, '.kiln.yml');
      }
      // Git's own maintenance at the end of the second fetch would have repacked.
      expect(packs()).toHaveLength(3);

      vi.advanceTimersByTime(5_000);
    } finally {
      vi.useRealTimers();
    }
    // gc repacks in the background (git detaches it): done once its pid file is gone.
    await vi.waitFor(
      () => {
        expect(packs()).toHaveLength(1);
        expect(existsSync(join(bare, 'gc.pid'))).toBe(false);
      },
      { timeout: 30_000, interval: 100 },
    );
  });

  it('throws a GitMirrorError naming the sha when the remote has no such commit', async () => {
    upstream.commit({ '.kiln.yml': 'x: 1\n' });

    const error = await caught(mirror.readFile('repo', upstream.url, UNKNOWN_SHA, '.kiln.yml'));

    expect(error.message).toContain(UNKNOWN_SHA);
    expect(error.message).toContain(upstream.url);
  });

  it('resolves a branch, a full ref and an annotated tag to the commit they point to now', async () => {
    const first = upstream.commit({ a: '1' });
    git(upstream.work, 'tag', '-a', 'v1', '-m', 'release');
    git(upstream.work, 'push', '--quiet', 'origin', 'v1');
    await expect(mirror.resolveRef('repo', upstream.url, 'main')).resolves.toBe(first);

    const second = upstream.commit({ a: '2' });

    await expect(mirror.resolveRef('repo', upstream.url, 'main')).resolves.toBe(second);
    await expect(mirror.resolveRef('repo', upstream.url, 'refs/heads/main')).resolves.toBe(second);
    await expect(mirror.resolveRef('repo', upstream.url, 'v1')).resolves.toBe(first);
    const error = await caught(mirror.resolveRef('repo', upstream.url, 'no-such-branch'));
    expect(error.message).toContain('no-such-branch');
  });

  it('resolves a branch served by git daemon', async () => {
    const name = `branch-${randomUUID()}`;
    const sha = daemon.createRepository(name)({ a: '1' });

    await expect(mirror.resolveRef('repo', daemon.url(name), 'main')).resolves.toBe(sha);
  });

  it('lists the paths changed between two commits, renames as a delete and an add', async () => {
    const from = upstream.commit({ 'keep.txt': 'same', 'old/name.txt': 'moved', 'edit.txt': '1' });
    git(upstream.work, 'mv', 'old/name.txt', 'new-name.txt');
    const to = upstream.commit({ 'edit.txt': '2', 'src/added.ts': 'new' });

    const changed = await mirror.changedFiles('repo', upstream.url, from, to);

    expect(changed?.sort()).toEqual(['edit.txt', 'new-name.txt', 'old/name.txt', 'src/added.ts']);
  });

  it('has no changed files to report for a new branch or a base the remote lost', async () => {
    const to = upstream.commit({ a: '1' });

    await expect(mirror.changedFiles('repo', upstream.url, ZERO_SHA, to)).resolves.toBeUndefined();
    await expect(
      mirror.changedFiles('repo', upstream.url, UNKNOWN_SHA, to),
    ).resolves.toBeUndefined();
    const error = await caught(mirror.changedFiles('repo', upstream.url, to, UNKNOWN_SHA));
    expect(error.message).toContain(UNKNOWN_SHA);
  });

  it('serves 20 concurrent reads of 2 new commits on a fresh mirror, leaving it consistent', async () => {
    const name = `burst-${randomUUID()}`;
    const commit = daemon.createRepository(name);
    const first = commit({ '.kiln.yml': 'first\n' });
    const second = commit({ '.kiln.yml': 'second\n' });
    const key = randomUUID();

    const reads = Array.from({ length: 20 }, (_, i) =>
      mirror.readFile(key, daemon.url(name), i % 2 === 0 ? first : second, '.kiln.yml'),
    );

    const texts = await Promise.all(reads);
    expect(texts).toEqual(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'first\n' : 'second\n')),
    );
    expect(readdirSync(root)).toEqual([`${key}.git`]);
    const bare = join(root, `${key}.git`);
    expect(() => git(bare, 'fsck', '--strict', '--no-progress')).not.toThrow();
    expect(git(bare, 'rev-parse', '--is-bare-repository')).toBe('true');
    expect(git(bare, 'cat-file', '-t', first)).toBe('commit');
    expect(git(bare, 'cat-file', '-t', second)).toBe('commit');
  });

  it('reads a known commit again without the network once git daemon is gone', async () => {
    const own = await GitDaemon.start(await freePort());
    const name = `offline-${randomUUID()}`;
    const sha = own.createRepository(name)({ '.kiln.yml': 'cached\n' });
    await expect(mirror.readFile('repo', own.url(name), sha, '.kiln.yml')).resolves.toBe(
      'cached\n',
    );

    await own.stop();

    await expect(mirror.readFile('repo', own.url(name), sha, '.kiln.yml')).resolves.toBe(
      'cached\n',
    );
    // The remote really is unreachable: anything not yet in the mirror fails.
    await caught(mirror.readFile('repo', own.url(name), UNKNOWN_SHA, '.kiln.yml'));
  });

  it('reads a known commit again without the network once a file:// upstream is gone', async () => {
    const sha = upstream.commit({ '.kiln.yml': 'cached\n' });
    await mirror.readFile('repo', upstream.url, sha, '.kiln.yml');
    const to = upstream.commit({ 'b.txt': 'b' });
    await mirror.changedFiles('repo', upstream.url, sha, to);

    renameSync(upstream.bare, `${upstream.bare}.gone`);

    await expect(mirror.readFile('repo', upstream.url, sha, '.kiln.yml')).resolves.toBe('cached\n');
    await expect(mirror.changedFiles('repo', upstream.url, sha, to)).resolves.toEqual(['b.txt']);
    await caught(mirror.readFile('repo', upstream.url, UNKNOWN_SHA, '.kiln.yml'));
  });

  it('sends credentials as a header and never shows them in errors or on disk', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createHttpServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="kiln"' }).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const url = `http://alice:url-secret-42@127.0.0.1:${port}/owner/repo.git`;
    const auth = { username: 'kiln', password: 'auth-secret-7' };
    const basic = Buffer.from('kiln:auth-secret-7').toString('base64');

    try {
      const errors = [
        await caught(mirror.readFile('repo', url, UNKNOWN_SHA, '.kiln.yml', auth)),
        await caught(mirror.resolveRef('repo', url, 'main', auth)),
        await caught(mirror.readFile('repo', url, UNKNOWN_SHA, '.kiln.yml')),
      ];

      for (const error of errors) {
        expect(error.message).toContain(`127.0.0.1:${port}/owner/repo.git`);
        for (const secret of ['url-secret-42', 'auth-secret-7', basic]) {
          expect(error.message).not.toContain(secret);
          expect(error.stack).not.toContain(secret);
        }
      }
      expect(seen.map((headers) => headers.authorization)).toContain(`Basic ${basic}`);
      for (const file of filesUnder(root)) {
        const text = readFileSync(file, 'latin1');
        expect(text).not.toContain('auth-secret-7');
        expect(text).not.toContain(basic);
        expect(text).not.toContain('url-secret-42');
      }
    } finally {
      server.close();
    }
  });

  it('gives up on a remote that never answers after the timeout', async () => {
    const sockets: Socket[] = [];
    const server = createTcpServer((socket) => sockets.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const impatient = new GitMirror(root, { timeoutMs: 500 });

    try {
      const error = await caught(
        impatient.readFile('repo', `git://127.0.0.1:${port}/repo.git`, UNKNOWN_SHA, '.kiln.yml'),
      );
      expect(error.message).toContain('timed out after 500 ms');
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  it('refuses a file larger than 1 MiB', async () => {
    const sha = upstream.commit({ '.kiln.yml': 'x'.repeat(1024 * 1024 + 1) });

    const error = await caught(mirror.readFile('repo', upstream.url, sha, '.kiln.yml'));

    expect(error).toBeInstanceOf(GitContentRefused);
    expect(error.message).toMatch(/\.kiln\.yml .* is 1048577 bytes, over the limit/);
  });

  it('refuses to read a directory whose listing is over the limit, on the way to a file', async () => {
    // A push of a few megabytes can hold a tree of gigabytes: a million entries, all one blob.
    const files = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`ci/file-${i}.txt`, 'same\n']),
    );
    const sha = upstream.commit({ ...files, '.kiln.yml': 'root\n', 'ci/.kiln.yml': 'ci\n' });
    const bounded = new GitMirror(join(dir, 'bounded'), { maxTreeBytes: 4096 });
    try {
      await expect(bounded.readFile('repo', upstream.url, sha, '.kiln.yml')).resolves.toBe(
        'root\n',
      );
      const error = await caught(bounded.readFile('repo', upstream.url, sha, 'ci/.kiln.yml'));
      expect(error).toBeInstanceOf(GitContentRefused);
      expect(error.message).toMatch(
        /the directory ci at [0-9a-f]{40} of .* lists \d+ bytes of entries, over the limit of 4096/,
      );
    } finally {
      bounded.onApplicationShutdown();
    }
  });

  it('replaces a mirror left half-created by a crash', async () => {
    const sha = upstream.commit({ '.kiln.yml': 'ok\n' });
    mkdirSync(join(root, 'repo.git', 'objects'), { recursive: true });
    mkdirSync(join(root, '.repo.git.abc123', 'refs'), { recursive: true });

    await expect(mirror.readFile('repo', upstream.url, sha, '.kiln.yml')).resolves.toBe('ok\n');
    expect(readdirSync(root)).toEqual(['repo.git']);
  });

  it("fetches a push's commit in one request, kept as the ref the push named", async () => {
    upstream.commit({ '.kiln.yml': 'first\n' });
    const pushed = upstream.commit({ '.kiln.yml': 'pushed\n' });
    const requests: string[] = [];
    // git's own smart HTTP server over the upstream, as forges speak it: each request of protocol
    // v2 (the ref listing, the fetch) is a POST of its own, so they can be counted.
    const server = createHttpServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://forge').pathname;
      requests.push(`${request.method ?? ''} ${path}`);
      const route = path.endsWith('/info/refs') ? 'info/refs' : 'git-upload-pack';
      void serveUploadPack(upstream.bare, 'whole repository', route, request, response);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const url = `http://127.0.0.1:${port}/owner/repo.git`;

    try {
      await expect(
        mirror.readFile('repo', url, pushed, '.kiln.yml', undefined, 'refs/heads/main'),
      ).resolves.toBe('pushed\n');
    } finally {
      server.close();
    }

    expect(requests.filter((request) => request.startsWith('POST'))).toEqual([
      'POST /owner/repo.git/git-upload-pack',
    ]);
    const bare = join(root, 'repo.git');
    expect(git(bare, 'rev-parse', 'refs/heads/main')).toBe(pushed);
    expect(git(bare, 'for-each-ref', 'refs/kiln/')).toBe('');
  });

  it('fetches a branch whose name clashes with a deleted one the mirror still has', async () => {
    upstream.commit({ 'README.md': 'main\n' });
    git(upstream.work, 'checkout', '-q', '-b', 'feature/one');
    const first = upstream.commit({ '.kiln.yml': 'one\n' });
    git(upstream.work, 'push', '-q', 'origin', 'feature/one');
    await expect(
      mirror.readFile(
        'repo',
        upstream.url,
        first,
        '.kiln.yml',
        undefined,
        'refs/heads/feature/one',
      ),
    ).resolves.toBe('one\n');
    // The branch is deleted upstream and `feature` pushed: refs/heads/feature/one, which the
    // mirror still has, leaves no room for refs/heads/feature.
    git(upstream.work, 'push', '-q', 'origin', ':feature/one');
    git(upstream.work, 'checkout', '-q', 'main');
    git(upstream.work, 'branch', '-q', '-D', 'feature/one');
    git(upstream.work, 'checkout', '-q', '-b', 'feature');
    const second = upstream.commit({ '.kiln.yml': 'two\n' });
    git(upstream.work, 'push', '-q', 'origin', 'feature');

    await expect(
      mirror.readFile('repo', upstream.url, second, '.kiln.yml', undefined, 'refs/heads/feature'),
    ).resolves.toBe('two\n');
  });

  it("serves a task's fetch its commit and that commit's history, nothing else the mirror holds", async () => {
    const base = upstream.commit({ 'README.md': 'base\n' });
    const task = upstream.commit({ 'README.md': 'task\n' });
    const later = upstream.commit({ 'README.md': 'later\n' });
    git(upstream.work, 'checkout', '-q', '--orphan', 'secret');
    const secret = upstream.commit({ 'README.md': 'secret\n' });
    git(upstream.work, 'push', '-q', 'origin', 'secret');
    // The mirror holds every one of them (read for runs of their own).
    await mirror.readFile('repo', upstream.url, later, 'README.md', undefined, 'refs/heads/main');
    await mirror.readFile(
      'repo',
      upstream.url,
      secret,
      'README.md',
      undefined,
      'refs/heads/secret',
    );
    const { dir: mirrorDir, namespace } = await mirror.withCommitNamespace(
      'repo',
      upstream.url,
      task,
      undefined,
      'refs/heads/main',
    );
    const server = createHttpServer((request, response) => {
      const path = new URL(request.url ?? '/', 'http://server').pathname;
      const route = path.endsWith('/info/refs') ? 'info/refs' : 'git-upload-pack';
      void serveUploadPack(mirrorDir, { namespace }, route, request, response);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/source.git`;
    // Asynchronously: the server answering it runs on this event loop.
    const run = (cwd: string, args: string[]) =>
      new Promise<{ ok: boolean; stdout: string; stderr: string }>((resolve) => {
        execFile(
          'git',
          args,
          { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } },
          (error, stdout, stderr) => resolve({ ok: error === null, stdout, stderr }),
        );
      });
    const fetchAs = async (version: number, sha: string) => {
      const client = join(dir, `client-${version}-${sha}`);
      git(dir, 'init', '--quiet', client);
      const fetched = await run(client, [
        '-c',
        `protocol.version=${version}`,
        'fetch',
        '--quiet',
        url,
        sha,
      ]);
      return { ...fetched, client };
    };

    try {
      for (const version of [0, 2]) {
        const fetched = await fetchAs(version, task);
        expect(fetched.ok, fetched.stderr).toBe(true);
        expect(git(fetched.client, 'rev-list', 'FETCH_HEAD')).toBe(`${task}\n${base}`);
        for (const other of [later, secret]) {
          const refused = await fetchAs(version, other);
          expect(refused.ok).toBe(false);
          expect(refused.stderr).toMatch(/not our ref|unadvertised object/);
        }
      }
      const listed = await run(dir, ['ls-remote', url]);
      expect(listed.stdout).toBe(`${task}\trefs/kiln/commit\n`);
    } finally {
      server.close();
    }
  });

  it.each([
    ['a key that escapes the root', () => mirror.readFile('../x', upstream.url, ZERO_SHA, 'a')],
    ['a sha that is not hex', () => mirror.readFile('repo', upstream.url, 'HEAD', 'a')],
    ['a short sha', () => mirror.readFile('repo', upstream.url, 'abc123', 'a')],
    ['a path with ..', () => mirror.readFile('repo', upstream.url, ZERO_SHA, 'a/../../b')],
    ['an absolute path', () => mirror.readFile('repo', upstream.url, ZERO_SHA, '/etc/passwd')],
    ['a ref that is an option', () => mirror.resolveRef('repo', upstream.url, '--upload-pack=x')],
    ['a ref with ..', () => mirror.resolveRef('repo', upstream.url, 'main..evil')],
    ['a ref with a space', () => mirror.resolveRef('repo', upstream.url, 'a b')],
    ['an ext:: URL', () => mirror.resolveRef('repo', 'ext::sh -c touch% /tmp/pwned', 'main')],
    ['a URL that is an option', () => mirror.resolveRef('repo', '--upload-pack=x', 'main')],
  ])('rejects %s before running git', async (_, call) => {
    await caught(call());

    expect(existsSync(root)).toBe(false);
  });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isFile());
}
