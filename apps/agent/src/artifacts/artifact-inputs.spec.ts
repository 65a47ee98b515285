import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactInputError, fetchArtifactInputs } from './artifact-inputs';
import type { RetryPolicy } from './artifact-request';
import { FakeArtifactServer } from './fake-artifact-server';

const TOKEN = 'input-token';
/** Tries as in production, without the waits. */
const FAST: RetryPolicy = { attempts: 3, baseMs: 1, maxMs: 2 };

describe(fetchArtifactInputs.name, () => {
  let server: FakeArtifactServer;
  let dir: string;
  let sandbox: string;
  let outside: string;

  beforeAll(async () => {
    server = await FakeArtifactServer.start();
  });
  afterAll(() => server.stop());

  beforeEach(() => {
    server.reset();
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'kiln-inputs-')));
    sandbox = join(dir, 'sandbox');
    outside = join(dir, 'outside');
    mkdirSync(sandbox);
    mkdirSync(outside);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  type Input = ReturnType<FakeArtifactServer['serve']>;
  const fetchInputs = (...files: Input[]): Promise<string[]> =>
    fetchArtifactInputs(sandbox, { token: TOKEN, files }, AbortSignal.timeout(10_000), FAST);

  /** The error fetching `files` fails with. */
  async function failure(...files: Input[]): Promise<ArtifactInputError> {
    const error = await fetchInputs(...files).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ArtifactInputError);
    return error as ArtifactInputError;
  }

  it('places every file at its name, making nested directories, and says so per file', async () => {
    // A checkout with a real `dist` and a committed file at one of the names.
    mkdirSync(join(sandbox, 'dist'));
    writeFileSync(join(sandbox, 'dist', 'kept.txt'), 'kept');
    writeFileSync(join(sandbox, 'notes.txt'), 'from the checkout');
    const big = randomBytes(300_000);
    const files = [
      server.serve('/r/1/dist/app.tgz', 'dist/app.tgz', big),
      server.serve('/r/1/dist/sub/deep/report.json', 'dist/sub/deep/report.json', '{"ok":1}'),
      server.serve('/r/1/notes.txt', 'notes.txt', ''),
    ];

    const lines = await fetchInputs(...files);

    expect(readFileSync(join(sandbox, 'dist', 'app.tgz')).equals(big)).toBe(true);
    expect(readFileSync(join(sandbox, 'dist', 'sub', 'deep', 'report.json'), 'utf8')).toBe(
      '{"ok":1}',
    );
    expect(readFileSync(join(sandbox, 'notes.txt'), 'utf8')).toBe('');
    // No temporary file is left beside the placed ones.
    expect(readdirSync(join(sandbox, 'dist')).sort()).toEqual(['app.tgz', 'kept.txt', 'sub']);
    expect(lines).toEqual(
      files.map(
        (f) =>
          `kiln: artifact ${f.name}: fetched (${f.size} bytes, sha256 ${f.sha256.slice(0, 12)})`,
      ),
    );
    expect(server.requests.map((r) => [r.method, r.path, r.authorization])).toEqual(
      files.map((f) => ['GET', new URL(f.url).pathname, `Bearer ${TOKEN}`]),
    );
  });

  it('fails on a sha256 mismatch, leaving no file at the name, without trying again', async () => {
    const file = server.serve('/r/1/dist/app.tgz', 'dist/app.tgz', 'the real bytes');
    server.stored.set('/r/1/dist/app.tgz', Buffer.from('other  bytes!!'));
    const served = server.serve('/other', 'x', 'other  bytes!!').sha256;

    const error = await failure(file);

    expect(error.message).toBe(
      `artifact dist/app.tgz: sha256 mismatch: expected ${file.sha256}, got ${served}`,
    );
    expect(existsSync(join(sandbox, 'dist', 'app.tgz'))).toBe(false);
    expect(readdirSync(join(sandbox, 'dist'))).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it('fails on a size mismatch, stopping a server that sends more than the size', async () => {
    const file = server.serve('/r/1/app.bin', 'app.bin', 'abc');
    server.stored.set('/r/1/app.bin', Buffer.alloc(1_000_000, 1));

    expect((await failure(file)).message).toBe(
      'artifact app.bin: size mismatch: expected 3 bytes, got more',
    );
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('refuses a directory that is a symbolic link out of the sandbox, writing nothing', async () => {
    symlinkSync(outside, join(sandbox, 'dist'));
    mkdirSync(join(sandbox, 'a'));
    symlinkSync(outside, join(sandbox, 'a', 'b'));

    expect((await failure(server.serve('/1', 'dist/app.tgz', 'x'))).message).toBe(
      'artifact dist/app.tgz: dist is a symbolic link in the workspace',
    );
    expect((await failure(server.serve('/2', 'a/b/c/app.tgz', 'x'))).message).toBe(
      'artifact a/b/c/app.tgz: a/b is a symbolic link in the workspace',
    );
    expect(readdirSync(outside)).toEqual([]);
    expect(server.requests).toEqual([]);
  });

  it('refuses a symbolic link at the name itself, leaving its target alone', async () => {
    writeFileSync(join(outside, 'target'), 'precious');
    symlinkSync(join(outside, 'target'), join(sandbox, 'app.tgz'));

    expect((await failure(server.serve('/1', 'app.tgz', 'x'))).message).toBe(
      'artifact app.tgz: it is a symbolic link in the workspace',
    );
    expect(readFileSync(join(outside, 'target'), 'utf8')).toBe('precious');
    expect(readdirSync(outside)).toEqual(['target']);
  });

  it('refuses a path through a file and an invalid name', async () => {
    writeFileSync(join(sandbox, 'README.md'), 'readme');

    expect((await failure(server.serve('/1', 'README.md/x', 'x'))).message).toBe(
      'artifact README.md/x: README.md is not a directory in the workspace',
    );
    expect((await failure(server.serve('/3', '../escape', 'x'))).message).toBe(
      'artifact "../escape": it contains a ".." segment',
    );
    expect(readdirSync(dir).sort()).toEqual(['outside', 'sandbox']);
  });

  it("fails on a 404 naming the artifact and the server's message, without trying again", async () => {
    const file = server.serve('/r/1/dist/app.tgz', 'dist/app.tgz', 'bytes');
    server.stored.delete('/r/1/dist/app.tgz');

    expect((await failure(file)).message).toBe(
      'artifact dist/app.tgz: download failed: 404 no such artifact',
    );
    expect(server.requests).toHaveLength(1);
    expect(existsSync(join(sandbox, 'dist', 'app.tgz'))).toBe(false);
  });

  it('tries again after a 503 and after a connection lost midway', async () => {
    const file = server.serve('/r/1/app.tgz', 'app.tgz', randomBytes(100_000));
    server.override('/r/1/app.tgz', { status: 503, body: 'unavailable' }, 'drop');

    await fetchInputs(file);

    expect(server.requests).toHaveLength(3);
    expect(readFileSync(join(sandbox, 'app.tgz'))).toEqual(server.stored.get('/r/1/app.tgz'));
    expect(readdirSync(sandbox)).toEqual(['app.tgz']);
  });

  it('gives up after the last try of a server that keeps failing', async () => {
    const file = server.serve('/r/1/app.tgz', 'app.tgz', 'bytes');
    server.override('/r/1/app.tgz', ...Array.from({ length: 3 }, () => ({ status: 502 })));

    expect((await failure(file)).message).toBe('artifact app.tgz: download failed: 502 ');
    expect(server.requests).toHaveLength(3);
  });

  it('stops at the first file that fails', async () => {
    const missing = server.serve('/missing', 'a.txt', 'a');
    server.stored.delete('/missing');
    const fine = server.serve('/fine', 'b.txt', 'b');

    await failure(missing, fine);

    expect(server.requests.map((r) => r.path)).toEqual(['/missing']);
    expect(readdirSync(sandbox)).toEqual([]);
  });
});
