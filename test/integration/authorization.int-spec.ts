import type { NestExpressApplication } from '@nestjs/platform-express';
import { join } from 'node:path';
import { EnvironmentsRepository, PromotionsRepository } from '@kiln/persistence';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../e2e/support/api-client';
import { User } from '../e2e/support/user';
import { firstJobOf } from './support/runs';
import { startServerApp, type ServerApp } from './support/server-app';
import { createUpstream } from './support/upstream';

/**
 * Who may call what. Every route of the server's router is listed here with its rule; a route
 * missing from this table (or listed but gone) fails the test, so no route ships without a rule.
 * `repository` rules name the least role on the route's repository; admins may do everything.
 */
/**
 * `task`: an agent's route, for the task's own log token only (no user token opens it).
 * `signed`: a forge's webhook for a repository named by id, verified before anything else: no
 * caller without the repository's signature gets past 401.
 */
type Rule =
  'public' | 'task' | 'signed' | 'user' | 'admin' | 'viewer' | 'developer' | 'release-manager';
const TABLE: Record<string, Rule> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'POST /hooks/:forge': 'public',
  'POST /hooks/:forge/:repositoryId': 'signed',
  'POST /api/v1/tasks/:taskId/logs': 'task',
  'PUT /api/v1/tasks/:taskId/artifacts/*path': 'task',
  'GET /api/v1/tasks/:taskId/inputs/:jobId/*path': 'task',
  'GET /api/v1/tasks/:taskId/source.git/info/refs': 'task',
  'POST /api/v1/tasks/:taskId/source.git/git-upload-pack': 'task',
  'GET /api/v1/tasks/:taskId/source.pack': 'task',
  'POST /api/v1/session': 'public',
  'GET /api/v1/session': 'user',
  'DELETE /api/v1/session': 'user',
  'GET /api/v1/me': 'user',
  'GET /api/v1/tokens': 'user',
  'POST /api/v1/tokens': 'user',
  'DELETE /api/v1/tokens/:tokenId': 'user',
  'GET /api/v1/users': 'admin',
  'POST /api/v1/users': 'admin',
  'PATCH /api/v1/users/:userId': 'admin',
  'GET /api/v1/audit': 'admin',
  'GET /api/v1/agents': 'user',
  'GET /api/v1/queue': 'user',
  // Called without topics (a 400 to the signed-in): an accepted stream would never end.
  'GET /api/v1/events': 'user',
  'GET /api/v1/repositories': 'user',
  'POST /api/v1/repositories': 'admin',
  'GET /api/v1/repositories/:id': 'viewer',
  'PATCH /api/v1/repositories/:id': 'admin',
  'DELETE /api/v1/repositories/:id': 'admin',
  'POST /api/v1/repositories/:id/webhook-secret': 'admin',
  'GET /api/v1/repositories/:id/secrets': 'developer',
  'PUT /api/v1/repositories/:id/secrets/:name': 'release-manager',
  'DELETE /api/v1/repositories/:id/secrets/:name': 'release-manager',
  'GET /api/v1/repositories/:id/members': 'viewer',
  'PUT /api/v1/repositories/:id/members/:userId': 'admin',
  'DELETE /api/v1/repositories/:id/members/:userId': 'admin',
  'GET /api/v1/repositories/:id/runs': 'viewer',
  'POST /api/v1/repositories/:id/runs': 'developer',
  'GET /api/v1/repositories/:id/schedules': 'viewer',
  'POST /api/v1/repositories/:id/schedules': 'developer',
  'DELETE /api/v1/schedules/:scheduleId': 'developer',
  'GET /api/v1/runs/:runId': 'viewer',
  'POST /api/v1/runs/:runId/cancel': 'developer',
  'POST /api/v1/runs/:runId/rerun': 'developer',
  'POST /api/v1/runs/:runId/rerun-failed': 'developer',
  'GET /api/v1/jobs/:jobId': 'viewer',
  'GET /api/v1/jobs/:jobId/log': 'viewer',
  'GET /api/v1/jobs/:jobId/steps': 'viewer',
  'GET /api/v1/jobs/:jobId/log/stream': 'viewer',
  'GET /api/v1/jobs/:jobId/artifacts': 'viewer',
  'GET /api/v1/jobs/:jobId/artifacts/*path': 'viewer',
  'GET /api/v1/repositories/:id/environments': 'viewer',
  'PUT /api/v1/repositories/:id/environments/:name': 'admin',
  'GET /api/v1/repositories/:id/environments/:name/deployments': 'viewer',
  'DELETE /api/v1/repositories/:id/environments/:name': 'admin',
  'POST /api/v1/runs/:runId/promotions': 'release-manager',
  'GET /api/v1/promotions/:promotionId': 'viewer',
  'POST /api/v1/promotions/:promotionId/approve': 'release-manager',
  'POST /api/v1/promotions/:promotionId/reject': 'release-manager',
  'POST /api/v1/promotions/:promotionId/cancel': 'release-manager',
  'GET /api/v1/approvals': 'user',
};
const ROLES = ['viewer', 'developer', 'release-manager'] as const;

interface Caller {
  name: string;
  token?: string;
  admin?: boolean;
  /** Role on repository A (the one every request targets). */
  role?: (typeof ROLES)[number];
}

describe('authorization: every route, every role', () => {
  let server: ServerApp;
  let app: NestExpressApplication;
  let admin: ApiClient;
  const adminToken = 'authz-admin-token-0123456789';
  const callers: Caller[] = [{ name: 'anonymous' }];
  const ids: Record<string, string> = {};

  /** A user with a personal token, signed in the way a person would be: session, then token. */
  async function user(name: string): Promise<User> {
    const made = await User.create(admin, name);
    // The session alone makes no token: a call without its CSRF token is refused.
    const withoutCsrf = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { cookie: made.session.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cli' }),
    });
    expect(withoutCsrf.status).toBe(403);
    return made;
  }

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: adminToken } });
    app = server.app;
    admin = new ApiClient(server.url, adminToken);

    // Repository A, with a run that has a job, a schedule and a secret; repository B.
    const upstream = createUpstream(join(server.dir, 'upstream'), {
      '.kiln.yml': 'jobs:\n  a:\n    steps:\n      - run: echo a\n',
    });
    const repoA = await admin.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/a',
      cloneUrl: upstream.url,
    });
    const repoB = await admin.ok<{ id: string }>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: 'acme/b',
      cloneUrl: upstream.url,
    });
    ids.id = repoA.id;
    ids.repositoryId = repoA.id;
    const run = await admin.ok<{ id: string }>('POST', `/api/v1/repositories/${repoA.id}/runs`, {});
    ids.runId = run.id;
    ids.jobId = await firstJobOf(admin, run.id);
    await admin.ok('PUT', `/api/v1/repositories/${repoA.id}/secrets/TOKEN`, { value: 'x' });
    ids.name = 'TOKEN';
    ids.forge = 'github';
    ids.taskId = 'task-1';

    for (const role of ROLES) {
      const member = await user(`a-${role}`);
      await admin.ok('PUT', `/api/v1/repositories/${repoA.id}/members/${member.id}`, { role });
      callers.push({ name: `${role} of A`, token: member.token, role });
    }
    const stranger = await user('b-developer');
    await admin.ok('PUT', `/api/v1/repositories/${repoB.id}/members/${stranger.id}`, {
      role: 'developer',
    });
    callers.push({ name: 'developer of B only', token: stranger.token });
    const target = await user('target');
    ids.userId = target.id;
    // A promotion of A's run awaiting approval (runs do not run here: no cluster), asked by
    // `target`, so every release manager may decide on it.
    const environment = await app.get(EnvironmentsRepository).save(repoA.id, 'qa', {
      previousId: null,
      requiredApprovals: 5,
      allowedBranches: null,
      approvalTimeoutMinutes: 60,
    });
    const promotion = await app.get(PromotionsRepository).create({
      repositoryId: repoA.id,
      environmentId: environment.id,
      runId: run.id,
      state: 'awaiting-approval',
      rollback: false,
      requestedBy: target.id,
      requiredApprovals: 5,
    });
    ids.promotionId = promotion.id;
    ids.tokenId = '7d1e6a4e-8a51-4c35-9d61-0b4f1f8f9a11';
    callers.push({ name: 'admin', token: adminToken, admin: true });
  }, 60_000);

  afterAll(() => server?.close());

  function routes(): string[] {
    const router = (app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router;
    return (
      router.stack
        // Nest's catch-all (`/{*path}`, for its 404 answer) is not a route of the API.
        .filter((layer) => layer.route !== undefined && !layer.route.path.includes('{*'))
        .flatMap((layer) =>
          Object.keys(layer.route!.methods)
            .filter((m) => m !== '_all')
            .map((m) => `${m.toUpperCase()} ${layer.route!.path}`),
        )
    );
  }

  it('has a rule for every route of the router, and a route for every rule', () => {
    expect(routes().sort()).toEqual(Object.keys(TABLE).sort());
  });

  /** What `caller` must get from a route with `rule`: allowed, or the status that denies. */
  function expected(rule: Rule, caller: Caller): 'allowed' | 401 | 403 | 404 {
    if (rule === 'public') return 'allowed';
    if (rule === 'task' || rule === 'signed') return 401;
    if (caller.token === undefined) return 401;
    if (caller.admin === true || rule === 'user') return 'allowed';
    if (rule === 'admin') return 403;
    if (caller.role === undefined) return 404;
    return ROLES.indexOf(caller.role) >= ROLES.indexOf(rule) ? 'allowed' : 403;
  }

  /** A fresh object for routes that would destroy the shared one. */
  async function paramsFor(route: string): Promise<Record<string, string>> {
    if (route === 'DELETE /api/v1/schedules/:scheduleId') {
      const schedule = await admin.ok<{ id: string }>(
        'POST',
        `/api/v1/repositories/${ids.id}/schedules`,
        {
          name: `s-${Math.random().toString(36).slice(2, 8)}`,
          cron: '0 3 * * *',
        },
      );
      return { ...ids, scheduleId: schedule.id };
    }
    const schedule =
      ids.scheduleId ??
      (ids.scheduleId = (
        await admin.ok<{ id: string }>('POST', `/api/v1/repositories/${ids.id}/schedules`, {
          name: 'nightly',
          cron: '0 3 * * *',
        })
      ).id);
    return { ...ids, scheduleId: schedule };
  }

  const BODIES: Record<string, unknown> = {
    'PUT /api/v1/repositories/:id/members/:userId': { role: 'viewer' },
    'PUT /api/v1/repositories/:id/secrets/:name': { value: 'x' },
    'POST /api/v1/tokens': { name: 'another' },
    'PATCH /api/v1/users/:userId': { disabled: false },
  };

  // Deleting repository A comes last: everything else needs it.
  const ordered = Object.keys(TABLE).sort(
    (a, b) =>
      Number(a === 'DELETE /api/v1/repositories/:id') -
      Number(b === 'DELETE /api/v1/repositories/:id'),
  );

  it.each(ordered)('%s answers each caller as its rule says', async (route) => {
    const rule = TABLE[route]!;
    const [method, pattern] = route.split(' ') as [string, string];
    // The admin goes last, so a destructive call by an allowed caller happens after the checks.
    for (const caller of callers) {
      const params = await paramsFor(route);
      const path = pattern.replace(/:(\w+)/g, (_, name: string) => params[name] ?? 'x');
      const res = await new ApiClient(server.url, caller.token).call<{ message?: unknown }>(
        method,
        path,
        BODIES[route] ?? (method === 'GET' || method === 'DELETE' ? undefined : {}),
      );
      const want = expected(rule, caller);
      const context = `${caller.name}: ${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`;
      if (want === 'allowed') {
        expect([401, 403], context).not.toContain(res.status);
        // A 404 from the service is fine (a secret that is not there); one from the guard is not.
        if (res.status === 404)
          expect(String(res.body?.message), context).not.toMatch(
            /^(repository|run|job|schedule|promotion) \S+ does not exist$/,
          );
      } else {
        expect(res.status, context).toBe(want);
      }
    }
  });
});

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}
