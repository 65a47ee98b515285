import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../e2e/support/api-client';
import { User } from '../e2e/support/user';
import { startServerApp, type ServerApp } from './support/server-app';
import { createUpstream } from './support/upstream';

const ADMIN_TOKEN = 'audit-int-admin-token-0123456789';
const SECRET_VALUES = ['first-value-of-deploy-key-3f9a', 'second-value-of-deploy-key-7c21'];

interface AuditEventBody {
  id: string;
  at: string;
  actor?: string;
  action: string;
  objectType: string;
  objectId: string;
  repositoryId?: string;
  repositoryFullName?: string;
  summary: string;
  details: Record<string, unknown>;
}

interface AuditPageBody {
  events: AuditEventBody[];
  next?: string;
}

/**
 * The audit log, end to end through the HTTP API: each audited change made by an administrator or
 * another user, then read back by an administrator, filtered and paged.
 */
describe('audit log', () => {
  let server: ServerApp;
  let admin: ApiClient;
  /** Every credential and secret value the calls below send or receive: none may be recorded. */
  const secrets: string[] = [ADMIN_TOKEN, ...SECRET_VALUES];
  const ids: Record<string, string> = {};
  let alice: User;
  /** What the changes below recorded, oldest first: [actor, action, object id]. */
  const expected: [string, string, string][] = [];

  const audit = (query = ''): Promise<AuditPageBody> =>
    admin.ok<AuditPageBody>('GET', `/api/v1/audit${query}`);

  /** A user signed in as a person would be, with a personal token made in that session. */
  async function user(name: string, isAdmin = false): Promise<User> {
    const made = await User.create(admin, name, { admin: isAdmin });
    expected.push(['admin', 'user.created', made.id], [name, 'token.created', made.tokenId]);
    const { cookie, csrfToken } = made.session;
    secrets.push(made.password, made.token, csrfToken, cookie.split('=')[1]!);
    return made;
  }

  beforeAll(async () => {
    server = await startServerApp({ env: { KILN_API_TOKEN: ADMIN_TOKEN } });
    admin = new ApiClient(server.url, ADMIN_TOKEN);
    const upstream = createUpstream(join(server.dir, 'upstream'), {
      '.kiln.yml': 'jobs:\n  a:\n    steps:\n      - run: echo a\n',
    });

    // The administrator (the bootstrap token's user, "admin") registers and configures.
    const web = await admin.ok<{ id: string; webhookSecret: string }>(
      'POST',
      '/api/v1/repositories',
      { forge: 'github', fullName: 'acme/web', cloneUrl: upstream.url },
    );
    ids.web = web.id;
    secrets.push(web.webhookSecret);
    expected.push(['admin', 'repository.created', web.id]);
    alice = await user('alice');
    await user('root', true);
    await admin.ok('PUT', `/api/v1/repositories/${web.id}/members/${alice.id}`, {
      role: 'release-manager',
    });
    expected.push(['admin', 'role.granted', alice.id]);
    await admin.ok('PATCH', `/api/v1/repositories/${web.id}`, {
      defaultBranch: 'main',
      forgeToken: 'forge-token-never-recorded-5d1e',
    });
    secrets.push('forge-token-never-recorded-5d1e');
    expected.push(['admin', 'repository.updated', web.id]);
    const rotated = await admin.ok<{ webhookSecret: string }>(
      'POST',
      `/api/v1/repositories/${web.id}/webhook-secret`,
    );
    secrets.push(rotated.webhookSecret);
    expected.push(['admin', 'repository.webhook-secret-rotated', web.id]);

    // Alice, a release manager of acme/web and no administrator, changes its secrets and runs.
    for (const value of SECRET_VALUES) {
      await alice.ok('PUT', `/api/v1/repositories/${web.id}/secrets/DEPLOY_KEY`, { value });
      expected.push(['alice', 'secret.set', 'DEPLOY_KEY']);
    }
    await alice.ok('DELETE', `/api/v1/repositories/${web.id}/secrets/DEPLOY_KEY`);
    expected.push(['alice', 'secret.deleted', 'DEPLOY_KEY']);
    // No cluster is needed: a run that has not ended yet (its job queued) can be canceled.
    const run = await alice.ok<{ id: string }>('POST', `/api/v1/repositories/${web.id}/runs`, {});
    ids.run = run.id;
    expected.push(['alice', 'run.started', run.id]);
    await alice.ok('POST', `/api/v1/runs/${run.id}/cancel`);
    expected.push(['alice', 'run.canceled', run.id]);
    const laptop = await alice.ok<{ id: string; token: string }>('POST', '/api/v1/tokens', {
      name: 'laptop',
    });
    secrets.push(laptop.token);
    ids.laptop = laptop.id;
    expected.push(['alice', 'token.created', laptop.id]);
    await alice.ok('DELETE', `/api/v1/tokens/${laptop.id}`);
    expected.push(['alice', 'token.revoked', laptop.id]);

    await admin.ok('DELETE', `/api/v1/repositories/${web.id}/members/${alice.id}`);
    expected.push(['admin', 'role.revoked', alice.id]);
    const scratch = await admin.ok<{ id: string; webhookSecret: string }>(
      'POST',
      '/api/v1/repositories',
      { forge: 'github', fullName: 'acme/scratch', cloneUrl: upstream.url },
    );
    ids.scratch = scratch.id;
    secrets.push(scratch.webhookSecret);
    expected.push(['admin', 'repository.created', scratch.id]);
    await admin.ok('DELETE', `/api/v1/repositories/${scratch.id}`);
    expected.push(['admin', 'repository.deleted', scratch.id]);
  }, 60_000);

  afterAll(() => server?.close());

  it('lists every change with its actor, action, object and time, newest first', async () => {
    const { events, next } = await audit('?limit=200');
    expect(next).toBeUndefined();
    const times = events.map((e) => Date.parse(e.at));
    expect(times.every((t) => Number.isFinite(t))).toBe(true);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(events.map((e) => new Date(e.at).toISOString())).toEqual(events.map((e) => e.at));
    // Events of one millisecond have no order among themselves: compare as sets.
    const seen = events.map((e) => [e.actor, e.action, e.objectId]);
    expect(seen).toHaveLength(expected.length);
    expect(seen).toEqual(expect.arrayContaining(expected));
    for (const event of events) expect(event.summary).toMatch(new RegExp(`^${event.actor} `));
  });

  it('tells each object and its repository', async () => {
    const { events } = await audit('?limit=200');
    const one = (action: string): AuditEventBody => {
      const found = events.filter((e) => e.action === action);
      expect(found, action).toHaveLength(1);
      return found[0]!;
    };
    expect(one('run.canceled')).toMatchObject({
      actor: 'alice',
      objectType: 'run',
      objectId: ids.run,
      repositoryId: ids.web,
      repositoryFullName: 'acme/web',
      summary: expect.stringMatching(/^alice canceled run #1 of acme\/web$/) as unknown,
    });
    expect(one('secret.deleted')).toMatchObject({
      objectType: 'secret',
      objectId: 'DEPLOY_KEY',
      repositoryFullName: 'acme/web',
      details: { name: 'DEPLOY_KEY' },
    });
    expect(one('role.granted')).toMatchObject({
      actor: 'admin',
      objectType: 'role',
      repositoryFullName: 'acme/web',
      details: { username: 'alice', role: 'release-manager' },
    });
    expect(one('role.revoked')).toMatchObject({
      details: { username: 'alice', role: 'release-manager' },
    });
    expect(one('token.revoked')).toMatchObject({
      actor: 'alice',
      objectType: 'token',
      objectId: ids.laptop,
      details: { name: 'laptop' },
    });
    expect(one('repository.updated').details).toEqual({ fields: ['defaultBranch', 'forgeToken'] });
    // A removed repository keeps its events; only its name now is gone.
    const deleted = one('repository.deleted');
    expect(deleted).toMatchObject({
      repositoryId: ids.scratch,
      details: { fullName: 'acme/scratch' },
    });
    expect(deleted.repositoryFullName).toBeUndefined();
    const users = events.filter((e) => e.action === 'user.created');
    expect(
      users
        .map((e) => e.details)
        .sort((a, b) => String(a.username).localeCompare(String(b.username))),
    ).toEqual([
      { username: 'alice', admin: false },
      { username: 'root', admin: true },
    ]);
  });

  it('filters by action, actor and repository (all that are given)', async () => {
    const sets = await audit('?action=secret.set');
    expect(sets.events.map((e) => [e.actor, e.details])).toEqual(
      expect.arrayContaining([
        ['alice', { name: 'DEPLOY_KEY', created: true }],
        ['alice', { name: 'DEPLOY_KEY', created: false }],
      ]),
    );
    expect(sets.events).toHaveLength(2);
    const byAlice = await audit('?actor=alice&limit=200');
    expect(byAlice.events.map((e) => e.action).sort()).toEqual(
      expected
        .filter(([actor]) => actor === 'alice')
        .map(([, action]) => action)
        .sort(),
    );
    const ofWeb = await audit(`?repositoryId=${ids.web}&limit=200`);
    expect(ofWeb.events.length).toBeGreaterThan(0);
    expect(ofWeb.events.every((e) => e.repositoryFullName === 'acme/web')).toBe(true);
    expect(ofWeb.events.map((e) => e.action)).toContain('run.canceled');
    const both = await audit(`?repositoryId=${ids.web}&actor=admin&action=secret.set`);
    expect(both.events).toEqual([]);
  });

  it('pages with `next` through every event, each once', async () => {
    const all = (await audit('?limit=200')).events.map((e) => e.id);
    const paged: string[] = [];
    let page = await audit('?limit=4');
    for (;;) {
      expect(page.events.length).toBeLessThanOrEqual(4);
      paged.push(...page.events.map((e) => e.id));
      if (page.next === undefined) break;
      expect(page.next).toBe(page.events.at(-1)!.id);
      page = await audit(`?limit=4&before=${page.next}`);
    }
    expect(paged).toEqual(all);
  });

  it('never records a secret value, a token or a password', async () => {
    const { events } = await audit('?limit=200');
    const text = JSON.stringify(events);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  it('is for administrators only, and checks its query', async () => {
    expect((await new ApiClient(server.url).call('GET', '/api/v1/audit')).status).toBe(401);
    expect((await alice.call('GET', '/api/v1/audit')).status).toBe(403);
    for (const query of [
      'limit=0',
      'limit=201',
      'before=12',
      'repositoryId=acme',
      'action=DROP TABLE',
      'action=secret',
      'unknown=1',
    ]) {
      const res = await admin.call('GET', `/api/v1/audit?${query}`);
      expect(res.status, query).toBe(400);
    }
  });
});
