import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Artifact } from '../api-types';
import { ExitCode } from '../errors';
import { runCli } from '../program';
import { FakeApi, memoryIo } from '../testing/fake-api';
import { REPO, RUN_ID, run, runDetails, runLookup } from '../testing/fixtures';
import { registerArtifacts } from './artifacts';

const BYTES = Buffer.from('the build output\n'.repeat(1000));
const SHA256 = createHash('sha256').update(BYTES).digest('hex');
const DOWNLOAD = 'GET /api/v1/jobs/j0/artifacts/out/app.tar.gz';

function artifact(name: string, size: number, sha256: string): Artifact {
  return { name, attempt: 1, size, sha256, createdAt: '2025-01-10T11:01:00Z' };
}

describe(registerArtifacts.name, () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
    dir = mkdtempSync(join(tmpdir(), 'kiln-artifacts-'));
    api.reply('GET /api/v1/repositories', [REPO]);
    api.reply(runLookup(3), { runs: [run()] });
    api.reply(
      `GET /api/v1/runs/${RUN_ID}`,
      runDetails({}, [{ key: 'build' }, { key: 'test' }, { key: 'lint', state: 'skipped' }]),
    );
  });
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await api.stop();
  });

  /** Serves the artifact's bytes with `sha256` as the checksum header (none when undefined). */
  function serve(sha256: string | undefined): void {
    api.on(DOWNLOAD, (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        ...(sha256 === undefined ? {} : { 'x-kiln-sha256': sha256 }),
      });
      res.end(BYTES);
    });
  }

  it("lists every job's artifacts, or all of them flat with the job as JSON", async () => {
    api.reply('GET /api/v1/jobs/j0/artifacts', [
      artifact('out/app.tar.gz', BYTES.length, SHA256),
      artifact('out/app.sbom.json', 512, 'b'.repeat(64)),
    ]);
    api.reply('GET /api/v1/jobs/j1/artifacts', [artifact('junit.xml', 2048, 'c'.repeat(64))]);
    api.reply('GET /api/v1/jobs/j2/artifacts', []);
    const io = memoryIo(env);
    expect(await runCli(['artifacts', 'acme/app', '3'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe(
      'JOB    NAME               SIZE      SHA256\n' +
        `build  out/app.tar.gz     16.6 KiB  ${SHA256.slice(0, 12)}\n` +
        'build  out/app.sbom.json  512 B     bbbbbbbbbbbb\n' +
        'test   junit.xml          2.0 KiB   cccccccccccc\n',
    );
    const jsonIo = memoryIo(env);
    expect(await runCli(['artifacts', 'acme/app', '3', '--json'], jsonIo)).toBe(ExitCode.Ok);
    const listed = JSON.parse(jsonIo.stdoutText()) as (Artifact & { job: string })[];
    expect(listed.map((a) => `${a.job}:${a.name}`)).toEqual([
      'build:out/app.tar.gz',
      'build:out/app.sbom.json',
      'test:junit.xml',
    ]);
    expect(listed[0]).toMatchObject({ jobId: 'j0', sha256: SHA256, size: BYTES.length });
  });

  it('says so when the run kept no artifacts', async () => {
    for (const job of ['j0', 'j1', 'j2']) api.reply(`GET /api/v1/jobs/${job}/artifacts`, []);
    const io = memoryIo(env);
    expect(await runCli(['artifacts', 'acme/app', '3'], io)).toBe(ExitCode.Ok);
    expect(io.stderrText()).toBe('kiln: run #3 of acme/app kept no artifacts\n');
  });

  it('downloads to the last part of the name in the current directory, checked', async () => {
    serve(SHA256);
    const io = memoryIo(env, { cwd: dir });
    expect(
      await runCli(['artifacts', 'download', 'acme/app', '3', 'build', 'out/app.tar.gz'], io),
    ).toBe(ExitCode.Ok);
    expect(readFileSync(join(dir, 'app.tar.gz')).equals(BYTES)).toBe(true);
    expect(readdirSync(dir)).toEqual(['app.tar.gz']);
    expect(io.stdoutText()).toBe(
      'Saved out/app.tar.gz of build (run #3) to app.tar.gz: 16.6 KiB, sha256 checked\n',
    );
  });

  it('saves into a directory named by -o, and says where as JSON with --json', async () => {
    serve(SHA256.toUpperCase());
    const io = memoryIo(env, { cwd: '/' });
    const argv = ['artifacts', 'download', 'acme/app', '3', 'build', 'out/app.tar.gz'];
    expect(await runCli([...argv, '-o', dir, '--json'], io)).toBe(ExitCode.Ok);
    expect(JSON.parse(io.stdoutText())).toEqual({
      path: join(dir, 'app.tar.gz'),
      job: 'build',
      jobId: 'j0',
      name: 'out/app.tar.gz',
      size: BYTES.length,
      sha256: SHA256,
    });
    expect(readFileSync(join(dir, 'app.tar.gz')).equals(BYTES)).toBe(true);
  });

  it('keeps nothing, and leaves an existing file alone, when the bytes do not match: exit 3', async () => {
    serve('0'.repeat(64));
    const target = join(dir, 'app.tar.gz');
    writeFileSync(target, 'the previous download');
    const io = memoryIo(env, { cwd: dir });
    expect(
      await runCli(['artifacts', 'download', 'acme/app', '3', 'build', 'out/app.tar.gz'], io),
    ).toBe(ExitCode.Api);
    expect(io.stderrText()).toBe(
      `kiln: out/app.tar.gz does not match its checksum (sha256 of the ${BYTES.length} bytes ` +
        `received: ${SHA256}, the server's: ${'0'.repeat(64)}): the file was removed\n`,
    );
    expect(readdirSync(dir)).toEqual(['app.tar.gz']);
    expect(readFileSync(target, 'utf8')).toBe('the previous download');
  });

  it('refuses a download without a checksum to check it against: exit 3', async () => {
    serve(undefined);
    const io = memoryIo(env, { cwd: dir });
    expect(
      await runCli(['artifacts', 'download', 'acme/app', '3', 'build', 'out/app.tar.gz'], io),
    ).toBe(ExitCode.Api);
    expect(io.stderrText()).toMatch(/without its x-kiln-sha256 header/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('exits 4 naming the jobs there are for a job the run does not have', async () => {
    const io = memoryIo(env, { cwd: dir });
    expect(
      await runCli(['artifacts', 'download', 'acme/app', '3', 'deploy', 'out/app.tar.gz'], io),
    ).toBe(ExitCode.NotFound);
    expect(io.stderrText()).toBe(
      "kiln: run #3 of acme/app has no job 'deploy' (jobs: build, test, lint)\n",
    );
  });

  it("passes on the server's 404 for an artifact the job did not keep", async () => {
    api.reply(
      'GET /api/v1/jobs/j0/artifacts/nope.txt',
      {
        statusCode: 404,
        error: 'Not Found',
        message: 'attempt 1 of job j0 has no artifact nope.txt',
      },
      404,
    );
    const io = memoryIo(env, { cwd: dir });
    expect(await runCli(['artifacts', 'download', 'acme/app', '3', 'build', 'nope.txt'], io)).toBe(
      ExitCode.NotFound,
    );
    expect(io.stderrText()).toBe('kiln: attempt 1 of job j0 has no artifact nope.txt\n');
    expect(readdirSync(dir)).toEqual([]);
  });
});
