import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TaskTokens } from '../../apps/server/src/logs/task-tokens';
import { SecretBox } from '../../apps/server/src/secrets/secret-box';
import {
  FakeForge,
  giteaPush,
  githubPullRequest,
  githubPush,
  gitlabPush,
  webhookHeaders,
  type ForgeName,
} from './support/forge';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { PipelineStack, type RunView } from './support/pipeline-stack';
import { freePort } from '@kiln/queue/testing';

const PIPELINE = `
jobs:
  a:
    steps:
      - run: echo "a says hello from $KILN_JOB"
  b:
    needs: a
    steps:
      - name: first
        run: echo "b one"
      - run: echo "b two"
  c:
    needs: a
    steps:
      - run: echo "c here"
`;

interface Registered {
  id: string;
  webhookSecret: string;
}

describe('pipelines: webhooks → runs on the cluster → logs and commit statuses', () => {
  beforeEach(printProcessesOnFailure);
  let stack: PipelineStack;
  let git: GitDaemon;
  let forge: FakeForge;

  beforeAll(async () => {
    // One at a time, so that afterAll stops whatever started when a later start fails.
    git = await GitDaemon.start(await freePort());
    forge = await FakeForge.start();
    stack = await PipelineStack.start();
  });

  afterAll(async () => {
    await Promise.all([stack?.dispose(), git?.stop(), forge?.stop()]);
  });

  async function register(
    name: string,
    forgeName: ForgeName = 'github',
  ): Promise<{
    repo: Registered;
    commit: (files: Record<string, string>, message?: string) => string;
  }> {
    const commit = git.createRepository(name);
    const repo = await stack.ok<Registered>('POST', '/api/v1/repositories', {
      forge: forgeName,
      fullName: `acme/${name}`,
      cloneUrl: git.url(name),
      forgeToken: 'forge-token',
      apiUrl: forgeName === 'github' ? forge.url : `${forge.url}/api`,
    });
    return { repo, commit };
  }

  async function push(
    repo: Registered,
    fullName: string,
    sha: string,
    forgeName: ForgeName = 'github',
    deliveryId?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const payload =
      forgeName === 'github'
        ? githubPush(fullName, sha)
        : forgeName === 'gitlab'
          ? gitlabPush(fullName, sha)
          : giteaPush(fullName, sha);
    const raw = Buffer.from(JSON.stringify(payload));
    const event = forgeName === 'gitlab' ? 'Push Hook' : 'push';
    return stack.webhook(
      `/hooks/${forgeName}`,
      webhookHeaders(forgeName, event, raw, repo.webhookSecret, deliveryId),
      raw,
    );
  }

  function job(run: RunView, key: string): RunView['jobs'][number] {
    const found = run.jobs.find((j) => j.key === key);
    if (found === undefined) throw new Error(`run has no job ${key}: ${JSON.stringify(run)}`);
    return found;
  }

  it('runs a signed GitHub push through a → b, a → c to success, with every log stored', async () => {
    const { repo, commit } = await register('dag');
    const sha = commit({ '.kiln.yml': PIPELINE });
    const accepted = await push(repo, 'acme/dag', sha);
    expect(accepted.status).toBe(202);
    const run = await stack.waitForRun(accepted.body.runId as string);
    expect(run.state).toBe('success');
    expect(run.jobs.map((j) => [j.key, j.state]).sort()).toEqual([
      ['a', 'success'],
      ['b', 'success'],
      ['c', 'success'],
    ]);
    expect(await stack.log(job(run, 'a').id)).toContain('a says hello from a');
    expect(await stack.log(job(run, 'b').id)).toMatch(/b one\n(.*\n)?b two/);
    expect(await stack.log(job(run, 'c').id)).toContain('c here');
    const steps = await stack.ok<{ name: string; exitCode: number }[]>(
      'GET',
      `/api/v1/jobs/${job(run, 'b').id}/steps`,
    );
    expect(steps.map((s) => [s.name, s.exitCode])).toEqual([
      ['first', 0],
      ['echo "b two"', 0],
    ]);
  });

  it('fetches a push over smart HTTP, as forges serve, with the forge token as credentials', async () => {
    await git.serveHttp();
    const commit = git.createRepository('over-http');
    const repo = await stack.ok<Registered>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/over-http',
      cloneUrl: git.httpUrl('over-http'),
      forgeToken: 'forge-token',
      apiUrl: forge.url,
    });
    const sha = commit({ '.kiln.yml': PIPELINE });
    const accepted = await push(repo, 'acme/over-http', sha);
    expect(accepted.status).toBe(202);
    const run = await stack.waitForRun(accepted.body.runId as string);
    expect(run.state).toBe('success');
    expect(await stack.log(job(run, 'a').id)).toContain('a says hello from a');
    const fetches = git.httpRequests.filter((r) => r.path === '/over-http.git/git-upload-pack');
    expect(fetches.length).toBeGreaterThan(0);
    const token = `Basic ${Buffer.from('x-access-token:forge-token').toString('base64')}`;
    expect(new Set(fetches.map((r) => r.authorization))).toEqual(new Set([token]));
  });

  it('fails the run when a fails, and skips b and c', async () => {
    const { repo, commit } = await register('failing');
    const sha = commit({
      '.kiln.yml': PIPELINE.replace('echo "a says hello from $KILN_JOB"', 'echo oops; exit 3'),
    });
    const accepted = await push(repo, 'acme/failing', sha);
    const run = await stack.waitForRun(accepted.body.runId as string);
    expect(run.state).toBe('failure');
    expect(job(run, 'a')).toMatchObject({ state: 'failure', exitCode: 3 });
    expect(job(run, 'b').state).toBe('skipped');
    expect(job(run, 'c').state).toBe('skipped');
    expect(await stack.log(job(run, 'a').id)).toContain('oops');
  });

  describe("in the default container, with the host's toolchains", () => {
    // The agent runs as root here, so its first containerizer is the native one: each job is a
    // runc container whose root is an unprivileged host uid (the uid_map line proves it).
    const SANDBOXED = 'echo "root is host uid $(awk \'{print $2}\' /proc/self/uid_map)"';
    /** The job's root was one of the agent's task id ranges (from 2^30), never host root. */
    const expectSandboxed = (log: string) => {
      const hostId = Number(/root is host uid (\d+)/.exec(log)?.[1]);
      expect(hostId, log).toBeGreaterThanOrEqual(2 ** 30);
    };

    it('builds a C project with make and gcc from a signed push', async () => {
      const { repo, commit } = await register('c-project');
      const sha = commit({
        'hello.c': '#include <stdio.h>\nint main(void) { puts("hello from C"); return 0; }\n',
        Makefile: 'hello: hello.c\n\tcc -O2 -Wall -o hello hello.c\n',
        '.kiln.yml': `
jobs:
  build:
    steps:
      - run: ${JSON.stringify(SANDBOXED)}
      - run: make
      - run: ./hello
`,
      });
      const run = await stack.waitForRun(
        (await push(repo, 'acme/c-project', sha)).body.runId as string,
      );
      const log = await stack.log(job(run, 'build').id);
      expect(run.state, log).toBe('success');
      expectSandboxed(log);
      expect(log).toContain('cc -O2 -Wall -o hello hello.c');
      expect(log).toContain('hello from C');
    });

    it('installs an npm project with npm ci from the registry', async () => {
      const { repo, commit } = await register('npm-project');
      const sha = commit({
        'package.json': '{"name":"p","version":"1.0.0","dependencies":{"is-number":"7.0.0"}}\n',
        '.kiln.yml': `
jobs:
  install:
    env:
      # The host's CA bundle is the container's too: a proxy's CA is trusted there as well.
      NPM_CONFIG_CAFILE: /etc/ssl/certs/ca-certificates.crt
    steps:
      - run: ${JSON.stringify(SANDBOXED)}
      - run: npm install --package-lock-only --ignore-scripts --no-audit --no-fund
      - run: npm ci --ignore-scripts --no-audit --no-fund
      - run: node -e 'console.log("is-number says " + require("is-number")(5))'
`,
      });
      const run = await stack.waitForRun(
        (await push(repo, 'acme/npm-project', sha)).body.runId as string,
      );
      const log = await stack.log(job(run, 'install').id);
      expect(run.state, log).toBe('success');
      expectSandboxed(log);
      expect(log).toContain('is-number says true');
    });
  });

  it('refuses a bad signature with 401 and ignores a redelivery', async () => {
    const { repo, commit } = await register('signed');
    const sha = commit({ '.kiln.yml': PIPELINE });
    const raw = Buffer.from(JSON.stringify(githubPush('acme/signed', sha)));
    const forged = await stack.webhook(
      '/hooks/github',
      webhookHeaders('github', 'push', raw, 'not-the-secret'),
      raw,
    );
    expect(forged.status).toBe(401);
    const runs = () => stack.ok<{ runs: unknown[] }>('GET', `/api/v1/repositories/${repo.id}/runs`);
    expect((await runs()).runs).toHaveLength(0);

    const first = await push(repo, 'acme/signed', sha, 'github', 'delivery-42');
    expect(first.status).toBe(202);
    const again = await push(repo, 'acme/signed', sha, 'github', 'delivery-42');
    expect(again.status).toBe(200);
    expect(again.body.duplicateOf).toBe(first.body.runId);
    expect((await runs()).runs).toHaveLength(1);
  });

  it('records every webhook of a concurrent burst once, a redelivery among them creating nothing', async () => {
    const { repo, commit } = await register('burst');
    // Every run ends without jobs: this is about recording deliveries, not building them.
    const sha = commit({
      '.kiln.yml': 'when:\n  branch: nope\njobs:\n  never:\n    steps:\n      - run: echo never\n',
    });
    const ids = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    const answers = await Promise.all(
      [...ids, 'burst-7'].map((id) => push(repo, 'acme/burst', sha, 'github', id)),
    );

    const created = answers.filter((a) => a.status === 202);
    const repeated = answers.filter((a) => a.status === 200);
    expect(created).toHaveLength(40);
    expect(repeated).toHaveLength(1);
    expect(created.map((a) => a.body.runId)).toContain(repeated[0]?.body.duplicateOf);
    const listed = await stack.ok<{ runs: { number: number }[] }>(
      'GET',
      `/api/v1/repositories/${repo.id}/runs?limit=100`,
    );
    expect(listed.runs.map((r) => r.number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    for (const answer of created) {
      expect((await stack.waitForRun(answer.body.runId as string)).state).toBe('success');
    }
  });

  it('ends a run with an invalid .kiln.yml in error, with line:column messages', async () => {
    const { repo, commit } = await register('invalid');
    const sha = commit({ '.kiln.yml': 'jobs:\n  a:\n    stepz:\n      - run: echo ok\n' });
    const accepted = await push(repo, 'acme/invalid', sha);
    expect(accepted.status).toBe(202);
    const run = await stack.waitForRun(accepted.body.runId as string);
    expect(run.state).toBe('error');
    expect(run.errors?.join('\n')).toMatch(/\.kiln\.yml:\d+:\d+: /);
    expect(run.jobs).toHaveLength(0);
  });

  it('withholds secrets from a fork pull request and masks them in a same-repository one', async () => {
    const { repo, commit } = await register('secrets');
    await stack.ok('PUT', `/api/v1/repositories/${repo.id}/secrets/DEPLOY_TOKEN`, {
      value: 'hunter2-very-secret',
    });
    const sha = commit({
      '.kiln.yml': `
jobs:
  show:
    secrets: [DEPLOY_TOKEN]
    steps:
      - run: echo "token=[$DEPLOY_TOKEN]"
`,
    });
    const pr = async (number: number, fromFork: boolean): Promise<RunView> => {
      const raw = Buffer.from(
        JSON.stringify(githubPullRequest('acme/secrets', number, sha, fromFork)),
      );
      const res = await stack.webhook(
        '/hooks/github',
        webhookHeaders('github', 'pull_request', raw, repo.webhookSecret),
        raw,
      );
      expect(res.status).toBe(202);
      return stack.waitForRun(res.body.runId as string);
    };
    const fork = await pr(7, true);
    expect(fork.state).toBe('success');
    expect(await stack.log(job(fork, 'show').id)).toContain('token=[]');
    const own = await pr(8, false);
    expect(own.state).toBe('success');
    const log = await stack.log(job(own, 'show').id);
    expect(log).toContain('token=[***]');
    expect(log).not.toContain('hunter2');
  });

  it("checks a job's commit out from the server's mirror, which serves it to the task's token only", async () => {
    const { repo, commit } = await register('mirror-source');
    const sha = commit({
      '.kiln.yml':
        'jobs:\n  show:\n    steps:\n      - run: git rev-parse HEAD; ls -a .git; git config --list --local; echo up; sleep 60\n',
    });
    const runId = (await push(repo, 'acme/mirror-source', sha)).body.runId as string;
    const running = await stack.waitForRun(runId, (r) => r.jobs[0]?.state === 'running');
    const taskId = running.jobs[0]?.taskId as string;
    const jobId = running.jobs[0]?.id as string;
    await expect.poll(() => stack.log(jobId), { timeout: 15_000 }).toContain('up');

    // The commit is checked out, and the checkout names no source and keeps no credentials.
    const fetched = await stack.log(jobId);
    expect(fetched).toContain(`${sha}\n`);
    expect(fetched).not.toContain('FETCH_HEAD');
    expect(fetched).not.toMatch(/extraheader|remote\.|kiln-task/i);
    // The agent downloaded it from the server into its cache as one pack, not from the forge.
    const cached = readdirSync(join(stack.agentDataDir, 'source-cache', `${repo.id}.packs`, sha));
    expect(cached.filter((name) => /^pack-[0-9a-f]{40}\.(pack|idx)$/.test(name))).toHaveLength(2);
    // Without the task's token, or with another, nothing is served; a push is never taken.
    const pack = `${stack.serverUrl}/api/v1/tasks/${taskId}/source.pack`;
    expect((await fetch(pack)).status).toBe(401);
    const wrong = Buffer.from('kiln-task:not-the-token').toString('base64');
    expect((await fetch(pack, { headers: { authorization: `Basic ${wrong}` } })).status).toBe(401);
    const source = `${stack.serverUrl}/api/v1/tasks/${taskId}/source.git`;
    const basic = (token: string) =>
      `http.extraHeader=Authorization: Basic ${Buffer.from(`kiln-task:${token}`).toString('base64')}`;
    for (const auth of [[], ['-c', basic('not-the-token')]]) {
      const listed = spawnSync('git', [...auth, 'ls-remote', source], {
        encoding: 'utf8',
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      });
      expect(listed.status, listed.stdout).not.toBe(0);
      expect(listed.stderr).toMatch(/401|Authentication failed|could not read Username/);
    }
    // With it, the task's commit is all there is (the mirror's other refs are not the task's).
    const box = SecretBox.fromConfig(undefined, join(stack.serverDataDir, 'secret.key'));
    const own = basic(new TaskTokens(box).logToken(taskId));
    const listed = spawnSync('git', ['-c', own, 'ls-remote', source], { encoding: 'utf8' });
    expect(listed.stdout, listed.stderr).toBe(`${sha}\trefs/kiln/commit\n`);
    const pushed = await fetch(`${source}/info/refs?service=git-receive-pack`);
    expect(pushed.status).toBe(401);
    await stack.ok('POST', `/api/v1/runs/${runId}/cancel`);

    // Once its job has ended, the token gets neither the commit nor a say in the artifacts.
    const token = new TaskTokens(box).logToken(taskId);
    const bearer = { authorization: `Bearer ${token}` };
    const ended = spawnSync('git', ['-c', own, 'ls-remote', source], { encoding: 'utf8' });
    expect(ended.status).not.toBe(0);
    expect(ended.stderr).toContain('409');
    const packed = await fetch(pack, { headers: bearer });
    expect(packed.status).toBe(409);
    expect(await packed.text()).toContain(`job ${jobId} has ended (canceled)`);
    const late = await fetch(`${stack.serverUrl}/api/v1/tasks/${taskId}/artifacts/late.txt`, {
      method: 'PUT',
      headers: { ...bearer, 'x-kiln-sha256': createHash('sha256').update('late').digest('hex') },
      body: 'late',
    });
    expect(late.status).toBe(409);
    expect(await stack.ok('GET', `/api/v1/jobs/${jobId}/artifacts`)).toEqual([]);
  });

  it('cancels a run mid-job and leaves no task running on the agent', async () => {
    const { repo, commit } = await register('cancel');
    const sha = commit({
      '.kiln.yml': 'jobs:\n  slow:\n    steps:\n      - run: echo started; sleep 60\n',
    });
    const accepted = await push(repo, 'acme/cancel', sha);
    const runId = accepted.body.runId as string;
    const running = await stack.waitForRun(runId, (r) => r.jobs[0]?.state === 'running');
    const taskId = running.jobs[0]?.taskId;
    const canceled = await stack.ok<RunView>('POST', `/api/v1/runs/${runId}/cancel`);
    expect(canceled.state).toBe('canceled');
    expect(canceled.jobs[0]?.state).toBe('canceled');
    await expect
      .poll(
        async () => {
          const res = await fetch(`${stack.masterUrl}/api/v1/state`, {
            headers: { authorization: `Bearer e2e-pipeline-cluster-token-0123` },
          });
          const state = (await res.json()) as { tasks: { taskId: string; state: string }[] };
          return state.tasks.find((t) => t.taskId === taskId)?.state ?? 'gone';
        },
        { timeout: 15_000, interval: 200 },
      )
      .toMatch(/TASK_KILLED|gone/);
  });

  it.each<ForgeName>(['github', 'gitlab', 'gitea'])(
    'reports pending then success to %s at its documented status path',
    async (forgeName) => {
      const name = `status-${forgeName}`;
      const { repo, commit } = await register(name, forgeName);
      const sha = commit({ '.kiln.yml': 'jobs:\n  only:\n    steps:\n      - run: echo ok\n' });
      const accepted = await push(repo, `acme/${name}`, sha, forgeName);
      expect(accepted.status).toBe(202);
      const run = await stack.waitForRun(accepted.body.runId as string);
      expect(run.state).toBe('success');
      const path = {
        github: `/repos/acme/${name}/statuses/${sha}`,
        gitlab: `/api/projects/acme%2F${name}/statuses/${sha}`,
        gitea: `/api/repos/acme/${name}/statuses/${sha}`,
      }[forgeName];
      await expect
        .poll(() => forge.to(path).at(-1)?.body.state, { timeout: 10_000 })
        .toBe('success');
      const states = forge.to(path).map((r) => r.body.state);
      expect(states[0]).toBe('pending');
      const last = forge.to(path).at(-1)!;
      expect(last.method).toBe('POST');
      const context = forgeName === 'gitlab' ? last.body.name : last.body.context;
      expect(context).toBe('kiln');
      expect(String(last.body.target_url)).toContain(`/runs/${run.number}`);
    },
  );

  it('finishes a run correctly across a server kill, each job executed once', async () => {
    const { repo, commit } = await register('restart');
    const sha = commit({
      '.kiln.yml': `
jobs:
  a:
    steps:
      - run: echo a-start; sleep 3; echo a-end
  b:
    needs: a
    steps:
      - run: echo b-ran
`,
    });
    const accepted = await push(repo, 'acme/restart', sha);
    const runId = accepted.body.runId as string;
    await stack.waitForRun(runId, (r) => r.jobs.find((j) => j.key === 'a')?.state === 'running');
    stack.server.signal('SIGKILL');
    await stack.server.exitCode();
    await stack.startServer();
    const run = await stack.waitForRun(runId);
    expect(run.state).toBe('success');
    expect(run.jobs.map((j) => [j.key, j.state, j.attempt]).sort()).toEqual([
      ['a', 'success', 1],
      ['b', 'success', 1],
    ]);
    const res = await fetch(`${stack.masterUrl}/api/v1/state`, {
      headers: { authorization: `Bearer e2e-pipeline-cluster-token-0123` },
    });
    const state = (await res.json()) as {
      tasks: { name: string }[];
      completedTasks: { name: string }[];
    };
    const names = [...state.tasks, ...state.completedTasks].map((t) => t.name);
    expect(names.filter((n) => n === `acme/restart #${run.number} a`)).toHaveLength(1);
    expect(names.filter((n) => n === `acme/restart #${run.number} b`)).toHaveLength(1);
    expect(await stack.log(job(run, 'a').id)).toMatch(/a-start\n(.*\n)?a-end/);
  });
});
