import { freePort } from '@kiln/queue/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { githubPullRequest, githubPush, webhookHeaders } from './support/forge';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { PipelineStack, type RunView } from './support/pipeline-stack';

interface Registered {
  id: string;
  webhookSecret: string;
}

describe('pipelines: triggers, reruns, cancels and bad input through the API', () => {
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

  async function register(
    name: string,
    files: Record<string, string>,
  ): Promise<{ repo: Registered; sha: string; commit: (f: Record<string, string>) => string }> {
    const commit = git.createRepository(name);
    const sha = commit(files);
    const repo = await stack.ok<Registered>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: `acme/${name}`,
      cloneUrl: git.url(name),
    });
    return { repo, sha, commit };
  }

  async function push(repo: Registered, name: string, sha: string): Promise<string> {
    const raw = Buffer.from(JSON.stringify(githubPush(`acme/${name}`, sha)));
    const res = await stack.webhook(
      '/hooks/github',
      webhookHeaders('github', 'push', raw, repo.webhookSecret),
      raw,
    );
    expect(res.status).toBe(202);
    return res.body.runId as string;
  }

  it('fails at once a job no agent could ever run, naming what it needs', async () => {
    const { repo, sha } = await register('huge', {
      '.kiln.yml':
        'jobs:\n  big:\n    resources: { cpus: 8 }\n    steps:\n      - run: echo never\n',
    });
    const run = await stack.waitForRun(await push(repo, 'huge', sha));
    expect(run.state).toBe('failure');
    expect(run.jobs[0]?.statusMessage).toContain('needs 8 cpus; the largest agent has 4');
  });

  it('starts a run of a branch by hand, and again for a rerun, on the same commit', async () => {
    const commit = git.createRepository('manual');
    const sha = commit(
      { '.kiln.yml': 'jobs:\n  hi:\n    steps:\n      - run: echo "event=$KILN_EVENT"\n' },
      'Say which event started it\n\nThe body, kept too.',
    );
    const repo = await stack.ok<Registered>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/manual',
      cloneUrl: git.url('manual'),
    });
    const started = await stack.ok<{
      id: string;
      number: number;
      sha: string;
      message?: string;
      author?: string;
      startedBy?: string;
    }>('POST', `/api/v1/repositories/${repo.id}/runs`, { branch: 'main' });
    expect(started.sha).toBe(sha);
    // As a pushed run: the commit's message and author; and who started it, on the record.
    expect(started).toMatchObject({
      message: 'Say which event started it\n\nThe body, kept too.',
      author: 'Kiln Test',
      startedBy: 'admin',
    });
    const audit = await stack.ok<{ events: { action: string; actor?: string; summary: string }[] }>(
      'GET',
      `/api/v1/audit?repositoryId=${repo.id}`,
    );
    expect(audit.events.find((e) => e.action === 'run.started')).toMatchObject({
      summary: `admin started run #${started.number} of acme/manual on main`,
    });
    const run = await stack.waitForRun(started.id);
    expect(run.state).toBe('success');
    expect(await stack.log(run.jobs[0]!.id)).toContain('event=manual');
    const again = await stack.ok<{ id: string; number: number }>(
      'POST',
      `/api/v1/runs/${run.id}/rerun`,
    );
    expect(again.number).toBe(run.number + 1);
    expect((await stack.waitForRun(again.id)).state).toBe('success');
  });

  it('reruns only the failed jobs of a run, as new attempts, keeping what succeeded', async () => {
    const { repo, sha } = await register('flaky', {
      // Fails on its first attempt only.
      '.kiln.yml': `
jobs:
  steady:
    steps:
      - run: echo steady
  flaky:
    steps:
      - run: '[ "$KILN_JOB_ATTEMPT" -gt 1 ] && echo second'
  after:
    needs: flaky
    steps:
      - run: echo after
`,
    });
    const first = await stack.waitForRun(await push(repo, 'flaky', sha));
    expect(first.state).toBe('failure');
    const byKey = (run: RunView, key: string) => run.jobs.find((j) => j.key === key)!;
    expect(byKey(first, 'after').state).toBe('skipped');
    await stack.ok('POST', `/api/v1/runs/${first.id}/rerun-failed`);
    const second = await stack.waitForRun(
      first.id,
      (r) => ['success', 'failure'].includes(r.state) && byKey(r, 'flaky').attempt === 2,
    );
    expect(second.state).toBe('success');
    expect(byKey(second, 'steady')).toMatchObject({ state: 'success', attempt: 1 });
    expect(byKey(second, 'flaky')).toMatchObject({ state: 'success', attempt: 2 });
    expect(byKey(second, 'after').state).toBe('success');
    expect(await stack.log(byKey(second, 'flaky').id)).toContain('second');
  });

  it('cancels the older run of a pull request when a newer push to it arrives', async () => {
    const { repo, sha, commit } = await register('superseded', {
      '.kiln.yml': 'jobs:\n  slow:\n    steps:\n      - run: sleep 30\n',
    });
    const pr = async (head: string): Promise<string> => {
      const raw = Buffer.from(JSON.stringify(githubPullRequest('acme/superseded', 5, head, false)));
      const res = await stack.webhook(
        '/hooks/github',
        webhookHeaders('github', 'pull_request', raw, repo.webhookSecret),
        raw,
      );
      expect(res.status).toBe(202);
      return res.body.runId as string;
    };
    const older = await pr(sha);
    await stack.waitForRun(older, (r) => r.state === 'running');
    const newer = await pr(commit({ 'README.md': 'newer\n' }));
    const canceled = await stack.waitForRun(older);
    expect(canceled.state).toBe('canceled');
    expect(canceled.jobs[0]?.statusMessage).toMatch(/superseded by run #\d+/);
    await stack.ok('POST', `/api/v1/runs/${newer}/cancel`);
  });

  it('starts runs from a cron schedule until it is deleted', async () => {
    const { repo } = await register('cron', {
      '.kiln.yml': 'jobs:\n  tick:\n    steps:\n      - run: echo tick\n',
    });
    // A schedule fires at most once a minute: this one at a second a few seconds from now.
    const soon = new Date(Date.now() + 5_000);
    const schedule = await stack.ok<{ id: string }>(
      'POST',
      `/api/v1/repositories/${repo.id}/schedules`,
      { name: 'soon', cron: `${soon.getUTCSeconds()} ${soon.getUTCMinutes()} * * * *` },
    );
    await expect
      .poll(
        async () =>
          (await stack.ok<{ runs: unknown[] }>('GET', `/api/v1/repositories/${repo.id}/runs`)).runs
            .length,
        { timeout: 15_000, interval: 250 },
      )
      .toBeGreaterThan(0);
    await stack.ok('DELETE', `/api/v1/schedules/${schedule.id}`);
    const bad = await stack.api<{ message: string }>(
      'POST',
      `/api/v1/repositories/${repo.id}/schedules`,
      { name: 'broken', cron: '61 * * * *' },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('61 * * * *');
    const hammer = await stack.api<{ message: string }>(
      'POST',
      `/api/v1/repositories/${repo.id}/schedules`,
      { name: 'every-second', cron: '* * * * * *' },
    );
    expect(hammer.status).toBe(400);
    expect(hammer.body.message).toContain('more often than once a minute');
  });

  it('answers bad calls with 4xx naming what is wrong, never 500', async () => {
    const missing = await stack.api<{ message: unknown }>('POST', '/api/v1/repositories', {
      forge: 'svn',
      fullName: 'nope',
      cloneUrl: 'ftp://x',
    });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toMatch(/forge must be one of/);
    expect(JSON.stringify(missing.body)).toMatch(/cloneUrl/);
    expect((await stack.api('GET', '/api/v1/runs/not-a-uuid')).status).toBe(400);
    expect(
      (await stack.api('GET', '/api/v1/runs/7d1e6a4e-8a51-4c35-9d61-0b4f1f8f9a11')).status,
    ).toBe(404);
    expect(
      (await stack.api('GET', '/api/v1/jobs/7d1e6a4e-8a51-4c35-9d61-0b4f1f8f9a11/log')).status,
    ).toBe(404);
    const unauthenticated = await fetch(`${stack.serverUrl}/api/v1/repositories`);
    expect(unauthenticated.status).toBe(401);
    const raw = Buffer.from('{not json');
    const garbled = await stack.webhook(
      '/hooks/github',
      webhookHeaders('github', 'push', raw, 'x'),
      raw,
    );
    expect(garbled.status).toBe(400);
    const unknownForge = await stack.webhook(
      '/hooks/svn',
      { 'content-type': 'application/json' },
      Buffer.from('{}'),
    );
    expect(unknownForge.status).toBe(404);
    const stranger = Buffer.from(JSON.stringify(githubPush('nobody/unregistered', 'a'.repeat(40))));
    const unregistered = await stack.webhook(
      '/hooks/github',
      webhookHeaders('github', 'push', stranger, 'x'),
      stranger,
    );
    expect(unregistered.status).toBe(404);
    expect(String(unregistered.body.message)).toContain('nobody/unregistered');
    const { repo } = await register('badsecret', { '.kiln.yml': 'jobs: {}\n' });
    const secret = await stack.api('PUT', `/api/v1/repositories/${repo.id}/secrets/bad-name`, {
      value: 'x',
    });
    expect(secret.status).toBe(400);
    const branchless = await stack.api<{ message: string }>(
      'POST',
      `/api/v1/repositories/${repo.id}/runs`,
      { branch: 'no-such-branch' },
    );
    expect(branchless.status).toBe(422);
    expect(branchless.body.message).toContain('no-such-branch');
  });
});
