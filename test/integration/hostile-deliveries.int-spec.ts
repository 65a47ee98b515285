import examples from '@octokit/webhooks-examples';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../e2e/support/api-client';
import { githubPush, webhookHeaders } from '../e2e/support/forge';
import { git } from '../e2e/support/git';
import { startServerApp, type ServerApp } from './support/server-app';
import { createUpstream } from './support/upstream';

const API_TOKEN = 'hostile-deliveries-int-api-token-01';

interface RunView {
  id: string;
  state: string;
  message?: string;
  errors?: string[];
  jobs: { key: string; state: string }[];
}

function githubExample(name: string, pick: (p: Record<string, unknown>) => boolean) {
  const found = (
    examples.find((d) => d.name === name)?.examples as Record<string, unknown>[] | undefined
  )?.find(pick);
  if (found === undefined) throw new Error(`no ${name} example matches`);
  return structuredClone(found);
}

/**
 * The server in-process with its trigger worker, repositories on local git: deliveries and
 * pipelines as an outside tester would send them.
 */
describe('hostile deliveries and pipelines', () => {
  let server: ServerApp;
  let admin: ApiClient;
  let count = 0;

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: API_TOKEN } });
    admin = new ApiClient(server.url, API_TOKEN);
  }, 60_000);
  afterAll(() => server?.close());

  /** A registered GitHub repository whose main holds `kilnYml` (bytes as given). */
  async function repository(
    kilnYml: string | Uint8Array,
  ): Promise<{ id: string; fullName: string; secret: string; sha: string }> {
    count++;
    const dir = join(server.dir, `upstream-${count}`);
    const upstream = createUpstream(dir, { '.kiln.yml': 'placeholder\n' });
    writeFileSync(join(dir, '.kiln.yml'), kilnYml);
    git(dir, 'commit', '--quiet', '-am', 'the pipeline');
    const fullName = `acme/app-${count}`;
    const repo = await admin.ok<{ id: string; webhookSecret: string }>(
      'POST',
      '/api/v1/repositories',
      { forge: 'github', fullName, cloneUrl: upstream.url },
    );
    return {
      id: repo.id,
      fullName,
      secret: repo.webhookSecret,
      sha: git(dir, 'rev-parse', 'HEAD'),
    };
  }

  async function deliver(
    event: string,
    payload: unknown,
    secret: string,
    contentType = 'application/json',
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const raw = Buffer.from(JSON.stringify(payload));
    const res = await fetch(`${server.url}/hooks/github`, {
      method: 'POST',
      headers: { ...webhookHeaders('github', event, raw, secret), 'content-type': contentType },
      body: raw,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const runEnded = (runId: string): Promise<RunView> =>
    vi.waitFor(
      async () => {
        const run = await admin.ok<RunView>('GET', `/api/v1/runs/${runId}`);
        if (run.state === 'pending') throw new Error(`run ${runId} is still pending`);
        return run;
      },
      { timeout: 20_000, interval: 50 },
    );

  async function pushed(kilnYml: string | Uint8Array, message?: string) {
    const repo = await repository(kilnYml);
    const { status, body } = await deliver(
      'push',
      githubPush(repo.fullName, repo.sha, message),
      repo.secret,
    );
    expect(status).toBe(202);
    return { repo, run: await runEnded(body.runId as string) };
  }

  describe('webhooks', () => {
    it('checks the signature of events Kiln ignores for a registered repository', async () => {
      const repo = await repository('jobs:\n  a:\n    steps: [{ run: x }]\n');
      const issue = githubExample('issues', (p) => p.action === 'opened');
      (issue.repository as { full_name: string }).full_name = repo.fullName;

      expect(await deliver('issues', issue, 'a wrong secret')).toMatchObject({
        status: 401,
        body: { message: 'signature in X-Hub-Signature-256 does not match' },
      });
      expect(await deliver('issues', issue, repo.secret)).toMatchObject({
        status: 202,
        body: { ignored: 'unsupported event issues' },
      });
    });

    it('finds the repository whatever case the payload spells its name in, as forges do', async () => {
      const repo = await repository('jobs:\n  a:\n    steps: [{ run: x }]\n');
      const spelled = repo.fullName.replace('acme', 'ACME');

      const { status, body } = await deliver('push', githubPush(spelled, repo.sha), repo.secret);

      expect(status).toBe(202);
      expect((await runEnded(body.runId as string)).id).toBe(body.runId);
      expect(
        await admin.call('POST', '/api/v1/repositories', {
          forge: 'github',
          fullName: spelled,
          cloneUrl: 'https://github.com/ACME/app.git',
        }),
      ).toMatchObject({ status: 409 });
    });

    it('answers an organization ping with 200 and why nothing happens', async () => {
      const orgPing = githubExample('ping', (p) => p.repository === undefined);

      const { status, body } = await deliver('ping', orgPing, 'the organization hook secret');

      expect(status).toBe(200);
      expect(body.ignored).toMatch(
        /^pong: this hook names no repository \(an organization hook\?\)/,
      );
    });

    it('answers JSON sent as text/plain with 415 naming the content types', async () => {
      const { status, body } = await deliver('ping', {}, 'any', 'text/plain');

      expect(status).toBe(415);
      expect(body.message).toMatch(
        /^Content-Type text\/plain is not accepted: webhooks are application\/json/,
      );
    });

    it('stores a 5 MB commit message cut to 64 KiB and lists its title line only', async () => {
      const message = `Fix the build\n\n${'x'.repeat(5 * 1024 * 1024)}`;
      const { repo, run } = await pushed('jobs:\n  a:\n    steps: [{ run: x }]\n', message);

      expect(Buffer.byteLength(run.message ?? '')).toBeLessThanOrEqual(64 * 1024);
      expect(run.message).toMatch(/^Fix the build\n\nxxx/);
      expect(run.message).toMatch(
        /\[cut by Kiln: 5242895 bytes, of which the first 65536 are kept\]$/,
      );
      const page = await admin.ok<{ runs: RunView[] }>(
        'GET',
        `/api/v1/repositories/${repo.id}/runs`,
      );
      expect(page.runs.map((listed) => listed.message)).toEqual(['Fix the build']);
    });
  });

  describe('pipelines', () => {
    it('ends a run in error when .kiln.yml is not UTF-8, at the bad byte', async () => {
      const bytes = Buffer.concat([
        Buffer.from('jobs:\n  a:\n    steps: [{ run: echo '),
        Buffer.from([0xc3, 0x28]),
        Buffer.from(' }]\n'),
      ]);

      const { run } = await pushed(bytes);

      expect(run).toMatchObject({
        state: 'error',
        errors: ['.kiln.yml:3:25: the file is not valid UTF-8 (byte 35: 0xc3)'],
      });
    });

    it('ends a run in error for an image reference outside the OCI grammar', async () => {
      const { run } = await pushed(
        'jobs:\n  a:\n    image: "::::/../etc/passwd@@"\n    steps: [{ run: x }]\n',
      );

      expect(run.state).toBe('error');
      expect(run.errors).toEqual([
        expect.stringMatching(
          /^\.kiln\.yml:3:12: jobs\.a\.image: invalid image reference "::::\/\.\.\/etc\/passwd@@": the digest "@" must be/,
        ),
      ]);
    });

    it('plans a job named constructor with variables named like prototype members', async () => {
      const { run } = await pushed(
        'env: { toString: a, __proto__: b }\njobs:\n  constructor:\n    env: { valueOf: c }\n    steps: [{ run: x }]\n',
      );

      expect(run.state).not.toBe('error');
      expect(run.jobs).toEqual([expect.objectContaining({ key: 'constructor', state: 'queued' })]);
    });
  });

  describe('schedules', () => {
    it('refuses a schedule firing every second, naming the minimum, and takes one a minute', async () => {
      const repo = await repository('jobs:\n  a:\n    steps: [{ run: x }]\n');
      const path = `/api/v1/repositories/${repo.id}/schedules`;

      const refused = await admin.call<{ message: string }>('POST', path, {
        name: 'hammer',
        cron: '* * * * * *',
      });
      expect(refused.status).toBe(400);
      expect(refused.body.message).toMatch(
        /^cron "\* \* \* \* \* \*" fires more often than once a minute, the most a schedule may/,
      );
      expect(
        (await admin.call('POST', path, { name: 'every-minute', cron: '0 * * * * *' })).status,
      ).toBe(201);
      expect(
        (await admin.ok<{ name: string }[]>('GET', path)).map((schedule) => schedule.name),
      ).toEqual(['every-minute']);
    });
  });
});
