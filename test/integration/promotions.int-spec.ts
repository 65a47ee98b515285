import {
  AuditRepository,
  EnvironmentsRepository,
  PromotionsRepository,
  RunsRepository,
  type Run,
} from '@kiln/persistence';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromotionsService } from '../../apps/server/src/releases/promotions.service';
import { ApiClient } from '../e2e/support/api-client';
import { User } from '../e2e/support/user';
import { startServerApp, type ServerApp } from './support/server-app';
import { createUpstream } from './support/upstream';

/**
 * What the promotions service does between the events the e2e test sees: expiries, and what a
 * restarted server picks up. Runs are seeded as ended through the repository (no cluster here).
 */
describe('promotions: expiry and recovery after a restart', () => {
  let server: ServerApp;
  let admin: ApiClient;
  const token = 'promotions-admin-token-0123456789';
  let repositoryId: string;
  let runs: RunsRepository;
  let promotions: PromotionsRepository;
  let service: PromotionsService;
  let head: string;

  /** A run of the repository that succeeded, as the build framework would leave it. */
  async function succeededRun(sha: string): Promise<Run> {
    const created = await runs.create({
      repositoryId,
      event: 'push',
      ref: 'refs/heads/main',
      branch: 'main',
      sha,
      fromFork: false,
    });
    if (!('run' in created)) throw new Error('no run');
    await runs.start(created.run.id, []);
    return (await runs.transition(created.run.id, ['running'], 'success'))!;
  }

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: token } });
    runs = server.app.get(RunsRepository);
    promotions = server.app.get(PromotionsRepository);
    service = server.app.get(PromotionsService);
    admin = new ApiClient(server.url, token);
    const upstream = createUpstream(join(server.dir, 'upstream'), {
      '.kiln.yml':
        'jobs:\n  deploy:\n    when: { event: promote }\n    steps:\n      - run: echo deploy\n',
    });
    head = upstream.sha;
    repositoryId = (
      await admin.ok<{ id: string }>('POST', '/api/v1/repositories', {
        forge: 'github',
        fullName: 'acme/shop',
        cloneUrl: upstream.url,
      })
    ).id;
    await admin.ok('PUT', `/api/v1/repositories/${repositoryId}/environments/staging`, {});
    await admin.ok('PUT', `/api/v1/repositories/${repositoryId}/environments/production`, {
      previous: 'staging',
      requiredApprovals: 1,
      approvalTimeoutMinutes: 30,
    });
  }, 60_000);

  afterAll(() => server?.close());

  it('expires a promotion nobody decided on in time, on the record without an actor', async () => {
    const run = await succeededRun(head);
    const staging = await server.app
      .get(EnvironmentsRepository)
      .findByName(repositoryId, 'staging');
    // Deployed to staging before (as a finished promotion would have left it).
    const earlier = await promotions.create({
      repositoryId,
      environmentId: staging!.id,
      runId: run.id,
      state: 'queued',
      rollback: false,
      requestedBy: (await admin.ok<{ id: string }>('GET', '/api/v1/me')).id,
      requiredApprovals: 0,
    });
    await promotions.transition(earlier.id, ['queued'], 'deployed');

    const asked = await admin.ok<{ id: string; state: string; expiresAt: string }>(
      'POST',
      `/api/v1/runs/${run.id}/promotions`,
      { environment: 'production' },
    );
    expect(asked.state).toBe('awaiting-approval');
    const expiresAt = Date.parse(asked.expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(29 * 60_000);

    // Too early: nothing changes.
    await service.expire(asked.id, new Date(expiresAt - 1_000));
    expect((await promotions.findById(asked.id))?.state).toBe('awaiting-approval');
    await service.expire(asked.id, new Date(expiresAt + 1_000));
    const expired = await admin.ok<{ state: string; statusMessage: string }>(
      'GET',
      `/api/v1/promotions/${asked.id}`,
    );
    expect(expired).toMatchObject({
      state: 'expired',
      statusMessage: 'not approved within 30 minutes',
    });
    const { events } = await server.app
      .get(AuditRepository)
      .list({ limit: 10, action: 'promotion.expired' });
    expect(events).toEqual([
      expect.objectContaining({ objectId: asked.id, repositoryId }) as unknown,
    ]);
    expect(events[0]?.actorName).toBeUndefined();
  });

  it('after a restart, ends a deployment whose run ended meanwhile and starts the next one', async () => {
    const [a, b] = [await succeededRun(head), await succeededRun(head)];
    const first = await admin.ok<{ id: string; state: string }>(
      'POST',
      `/api/v1/runs/${a.id}/promotions`,
      {
        environment: 'staging',
      },
    );
    const second = await admin.ok<{ id: string; state: string }>(
      'POST',
      `/api/v1/runs/${b.id}/promotions`,
      {
        environment: 'staging',
      },
    );
    expect([first.state, second.state]).toEqual(['deploying', 'queued']);
    const deploying = await promotions.findById(first.id);
    expect(deploying?.deployRunId).toBeDefined();

    // The deploy run ends while the server is down: its end never reaches the promotion.
    const deployRunId = deploying!.deployRunId!;
    expect(await runs.transition(deployRunId, ['pending', 'running'], 'success')).toBeDefined();
    expect((await promotions.findById(first.id))?.state).toBe('deploying');

    await service.onApplicationBootstrap();
    expect((await promotions.findById(first.id))?.state).toBe('deployed');
    const next = await promotions.findById(second.id);
    expect(next?.state).toBe('deploying');
    expect(next?.deployRunId).toBeDefined();
    const staging = await server.app
      .get(EnvironmentsRepository)
      .findByName(repositoryId, 'staging');
    expect(staging?.deployingPromotionId).toBe(second.id);
    const deployRun = await runs.findById(next!.deployRunId!);
    expect(deployRun).toMatchObject({
      event: 'promote',
      environment: 'staging',
      promotedRunId: b.id,
      sha: b.sha,
    });
  });

  it('refuses an approval that comes after the time, even before the expiry job ran', async () => {
    const rob = await User.create(admin, 'rob');
    await admin.ok('PUT', `/api/v1/repositories/${repositoryId}/members/${rob.id}`, {
      role: 'release-manager',
    });
    const production = await server.app
      .get(EnvironmentsRepository)
      .findByName(repositoryId, 'production');
    const late = await promotions.create({
      repositoryId,
      environmentId: production!.id,
      runId: (await succeededRun(head)).id,
      state: 'awaiting-approval',
      rollback: false,
      requestedBy: (await admin.ok<{ id: string }>('GET', '/api/v1/me')).id,
      requiredApprovals: 1,
      expiresAt: new Date(Date.now() - 60_000),
    });
    const refused = await rob.call<{ message: string }>(
      'POST',
      `/api/v1/promotions/${late.id}/approve`,
      {},
    );
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/^the promotion expired at .*: ask for it again$/);
    expect((await promotions.findById(late.id))?.state).toBe('expired');
    expect((await promotions.decisions([late.id])).get(late.id)).toBeUndefined();
  });

  it('answers what is wrong with an environment: no such repository, no branch, no such scope', async () => {
    const missing = await admin.call<{ message: string }>(
      'PUT',
      '/api/v1/repositories/5f0c6a52-1d7e-4b8a-9c3f-2e1d0a9b8c7d/environments/qa',
      {},
    );
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe(
      'repository 5f0c6a52-1d7e-4b8a-9c3f-2e1d0a9b8c7d does not exist',
    );
    const empty = await admin.call<{ details: string[] }>(
      'PUT',
      `/api/v1/repositories/${repositoryId}/environments/qa`,
      { allowedBranches: [] },
    );
    expect(empty.status).toBe(400);
    expect(empty.body.details).toEqual([
      'allowedBranches must list a branch or glob (null: any branch)',
    ]);
    // A secret limited to an environment that is not there would never reach a deployment.
    const misspelt = await admin.call<{ message: string }>(
      'PUT',
      `/api/v1/repositories/${repositoryId}/secrets/DEPLOY_TOKEN`,
      { value: 'x', environments: ['prod'] },
    );
    expect(misspelt.status).toBe(422);
    expect(misspelt.body.message).toBe(
      'environments: acme/shop has no environment prod (it has staging, production)',
    );
  });

  it('refuses to promote a run whose artifacts retention deleted, saying so', async () => {
    const run = await succeededRun(head);
    await runs.markArtifactsDeleted(run.id, new Date('2026-11-20T03:00:00Z'));
    const refused = await admin.call<{ message: string }>(
      'POST',
      `/api/v1/runs/${run.id}/promotions`,
      { environment: 'staging' },
    );
    expect(refused.status).toBe(422);
    expect(refused.body.message).toBe(
      `run #${run.number} has no artifacts any more (artifact retention deleted them on 2026-11-20): build its commit again`,
    );
  });
});
