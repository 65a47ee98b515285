import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { uploadArtifacts } from './artifact-uploader';
import { FakeArtifactServer } from './fake-artifact-server';

describe(uploadArtifacts.name, () => {
  let server: FakeArtifactServer;
  let dir: string;

  beforeAll(async () => {
    server = await FakeArtifactServer.start();
  });
  afterAll(() => server.stop());

  beforeEach(() => {
    server.reset();
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'kiln-upload-')));
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out', 'a b.txt'), 'hello\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const upload = () =>
    uploadArtifacts(
      dir,
      { patterns: ['out/**'], url: server.url('/t/artifacts/'), token: 'tok' },
      AbortSignal.timeout(10_000),
    );

  it('puts each file at its name with the token and its sha256, trying again after a 503', async () => {
    server.override('/t/artifacts/out/a b.txt', { status: 503, body: 'busy' });

    const report = await upload();

    expect(report).toEqual({
      uploaded: 1,
      failed: 0,
      lines: ['kiln: artifact out/a b.txt: uploaded (6 bytes)'],
    });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]).toMatchObject({
      method: 'PUT',
      authorization: 'Bearer tok',
      sha256: createHash('sha256').update('hello\n').digest('hex'),
    });
    expect(server.stored.get('/t/artifacts/out/a b.txt')?.toString()).toBe('hello\n');
  });

  it("does not try a refused upload again, and says the server's message", async () => {
    server.override('/t/artifacts/out/a b.txt', {
      status: 413,
      body: JSON.stringify({ message: 'too large' }),
    });

    const report = await upload();

    expect(report).toMatchObject({
      uploaded: 0,
      failed: 1,
      lines: ['kiln: artifact out/a b.txt: upload failed: 413 too large'],
    });
    expect(server.requests).toHaveLength(1);
  });

  it('quotes a refused name, so that it cannot pass for a line of the agent on a terminal', async () => {
    // ESC [1A: the cursor up a line, where the name then prints over the line before.
    writeFileSync(join(dir, 'out', 'x\u001b[1Akiln: artifact app.tar: uploaded (1 bytes)'), 'x');

    const report = await upload();

    expect(report.lines).toContain(
      'kiln: artifact "out/x\\u001b[1Akiln: artifact app.tar: uploaded (1 bytes)": refused: ' +
        'it contains a NUL or control character',
    );
  });
});
