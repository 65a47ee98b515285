import { freePort } from '@kiln/queue/testing';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { TaskTokens } from '../../apps/server/src/logs/task-tokens';
import { SecretBox } from '../../apps/server/src/secrets/secret-box';
import { ApiClient } from './support/api-client';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { API_TOKEN, PipelineStack, type RunView } from './support/pipeline-stack';
import { releasePipeline } from './support/release-pipeline';
import { User } from './support/user';

// The build also tries to keep a link to /etc/passwd as an artifact.
const PIPELINE = releasePipeline({ linkOutside: true, productionSecret: 'DEPLOY_TOKEN' });
/** Production's credential: only deployments to production may have it. */
const DEPLOY_TOKEN = 'prod-credential-5f1c';

interface Promotion {
  id: string;
  state: string;
  environment: string;
  rollback: boolean;
  run: { id: string; number: number; sha: string };
  deployRun?: { id: string; number: number; state: string };
  requestedBy: string;
  approvals: { user: string; decision: string }[];
  startedAt?: string;
  finishedAt?: string;
  artifacts: { job: string; name: string; sha256: string }[];
}

/** A run as GET /runs/:id shows a promote run. */
interface DeployRunView extends RunView {
  event: string;
  environment?: string;
  promotedRun?: { id: string; number: number };
  createdAt: string;
  finishedAt?: string;
}

describe('releases: a build that passed is promoted through environments, on the record', () => {
  beforeEach(printProcessesOnFailure);
  let stack: PipelineStack;
  let git: GitDaemon;
  let repositoryId: string;
  let commit: (message: string) => void;
  let pushFiles: (files: Record<string, string>, message?: string) => string;
  /** rita asks; rob and rae approve; dave is a developer. */
  let rita: User, rob: User, rae: User, dave: User;
  const runs: RunView[] = [];

  async function build(): Promise<RunView> {
    const started = await stack.ok<{ id: string }>(
      'POST',
      `/api/v1/repositories/${repositoryId}/runs`,
      {
        branch: 'main',
      },
    );
    const run = await stack.waitForRun(started.id);
    expect(run.state, JSON.stringify(run.jobs)).toBe('success');
    runs.push(run);
    return run;
  }

  async function promote(user: User, run: RunView, environment: string): Promise<Promotion> {
    return user.ok<Promotion>('POST', `/api/v1/runs/${run.id}/promotions`, { environment });
  }

  async function waitForPromotion(
    id: string,
    states = ['deployed', 'failed', 'canceled'],
  ): Promise<Promotion> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const promotion = await stack.ok<Promotion>('GET', `/api/v1/promotions/${id}`);
      if (states.includes(promotion.state)) return promotion;
      if (Date.now() > deadline)
        throw new Error(`promotion not done: ${JSON.stringify(promotion)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The deploy run of a finished promotion, with the log of the job that ran in it. */
  async function deployed(
    promotion: Promotion,
  ): Promise<{ run: DeployRunView; log: string; job: string }> {
    expect(promotion.state, JSON.stringify(promotion)).toBe('deployed');
    const run = (await stack.run(promotion.deployRun?.id ?? '')) as DeployRunView;
    const ran = run.jobs.filter((job) => job.state !== 'skipped');
    expect(ran.map((job) => job.key)).toEqual([`deploy-${promotion.environment}`]);
    return { run, log: await stack.log(ran[0]!.id), job: ran[0]!.key };
  }

  beforeAll(async () => {
    git = await GitDaemon.start(await freePort());
    stack = await PipelineStack.start();
    const push = git.createRepository('shop');
    pushFiles = push;
    push({ '.kiln.yml': PIPELINE }, 'first');
    commit = (message) => void push({ 'CHANGES.md': `${message}\n` }, message);
    const repo = await stack.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/shop',
      cloneUrl: git.url('shop'),
    });
    repositoryId = repo.id;
    await stack.ok('PUT', `/api/v1/repositories/${repositoryId}/environments/staging`, {});
    await stack.ok('PUT', `/api/v1/repositories/${repositoryId}/environments/production`, {
      previous: 'staging',
      requiredApprovals: 2,
      allowedBranches: ['main'],
    });
    await stack.ok('PUT', `/api/v1/repositories/${repositoryId}/secrets/DEPLOY_TOKEN`, {
      value: DEPLOY_TOKEN,
      environments: ['production'],
    });
    const admin = new ApiClient(stack.serverUrl, API_TOKEN, 'admin');
    rita = await User.create(admin, 'rita');
    rob = await User.create(admin, 'rob');
    rae = await User.create(admin, 'rae');
    dave = await User.create(admin, 'dave');
    for (const [user, role] of [
      [rita, 'release-manager'],
      [rob, 'release-manager'],
      [rae, 'release-manager'],
      [dave, 'developer'],
    ] as const) {
      await stack.ok('PUT', `/api/v1/repositories/${repositoryId}/members/${user.id}`, { role });
    }
  });

  afterAll(async () => {
    await Promise.all([stack?.dispose(), git?.stop()]);
  });

  it('promotes a run to staging: its deploy job gets the original artifacts, no build runs again', async () => {
    const run = await build();
    const buildJob = run.jobs.find((job) => job.key === 'build')!;
    const buildLog = await stack.log(buildJob.id);
    expect(buildLog).toContain(
      'kiln: artifact "dist/leak": refused: it is a symbolic link to no file in the workspace',
    );
    const [artifact] = await stack.ok<{ name: string; sha256: string }[]>(
      'GET',
      `/api/v1/jobs/${buildJob.id}/artifacts`,
    );
    expect(artifact?.name).toBe('dist/app.txt');

    const asked = await promote(rita, run, 'staging');
    expect(asked.environment).toBe('staging');
    expect(asked.artifacts).toEqual([
      {
        job: 'build',
        name: 'dist/app.txt',
        sha256: artifact!.sha256,
        size: expect.any(Number) as unknown,
      },
    ]);
    const { run: deployRun, log } = await deployed(await waitForPromotion(asked.id));

    expect(deployRun).toMatchObject({ event: 'promote', environment: 'staging', sha: run.sha });
    expect(deployRun.promotedRun).toEqual({ id: run.id, number: run.number });
    const rebuilt = deployRun.jobs.find((job) => job.key === 'build')!;
    expect(rebuilt.state).toBe('skipped');
    expect(rebuilt.statusMessage).toContain('built in the promoted run');
    expect(rebuilt.taskId).toBeUndefined();
    expect(log).toContain(`deploying run ${run.number} to staging`);
    expect(log).toContain(`${artifact!.sha256}  dist/app.txt`);

    // A deployment happens through a promotion only: running it again would skip the policy.
    for (const again of ['rerun', 'rerun-failed']) {
      const refused = await rita.call<{ message: string }>(
        'POST',
        `/api/v1/runs/${deployRun.id}/${again}`,
      );
      expect(refused.status).toBe(409);
      expect(refused.body.message).toBe(
        `run #${deployRun.number} is a deployment to staging: promote run #${run.number} again instead`,
      );
    }
    // Stopping a deployment is a release manager's call, as stopping its promotion is.
    const stopped = await dave.call<{ message: string }>(
      'POST',
      `/api/v1/runs/${deployRun.id}/cancel`,
    );
    expect(stopped.status).toBe(403);
    expect(stopped.body.message).toBe(
      `run #${deployRun.number} is a deployment to staging: canceling it takes the release-manager role`,
    );
    expect((await rita.call('POST', `/api/v1/runs/${deployRun.id}/cancel`)).status).toBe(409);
  });

  it('promotes to production only with two approvals by release managers other than the requester', async () => {
    const [run] = runs;
    const asked = await promote(rita, run!, 'production');
    expect(asked.state).toBe('awaiting-approval');

    const own = await rita.call<{ message: string }>(
      'POST',
      `/api/v1/promotions/${asked.id}/approve`,
      {},
    );
    expect(own.status).toBe(403);
    expect(own.body.message).toContain('you requested this promotion');
    const developer = await dave.call<{ message: string }>(
      'POST',
      `/api/v1/promotions/${asked.id}/approve`,
      {},
    );
    expect(developer.status).toBe(403);
    expect(developer.body.message).toMatch(/release-manager role/);

    const once = await rob.ok<Promotion>('POST', `/api/v1/promotions/${asked.id}/approve`, {
      comment: 'looks good',
    });
    expect(once.state).toBe('awaiting-approval');
    const twice = await rob.call('POST', `/api/v1/promotions/${asked.id}/approve`, {});
    expect(twice.status).toBe(409);
    const inbox = await rae.ok<Promotion[]>('GET', '/api/v1/approvals');
    expect(inbox.map((p) => p.id)).toEqual([asked.id]);
    expect(await rob.ok<Promotion[]>('GET', '/api/v1/approvals')).toEqual([]);

    await rae.ok('POST', `/api/v1/promotions/${asked.id}/approve`, {});
    const done = await waitForPromotion(asked.id);
    expect(done.approvals.map((a) => [a.user, a.decision])).toEqual([
      ['rob', 'approve'],
      ['rae', 'approve'],
    ]);
    const { log } = await deployed(done);
    expect(log).toContain(`deploying run ${run!.number} to production`);
    expect(log).toContain(`${asked.artifacts[0]!.sha256}  dist/app.txt`);
    // Production's credential, limited to it, reached the approved deployment, masked.
    expect(log).toContain('token=[***]');
    expect(log).not.toContain(DEPLOY_TOKEN);
  });

  it('refuses to promote to production a run that never reached staging, naming staging', async () => {
    commit('second');
    const run = await build();
    const refused = await rita.call<{ message: string }>(
      'POST',
      `/api/v1/runs/${run.id}/promotions`,
      {
        environment: 'production',
      },
    );
    expect(refused.status).toBe(422);
    expect(refused.body.message).toBe(
      `run #${run.number} has not been deployed to staging: promote it to staging first`,
    );
  });

  it('deploys two promotions to one environment one after the other, in request order', async () => {
    commit('third');
    const third = await build();
    const second = runs[1]!;
    const first = await promote(rita, second, 'staging');
    const next = await promote(rob, third, 'staging');
    // The first holds the environment's deploy lock: the second waits for it.
    expect(first.state).toBe('deploying');
    expect(next.state).toBe('queued');
    const [a, b] = await Promise.all([waitForPromotion(first.id), waitForPromotion(next.id)]);
    expect(a.state).toBe('deployed');
    expect(b.state).toBe('deployed');
    const [runA, runB] = (await Promise.all([
      stack.run(a.deployRun!.id),
      stack.run(b.deployRun!.id),
    ])) as [DeployRunView, DeployRunView];
    expect(runA.number).toBeLessThan(runB.number);
    expect(Date.parse(runA.finishedAt!)).toBeLessThanOrEqual(Date.parse(runB.createdAt));
  });

  it('rolls back by promoting the earlier run again, and the history shows both', async () => {
    const [first, second, third] = runs;
    const rollback = await promote(rita, first!, 'staging');
    expect(rollback.rollback).toBe(true);
    await deployed(await waitForPromotion(rollback.id));

    const history = await stack.ok<Promotion[]>(
      'GET',
      `/api/v1/repositories/${repositoryId}/environments/staging/deployments`,
    );
    expect(history.map((p) => [p.run.number, p.state, p.rollback])).toEqual([
      [first!.number, 'deployed', true],
      [third!.number, 'deployed', false],
      [second!.number, 'deployed', false],
      [first!.number, 'deployed', false],
    ]);
    const board = await stack.ok<{ environment: { name: string }; current?: Promotion }[]>(
      'GET',
      `/api/v1/repositories/${repositoryId}/environments`,
    );
    expect(board.map((entry) => [entry.environment.name, entry.current?.run.number])).toEqual([
      ['staging', first!.number],
      ['production', first!.number],
    ]);
  });

  it('refuses an artifact named ../../etc/passwd and writes nothing outside the artifact root', async () => {
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const build = runs[0]!.jobs.find((job) => job.key === 'build')!;
    // A hostile agent with a real task token, sending the name every way it can be spelled.
    const box = SecretBox.fromConfig(undefined, join(stack.serverDataDir, 'secret.key'));
    const taskId = build.taskId!;
    const token = new TaskTokens(box).logToken(taskId);
    for (const name of ['../../etc/passwd', '..%2F..%2Fetc%2Fpasswd', '%2E%2E/%2E%2E/etc/passwd']) {
      const res = await fetch(`${stack.serverUrl}/api/v1/tasks/${taskId}/artifacts/${name}`, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${token}`,
          'x-kiln-sha256': '0'.repeat(64),
          'content-type': 'application/octet-stream',
        },
        body: 'pwned',
      });
      expect([400, 404], name).toContain(res.status);
    }
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(passwd);
    const outside = readdirSync(stack.serverDataDir).filter((entry) => entry.includes('passwd'));
    expect(outside).toEqual([]);
    const stored = readdirSync(join(stack.serverDataDir, 'artifacts'), { recursive: true }).map(
      String,
    );
    expect(stored.filter((path) => path.includes('passwd') || path.endsWith('leak'))).toEqual([]);
    expect(existsSync(join(stack.serverDataDir, 'etc'))).toBe(false);
  });

  it('keeps every promotion, approval, rejection and cancel in the audit log with actor and time', async () => {
    // A rejection and a cancel, to have one of each.
    const [first] = runs;
    const third = runs[2]!;
    const rejected = await promote(rita, third, 'production');
    await rob.ok('POST', `/api/v1/promotions/${rejected.id}/reject`, { comment: 'not today' });
    expect((await stack.ok<Promotion>('GET', `/api/v1/promotions/${rejected.id}`)).state).toBe(
      'rejected',
    );
    const canceled = await promote(rita, third, 'production');
    await rita.ok('POST', `/api/v1/promotions/${canceled.id}/cancel`);

    const { events } = await stack.ok<{
      events: { actor?: string; action: string; objectId: string; at: string; summary: string }[];
    }>('GET', `/api/v1/audit?repositoryId=${repositoryId}&limit=200`);
    const seen = (action: string, actor: string, objectId?: string) =>
      events.some(
        (e) =>
          e.action === action &&
          e.actor === actor &&
          (objectId === undefined || e.objectId === objectId) &&
          !Number.isNaN(Date.parse(e.at)),
      );
    expect(seen('promotion.requested', 'rita')).toBe(true);
    expect(seen('promotion.approved', 'rob')).toBe(true);
    expect(seen('promotion.approved', 'rae')).toBe(true);
    expect(seen('promotion.rejected', 'rob', rejected.id)).toBe(true);
    expect(seen('promotion.canceled', 'rita', canceled.id)).toBe(true);
    expect(seen('role.granted', 'admin')).toBe(true);
    expect(seen('environment.saved', 'admin')).toBe(true);
    // Refused attempts change nothing and record nothing.
    expect(events.filter((e) => e.action === 'promotion.approved')).toHaveLength(2);
    expect(first).toBeDefined();
    const forbidden = await dave.call('GET', '/api/v1/audit');
    expect(forbidden.status).toBe(403);
  });

  it('answers 503 at once while Redis is down, recording neither a promotion nor an approval', async () => {
    const deployedRun = await build();
    await waitForPromotion((await promote(rita, deployedRun, 'staging')).id);
    const awaiting = await promote(rita, deployedRun, 'production');
    expect(awaiting.state).toBe('awaiting-approval');
    const waiting = await build();
    // Frozen, not gone: a client's calls would wait on it for ever without the readiness check.
    stack.redis.pause();
    try {
      const request = await rita.call<{ message: string }>(
        'POST',
        `/api/v1/runs/${waiting.id}/promotions`,
        { environment: 'staging' },
      );
      expect(request.status).toBe(503);
      expect(request.body.message).toMatch(/Redis.*unavailable.*no promotion was requested/);
      const approval = await rob.call<{ message: string }>(
        'POST',
        `/api/v1/promotions/${awaiting.id}/approve`,
        {},
      );
      expect(approval.status).toBe(503);
      expect(approval.body.message).toMatch(/Redis.*unavailable.*no approval was recorded/);
    } finally {
      stack.redis.resume();
    }
    // Nothing was left behind: the same request and the same approval now simply work.
    expect(
      (await stack.ok<Promotion>('GET', `/api/v1/promotions/${awaiting.id}`)).approvals,
    ).toEqual([]);
    await vi.waitFor(
      async () => {
        const ready = await fetch(`${stack.serverUrl}/readyz`);
        expect(ready.status).toBe(200);
      },
      { timeout: 30_000, interval: 100 },
    );
    const staged = await waitForPromotion((await promote(rita, waiting, 'staging')).id);
    expect(staged.state).toBe('deployed');
    const approved = await rob.ok<Promotion>(
      'POST',
      `/api/v1/promotions/${awaiting.id}/approve`,
      {},
    );
    expect(approved.approvals.map((a) => [a.user, a.decision])).toEqual([['rob', 'approve']]);
    await rita.ok('POST', `/api/v1/promotions/${awaiting.id}/cancel`);
  });

  it('ends a build that lists a secret limited to production in error, naming the limit', async () => {
    pushFiles(
      {
        '.kiln.yml':
          'jobs:\n  sneaky:\n    secrets: [DEPLOY_TOKEN]\n    steps:\n      - run: echo "$DEPLOY_TOKEN"\n',
      },
      'a build that wants the production credential',
    );
    const started = await stack.ok<{ id: string }>(
      'POST',
      `/api/v1/repositories/${repositoryId}/runs`,
      { branch: 'main' },
    );
    const run = await stack.waitForRun(started.id);
    expect(run.state).toBe('error');
    expect(run.errors).toEqual([
      '.kiln.yml: jobs.sneaky.secrets: DEPLOY_TOKEN is only for deployments to production',
    ]);
  });
});
