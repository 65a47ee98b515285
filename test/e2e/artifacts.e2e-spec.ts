import { freePort } from '@kiln/queue/testing';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { API_TOKEN, PipelineStack } from './support/pipeline-stack';

const PIPELINE = `
jobs:
  build:
    steps:
      - run: mkdir -p out && echo hello > out/a.txt && ln -s /etc/passwd out/leak
    artifacts: [out/**]
`;

interface ArtifactView {
  name: string;
  attempt: number;
  size: number;
  sha256: string;
}

describe('artifacts: a job keeps its files, never what links out of its workspace', () => {
  beforeEach(printProcessesOnFailure);
  let stack: PipelineStack;
  let git: GitDaemon;

  beforeAll(async () => {
    git = await GitDaemon.start(await freePort());
    stack = await PipelineStack.start();
  });

  afterAll(async () => {
    await Promise.all([stack?.dispose(), git?.stop()]);
  });

  it('uploads out/a.txt with its SHA-256, refuses out/leak, and serves the bytes', async () => {
    git.createRepository('artifacts')({ '.kiln.yml': PIPELINE });
    const repo = await stack.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/artifacts',
      cloneUrl: git.url('artifacts'),
    });
    const started = await stack.ok<{ id: string }>('POST', `/api/v1/repositories/${repo.id}/runs`, {
      branch: 'main',
    });
    const run = await stack.waitForRun(started.id);
    const job = run.jobs[0]!;
    const log = await stack.log(job.id);
    expect(run.state, log).toBe('success');

    const artifacts = await stack.ok<ArtifactView[]>('GET', `/api/v1/jobs/${job.id}/artifacts`);
    expect(artifacts).toEqual([
      {
        name: 'out/a.txt',
        attempt: 1,
        size: 6,
        sha256: createHash('sha256').update('hello\n').digest('hex'),
        createdAt: expect.any(String) as unknown,
      },
    ]);
    const res = await fetch(`${stack.serverUrl}/api/v1/jobs/${job.id}/artifacts/out/a.txt`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="a.txt"');
    expect(Buffer.from(await res.arrayBuffer()).toString('utf8')).toBe('hello\n');

    expect(log).toContain(
      'kiln: artifact "out/leak": refused: it is a symbolic link to no file in the workspace',
    );
    expect(log).toContain('kiln: artifact out/a.txt: uploaded (6 bytes)');
    const missing = await stack.api('GET', `/api/v1/jobs/${job.id}/artifacts/out/leak`);
    expect(missing.status).toBe(404);
    const stored = readdirSync(join(stack.serverDataDir, 'artifacts'), { recursive: true });
    expect(stored.map(String).filter((p) => p.endsWith('leak'))).toEqual([]);
    expect(
      existsSync(join(stack.serverDataDir, 'artifacts', run.id, job.id, '1', 'out', 'a.txt')),
    ).toBe(true);
  });
});
