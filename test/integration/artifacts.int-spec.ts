import { ARTIFACT_SHA256_HEADER } from '@kiln/contracts';
import { DATABASE, type DatabaseConnection } from '@kiln/persistence';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadArtifacts } from '../../apps/agent/src/artifacts/artifact-uploader';
import { TaskTokens } from '../../apps/server/src/logs/task-tokens';
import { ApiClient } from '../e2e/support/api-client';
import { firstJobOf } from './support/runs';
import { startServerApp, type ServerApp } from './support/server-app';
import { createUpstream } from './support/upstream';

const API_TOKEN = 'artifacts-int-api-token-0123456789';
const TASK_ID = 'job-artifacts-1-abc';
const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** A request with the path exactly as given: fetch would resolve its `..` segments first. */
function raw(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('artifacts: agent upload → server storage → listing and download', () => {
  let server: ServerApp;
  let jobId: string;
  let runId: string;
  let token: string;
  let dataDir: string;

  /** `auth` null: anonymous. */
  const api = (path: string, auth: string | null = API_TOKEN): Promise<Response> =>
    fetch(`${server.url}${path}`, {
      headers: auth === null ? {} : { authorization: `Bearer ${auth}` },
    });

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: API_TOKEN } });
    dataDir = join(server.dir, 'data');
    const upstream = createUpstream(join(server.dir, 'upstream'), {
      '.kiln.yml': 'jobs:\n  a:\n    steps:\n      - run: echo a\n    artifacts: [out/**]\n',
    });
    const admin = new ApiClient(server.url, API_TOKEN);
    const repo = await admin.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/artifacts',
      cloneUrl: upstream.url,
    });
    const run = await admin.ok<{ id: string }>('POST', `/api/v1/repositories/${repo.id}/runs`, {});
    runId = run.id;
    jobId = await firstJobOf(admin, run.id);
    // As the build framework does when it launches the job (no master here).
    const { db } = server.app.get<DatabaseConnection>(DATABASE);
    await db
      .updateTable('jobs')
      .set({ task_id: TASK_ID, attempt: 1 })
      .where('id', '=', jobId)
      .execute();
    token = server.app.get(TaskTokens).logToken(TASK_ID);
  }, 60_000);

  afterAll(() => server?.close());

  it("uploads a sandbox's matching files, refuses a link out of it, and serves them", async () => {
    const sandbox = join(server.dir, 'sandbox');
    mkdirSync(join(sandbox, 'out', 'sub dir'), { recursive: true });
    writeFileSync(join(sandbox, 'out', 'a.txt'), 'hello\n');
    const binary = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    writeFileSync(join(sandbox, 'out', 'sub dir', 'b%?#.bin'), binary);
    symlinkSync('/etc/passwd', join(sandbox, 'out', 'leak'));

    const report = await uploadArtifacts(
      sandbox,
      { patterns: ['out/**'], url: `${server.url}/api/v1/tasks/${TASK_ID}/artifacts`, token },
      AbortSignal.timeout(10_000),
    );
    expect(report).toEqual({
      uploaded: 2,
      failed: 0,
      lines: [
        'kiln: artifact "out/leak": refused: it is a symbolic link to no file in the workspace',
        'kiln: artifact out/a.txt: uploaded (6 bytes)',
        'kiln: artifact out/sub dir/b%?#.bin: uploaded (70000 bytes)',
      ],
    });

    const list = await api(`/api/v1/jobs/${jobId}/artifacts`);
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([
      {
        name: 'out/a.txt',
        attempt: 1,
        size: 6,
        sha256: sha256('hello\n'),
        createdAt: expect.any(String) as unknown,
      },
      {
        name: 'out/sub dir/b%?#.bin',
        attempt: 1,
        size: 70_000,
        sha256: sha256(binary),
        createdAt: expect.any(String) as unknown,
      },
    ]);

    const a = await api(`/api/v1/jobs/${jobId}/artifacts/out/a.txt`);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe('application/octet-stream');
    expect(a.headers.get('x-content-type-options')).toBe('nosniff');
    expect(a.headers.get('content-disposition')).toBe('attachment; filename="a.txt"');
    expect(await a.text()).toBe('hello\n');
    const b = await api(
      `/api/v1/jobs/${jobId}/artifacts/out/sub%20dir/${encodeURIComponent('b%?#.bin')}`,
    );
    expect(b.status).toBe(200);
    expect(Buffer.from(await b.arrayBuffer()).equals(binary)).toBe(true);

    expect((await api(`/api/v1/jobs/${jobId}/artifacts/out/leak`)).status).toBe(404);
    expect((await api(`/api/v1/jobs/${jobId}/artifacts?attempt=1`)).status).toBe(200);
    expect((await api(`/api/v1/jobs/${jobId}/artifacts?attempt=2`)).status).toBe(404);
    expect((await api(`/api/v1/jobs/${jobId}/artifacts`, null)).status).toBe(401);
    expect((await api(`/api/v1/jobs/${jobId}/artifacts/out/a.txt`, null)).status).toBe(401);
  });

  it.each([
    ['../../etc/passwd', '".." segment'],
    ['%2E%2E/%2E%2E/etc/passwd', '".." segment'],
    ['out/../../../../etc/passwd', '".." segment'],
    ['..%2F..%2Fetc%2Fpasswd', '".." segment'],
    ['%2Fetc%2Fpasswd', 'absolute path'],
    ['..%5C..%5Cetc%5Cpasswd', 'backslash'],
    ['a%00b', 'control character'],
    ['out//a', 'empty segment'],
    ['./a', '"." segment'],
  ])('refuses the name %s with 400, writing nothing', async (name, problem) => {
    const res = await raw(
      server.url,
      'PUT',
      `/api/v1/tasks/${TASK_ID}/artifacts/${name}`,
      {
        authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream',
        [ARTIFACT_SHA256_HEADER]: sha256('pwned'),
      },
      'pwned',
    );
    expect(res.status, res.text).toBe(400);
    expect((JSON.parse(res.text) as { message: string }).message).toContain(problem);
    expect(existsSync(join(dataDir, 'etc'))).toBe(false);
    expect(existsSync(join(server.dir, 'etc'))).toBe(false);
    expect(readFileSync('/etc/passwd', 'utf8')).not.toContain('pwned');
  });

  it('refuses a wrong checksum (keeping nothing) and a wrong token', async () => {
    const put = (name: string, headers: Record<string, string>) =>
      raw(
        server.url,
        'PUT',
        `/api/v1/tasks/${TASK_ID}/artifacts/${name}`,
        {
          'content-type': 'application/octet-stream',
          ...headers,
        },
        'data',
      );
    const bad = await put('bad.txt', {
      authorization: `Bearer ${token}`,
      [ARTIFACT_SHA256_HEADER]: sha256('other'),
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('SHA-256');
    expect(
      (await put('bad.txt', { authorization: `Bearer ${token}`, [ARTIFACT_SHA256_HEADER]: 'x' }))
        .status,
    ).toBe(400);
    expect(
      (
        await put('bad.txt', {
          authorization: `Bearer ${API_TOKEN}`,
          [ARTIFACT_SHA256_HEADER]: sha256('data'),
        })
      ).status,
    ).toBe(401);
    const names = (
      (await (await api(`/api/v1/jobs/${jobId}/artifacts`)).json()) as { name: string }[]
    ).map((a) => a.name);
    expect(names).not.toContain('bad.txt');

    // Everything stored is under the artifact root, in the job's attempt.
    const root = join(dataDir, 'artifacts');
    const stored = readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
      .sort();
    expect(stored).toEqual([
      `${runId}/${jobId}/1/out/a.txt`,
      `${runId}/${jobId}/1/out/sub dir/b%?#.bin`,
    ]);
  });
});
