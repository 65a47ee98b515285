import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectArtifacts, DEFAULT_COLLECTION_LIMITS } from './artifact-collector';

describe(collectArtifacts.name, () => {
  let dir: string;
  let sandbox: string;

  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'kiln-artifacts-')));
    sandbox = join(dir, 'sandbox');
    mkdirSync(join(sandbox, 'out', 'sub'), { recursive: true });
    writeFileSync(join(sandbox, 'out', 'a.txt'), 'hello\n');
    writeFileSync(join(sandbox, 'out', '.hidden'), 'h');
    writeFileSync(join(sandbox, 'out', 'sub', 'b.bin'), 'bb');
    writeFileSync(join(dir, 'secret'), 'outside');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('matches files of the workspace, dot files included', async () => {
    const { files, refused } = await collectArtifacts(sandbox, ['out/**', '*']);
    expect(files).toEqual([
      { name: 'out/.hidden', path: join(sandbox, 'out', '.hidden'), size: 1 },
      { name: 'out/a.txt', path: join(sandbox, 'out', 'a.txt'), size: 6 },
      { name: 'out/sub/b.bin', path: join(sandbox, 'out', 'sub', 'b.bin'), size: 2 },
    ]);
    expect(refused).toEqual([]);
  });

  it('refuses a symbolic link out of the sandbox, and one to nothing, in the same words', async () => {
    symlinkSync('/etc/passwd', join(sandbox, 'out', 'leak'));
    symlinkSync(join(dir, 'secret'), join(sandbox, 'out', 'sibling'));
    symlinkSync('../../secret', join(sandbox, 'out', 'relative'));
    symlinkSync('/nonexistent/x', join(sandbox, 'out', 'dangling'));
    const { files, refused } = await collectArtifacts(sandbox, ['out/*']);
    expect(files.map((f) => f.name)).toEqual(['out/.hidden', 'out/a.txt']);
    expect(refused).toEqual([
      { name: 'out/dangling', reason: 'it is a symbolic link to no file in the workspace' },
      { name: 'out/leak', reason: 'it is a symbolic link to no file in the workspace' },
      { name: 'out/relative', reason: 'it is a symbolic link to no file in the workspace' },
      { name: 'out/sibling', reason: 'it is a symbolic link to no file in the workspace' },
    ]);
  });

  it('takes a symbolic link to a file inside the sandbox, never walks a linked directory', async () => {
    symlinkSync('a.txt', join(sandbox, 'out', 'alias'));
    symlinkSync('sub', join(sandbox, 'out', 'inner'));
    symlinkSync(dir, join(sandbox, 'out', 'up'));
    const { files, refused } = await collectArtifacts(sandbox, [
      'out/alias',
      'out/up/**',
      'out/inner/*',
    ]);
    expect(files).toEqual([{ name: 'out/alias', path: join(sandbox, 'out', 'a.txt'), size: 6 }]);
    expect(refused).toEqual([
      { name: 'out/inner', reason: 'it is a symbolic link to out/sub, not to a regular file' },
      { name: 'out/up', reason: 'it is a symbolic link to no file in the workspace' },
    ]);
  });

  // A link the build made on the way to a pattern's directory would have the agent (root on the
  // host) list a host directory, and say in the job's log what is in it.
  it('never walks a directory through a symbolic link on the way, nor says where a link goes', async () => {
    mkdirSync(join(dir, 'private', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'private', 'id_rsa'), 'key');
    writeFileSync(join(dir, 'private', 'deeper', 'token'), 'token');
    symlinkSync('/', join(sandbox, 'x'));
    symlinkSync(dir, join(sandbox, 'out', 'host'));
    const { files, refused } = await collectArtifacts(sandbox, [
      `x/${dir.slice(1)}/private/**`,
      'x/etc/*',
      'out/host/private/*',
      'out/sub/*',
    ]);
    expect(files.map((f) => f.name)).toEqual(['out/sub/b.bin']);
    expect(refused).toEqual([
      { name: 'out/host', reason: 'it is a symbolic link to no file in the workspace' },
      { name: 'x', reason: 'it is a symbolic link to no file in the workspace' },
    ]);
  });

  // Patterns and names both come from the repository. As a regular expression (a glob library's),
  // `[^/]*a[^/]*a…b` tries every way of splitting the `a`s among the stars before it fails:
  // years for this one, in the agent's only thread.
  it('matches a hostile pattern against a hostile name at once, where a regular expression would not end', async () => {
    writeFileSync(join(sandbox, 'out', 'a'.repeat(255)), 'x');
    const { files, refused, stopped } = await collectArtifacts(sandbox, [
      `out/${'*a'.repeat(100)}b`,
      'out/sub/*',
    ]);
    expect(files.map((f) => f.name)).toEqual(['out/sub/b.bin']);
    expect(refused).toEqual([]);
    expect(stopped).toBeUndefined();
  });

  it('refuses patterns that reach outside the sandbox (as the compiler does)', async () => {
    const { files, refused } = await collectArtifacts(sandbox, [
      '../secret',
      'out/../../secret',
      '/etc/passwd',
      'out/a.txt',
    ]);
    expect(files.map((f) => f.name)).toEqual(['out/a.txt']);
    expect(refused.map((r) => r.name)).toEqual(['../secret', 'out/../../secret', '/etc/passwd']);
    expect(refused.every((r) => r.reason === 'the pattern reaches outside the workspace')).toBe(
      true,
    );
  });

  it('refuses a file name that is not a valid artifact name, and a file too large', async () => {
    writeFileSync(join(sandbox, 'out', 'new\nline'), 'x');
    writeFileSync(join(sandbox, 'out', 'back\\slash'), 'x');
    const { files, refused } = await collectArtifacts(sandbox, ['out/*'], undefined, {
      ...DEFAULT_COLLECTION_LIMITS,
      maxBytes: 5,
    });
    expect(files.map((f) => f.name)).toEqual(['out/.hidden']);
    expect(refused).toEqual([
      { name: 'out/a.txt', reason: 'it is larger than 5 bytes (6)' },
      { name: 'out/back\\slash', reason: 'it contains a backslash' },
      { name: 'out/new\nline', reason: 'it contains a NUL or control character' },
    ]);
  });

  it('refuses a file whose name is not UTF-8, and uploads the others', async () => {
    // A Linux name is bytes: 0xff is none of UTF-8's, so Node reads it as U+FFFD.
    writeFileSync(
      Buffer.concat([Buffer.from(`${join(sandbox, 'out')}/a`), Buffer.from([0xff])]),
      'x',
    );
    const { files, refused } = await collectArtifacts(sandbox, ['out/*']);
    expect(files.map((f) => f.name)).toEqual(['out/.hidden', 'out/a.txt']);
    expect(refused).toEqual([{ name: 'out/a\uFFFD', reason: 'its name is not UTF-8' }]);
  });

  describe('bounded, whatever the build leaves behind', () => {
    const limits = { ...DEFAULT_COLLECTION_LIMITS, maxFiles: 3, maxRefusals: 2, maxEntries: 50 };

    function many(count: number, name: (i: number) => string, content = 'x'): void {
      mkdirSync(join(sandbox, 'many'), { recursive: true });
      for (let i = 0; i < count; i += 1) writeFileSync(join(sandbox, 'many', name(i)), content);
    }

    it('uploads at most its number of files, refuses a few more by name, and stops looking', async () => {
      many(8, (i) => `f${i}`);
      const found = await collectArtifacts(sandbox, ['many/*'], undefined, limits);
      // Which ones is the directory's order: a build that wants them all archives them.
      expect(found.files).toHaveLength(3);
      expect(found.refused).toEqual([
        {
          name: expect.stringMatching(/^many\/f\d$/) as unknown,
          reason: 'the task has 3 artifact files already (archive them into one)',
        },
        {
          name: expect.stringMatching(/^many\/f\d$/) as unknown,
          reason: 'the task has 3 artifact files already (archive them into one)',
        },
      ]);
      expect(found.stopped).toBe('the search stopped at 5 matches');
    });

    it('stops looking after its number of entries, and says so', async () => {
      many(80, (i) => `f${String(i).padStart(2, '0')}`);
      const found = await collectArtifacts(
        sandbox,
        ['nothing-matches/**', 'many/*.none'],
        undefined,
        limits,
      );
      expect(found).toMatchObject({
        files: [],
        stopped: 'the search stopped after 50 files and directories',
      });
    });

    it('stops matching once the patterns took their work, and says which one', async () => {
      many(10, (i) => `${'a'.repeat(200)}${i}`);
      const hostile = `many/${'*a'.repeat(50)}b`;
      const found = await collectArtifacts(sandbox, ['many/*0', hostile], undefined, {
        ...limits,
        maxMatchSteps: 10_000,
      });
      expect(found.stopped).toBe(
        `the search stopped: matching names against ${JSON.stringify(hostile)} took too much ` +
          'work (10000 steps in all); simpler patterns take less',
      );
    });

    it('refuses what would pass the total of bytes', async () => {
      many(3, (i) => `f${i}`, '12345');
      const { files, refused } = await collectArtifacts(sandbox, ['many/*'], undefined, {
        ...limits,
        maxTotalBytes: 12,
      });
      expect(files.map((f) => f.name)).toEqual(['many/f0', 'many/f1']);
      expect(refused).toEqual([
        { name: 'many/f2', reason: "the task's artifacts would pass 12 bytes in all" },
      ]);
    });

    it('keeps a long refused name cut, not whole', async () => {
      const long = 'n'.repeat(250);
      many(1, () => long);
      const { refused } = await collectArtifacts(sandbox, ['many/*'], undefined, {
        ...limits,
        maxBytes: 0,
      });
      expect(refused[0]?.name).toBe(`many/${'n'.repeat(195)}…`);
    });

    it('gives up when the task runs out of time', async () => {
      many(5, (i) => `f${i}`);
      await expect(
        collectArtifacts(sandbox, ['many/*'], AbortSignal.abort(), limits),
      ).rejects.toThrow();
    });
  });
});
