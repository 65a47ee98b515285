import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { programsForked } from '@kiln/common/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPackServer, type PackServer } from '../../../../test/integration/support/pack-server';
import { createUpstream } from '../../../../test/integration/support/upstream';
import { CommitPacks } from './commit-pack';

describe(CommitPacks.name, () => {
  let dir: string;
  let server: PackServer | undefined;
  const auth = { authorization: `Basic ${Buffer.from('kiln-task:tok').toString('base64')}` };
  const git = (cwd: string, ...args: string[]): string =>
    execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-commit-pack-'));
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('packs the commit and its whole tree, and none of its history', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'old.txt': 'gone later\n' });
    const repo = join(dir, 'upstream');
    git(repo, 'rm', '-q', 'old.txt');
    writeFileSync(join(repo, 'new.txt'), 'kept\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'two');
    const sha = git(repo, 'rev-parse', 'HEAD');
    server = await startPackServer(() => ({ repositoryDir: join(repo, '.git'), sha }));

    const response = await fetch(server.url, { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-git-packfile');
    const pack = join(dir, 'commit.pack');
    writeFileSync(pack, Buffer.from(await response.arrayBuffer()));
    git(dir, 'index-pack', pack);
    const listed = git(dir, 'verify-pack', '-v', pack);

    const has = (object: string) => listed.includes(object);
    expect(has(sha)).toBe(true);
    expect(has(git(repo, 'rev-parse', 'HEAD:new.txt'))).toBe(true);
    // Neither the first commit nor what only it had.
    expect(has(upstream.sha)).toBe(false);
    expect(has(git(repo, 'rev-parse', `${upstream.sha}:old.txt`))).toBe(false);
  });

  it('goes on serving when agents go away while a large tree is listed', async () => {
    // 20,000 files in one commit, written by fast-import: listing them takes a while.
    const repo = join(dir, 'large');
    git(dir, 'init', '-q', repo);
    const files = Array.from(
      { length: 20_000 },
      (_, i) => `M 644 inline f${i}.txt\ndata 2\n${i % 10}\n`,
    );
    const stream =
      'commit refs/heads/main\ncommitter k <k@k> 0 +0000\ndata 5\nlarge\n' + files.join('');
    execFileSync('git', ['fast-import', '--quiet'], { cwd: repo, input: stream });
    const sha = git(repo, 'rev-parse', 'main');
    server = await startPackServer(() => ({ repositoryDir: join(repo, '.git'), sha }));

    for (let i = 0; i < 10; i += 1) {
      const gone = new AbortController();
      const download = fetch(server.url, { headers: auth, signal: gone.signal });
      setTimeout(() => gone.abort(), i % 10);
      await download.then((response) => response.arrayBuffer()).catch(() => undefined);
    }
    // Still up, and still packing.
    const response = await fetch(server.url, { headers: auth });
    expect(response.status).toBe(200);
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it('packs a commit once: later downloads read the kept file, without git', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'a.txt': 'a\n' });
    const repo = join(dir, 'upstream', '.git');
    server = await startPackServer(() => ({ repositoryDir: repo, sha: upstream.sha }));

    const first = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const response = await fetch(server?.url ?? '', { headers: auth });
        expect(response.status).toBe(200);
        return Buffer.from(await response.arrayBuffer());
      }),
    );
    // Made once, by whichever asked first; nothing half-made left beside it.
    expect(readdirSync(join(repo, 'kiln-packs'))).toEqual([`${upstream.sha}.pack`]);
    // Without its objects, git could pack nothing now.
    rmSync(join(repo, 'objects'), { recursive: true, force: true });
    const again = await fetch(server.url, { headers: auth });

    expect(again.status).toBe(200);
    const bytes = Buffer.from(await again.arrayBuffer());
    expect(Number(again.headers.get('content-length'))).toBe(bytes.length);
    for (const pack of first) expect(pack.equals(bytes)).toBe(true);
  });

  it('packs a commit with git started from the launcher, never forking the server', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'a.txt': 'a\n' });
    const mirror = join(dir, 'upstream', '.git');
    const packs = new CommitPacks();

    expect(await programsForked(() => packs.packOf(mirror, upstream.sha).then(() => {}))).toEqual(
      [],
    );
    git(dir, 'index-pack', join(mirror, 'kiln-packs', `${upstream.sha}.pack`));
  });

  it('keeps the most recently used packs of a mirror', async () => {
    const repo = join(dir, 'upstream');
    const shas = [createUpstream(repo, { 'a.txt': '0\n' }).sha];
    for (const n of [1, 2]) {
      writeFileSync(join(repo, 'a.txt'), `${n}\n`);
      git(repo, 'commit', '-qam', `c${n}`);
      shas.push(git(repo, 'rev-parse', 'HEAD'));
    }
    const [first, second, third] = shas as [string, string, string];
    const packs = new CommitPacks({ perMirror: 2 });
    const mirror = join(repo, '.git');

    await packs.packOf(mirror, first);
    await packs.packOf(mirror, second);
    await packs.packOf(mirror, first);
    await packs.packOf(mirror, third);

    // The second was used least recently: it went when the third came.
    expect(readdirSync(join(mirror, 'kiln-packs')).sort()).toEqual(
      [`${first}.pack`, `${third}.pack`].sort(),
    );
  });

  it("stays within its size across mirrors, removing the least recently used of any mirror's", async () => {
    // Random text, which compresses little: each commit's pack is about 41 kB, two fit in 100 kB.
    const commit = (work: string): string => {
      writeFileSync(join(work, 'blob.txt'), randomBytes(40_000).toString('base64'));
      git(work, 'add', '-A');
      git(work, 'commit', '-qm', 'blob');
      return git(work, 'rev-parse', 'HEAD');
    };
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    createUpstream(a, { 'README.md': 'a\n' });
    createUpstream(b, { 'README.md': 'b\n' });
    const [a1, b1, b2] = [commit(a), commit(b), commit(b)];
    // Mirrors side by side, as the server keeps them.
    const mirrors = join(dir, 'mirrors');
    git(dir, 'clone', '-q', '--bare', a, join(mirrors, 'a.git'));
    git(dir, 'clone', '-q', '--bare', b, join(mirrors, 'b.git'));
    const packs = new CommitPacks({ maxBytes: 100_000 });

    await packs.packOf(join(mirrors, 'a.git'), a1);
    await packs.packOf(join(mirrors, 'b.git'), b1);
    await packs.packOf(join(mirrors, 'a.git'), a1);
    await packs.packOf(join(mirrors, 'b.git'), b2);

    // b1, the least recently used of all, went to make room for b2.
    expect(readdirSync(join(mirrors, 'a.git', 'kiln-packs'))).toEqual([`${a1}.pack`]);
    expect(readdirSync(join(mirrors, 'b.git', 'kiln-packs'))).toEqual([`${b2}.pack`]);
  });

  it('makes many packs asked for at once, a few at a time, each whole', async () => {
    const repo = join(dir, 'upstream');
    const shas = [createUpstream(repo, { 'a.txt': '0\n' }).sha];
    for (let n = 1; n < 6; n += 1) {
      writeFileSync(join(repo, 'a.txt'), `${n}\n`);
      git(repo, 'commit', '-qam', `c${n}`);
      shas.push(git(repo, 'rev-parse', 'HEAD'));
    }
    const mirror = join(repo, '.git');
    const packs = new CommitPacks({ perMirror: shas.length });

    const made = await Promise.all(shas.map((sha) => packs.packOf(mirror, sha)));

    for (const [i, path] of made.entries()) {
      expect(path).toBe(join(mirror, 'kiln-packs', `${shas[i] ?? ''}.pack`));
      // A whole pack: git indexes it, checking every object.
      expect(git(dir, 'index-pack', '-o', join(dir, `${i}.idx`), path)).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('answers 500 naming the commit it cannot pack', async () => {
    const upstream = createUpstream(join(dir, 'upstream'), { 'a.txt': 'a\n' });
    const missing = upstream.sha.replace(/^./, (c) => (c === 'f' ? 'e' : 'f'));
    server = await startPackServer(() => ({
      repositoryDir: join(dir, 'upstream', '.git'),
      sha: missing,
    }));
    const response = await fetch(server.url, { headers: auth });
    expect(response.status).toBe(500);
    expect(await response.text()).toContain(`cannot pack ${missing}`);
  });
});
