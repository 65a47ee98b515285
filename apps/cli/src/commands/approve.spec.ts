import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../errors';
import { runCli } from '../program';
import { FakeApi, memoryIo } from '../testing/fake-api';
import { NOW, PROMOTION_ID, promotion } from '../testing/fixtures';
import { registerApprovals } from './approvals';
import { registerApprove } from './approve';

describe(registerApprove.name, () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
  });
  afterEach(() => api.stop());

  it('approves with a comment and prints the promotion as it is now', async () => {
    api.reply(
      `POST /api/v1/promotions/${PROMOTION_ID}/approve`,
      promotion({
        approvals: [
          { user: 'alice', decision: 'approve', comment: 'checked', at: NOW.toISOString() },
        ],
      }),
    );
    const io = memoryIo(env, { now: NOW });
    expect(await runCli(['approve', PROMOTION_ID, '--comment', 'checked'], io)).toBe(ExitCode.Ok);
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ comment: 'checked' });
    expect(io.stdoutText()).toContain('  approvals:    1/2 (approved by alice: checked)\n');
    expect(io.stdoutText()).toContain(
      '  waiting for:  1 more approval from a release manager (expires in 23h55m)\n',
    );
  });

  it('rejects with `kiln reject`, and prints the ended promotion as JSON with --json', async () => {
    const rejected = promotion({
      state: 'rejected',
      approvals: [{ user: 'alice', decision: 'reject', at: NOW.toISOString() }],
    });
    api.reply(`POST /api/v1/promotions/${PROMOTION_ID}/reject`, rejected);
    const io = memoryIo(env);
    expect(await runCli(['reject', PROMOTION_ID, '--json'], io)).toBe(ExitCode.Ok);
    expect(JSON.parse(api.requests[0]!.body)).toEqual({});
    expect(JSON.parse(io.stdoutText())).toEqual(rejected);
  });

  it("shows the server's 403 as it is with exit 4, and its 409 with exit 3", async () => {
    const own = 'you requested this promotion: another release manager must approve it';
    api.reply(
      `POST /api/v1/promotions/${PROMOTION_ID}/approve`,
      { statusCode: 403, error: 'Forbidden', message: own },
      403,
    );
    const forbidden = memoryIo(env);
    expect(await runCli(['approve', PROMOTION_ID], forbidden)).toBe(ExitCode.NotFound);
    expect(forbidden.stderrText()).toBe(`kiln: ${own}\n`);
    const twice = 'you already approved this promotion';
    api.reply(
      `POST /api/v1/promotions/${PROMOTION_ID}/reject`,
      { statusCode: 409, error: 'Conflict', message: twice },
      409,
    );
    const conflict = memoryIo(env);
    expect(await runCli(['reject', PROMOTION_ID, '-m', 'no'], conflict)).toBe(ExitCode.Api);
    expect(conflict.stderrText()).toBe(`kiln: ${twice}\n`);
  });

  it('exits 2 for a promotion id that is not one, before any call', async () => {
    const io = memoryIo(env);
    expect(await runCli(['approve', '42'], io)).toBe(ExitCode.Usage);
    expect(io.stderrText()).toMatch(/^kiln: the promotion id must be a UUID, got '42'/);
    expect(api.requests).toEqual([]);
  });
});

describe(registerApprovals.name, () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
  });
  afterEach(() => api.stop());

  it('lists the inbox as a table, or the API JSON with --json', async () => {
    const inbox = [
      promotion({
        approvals: [{ user: 'carol', decision: 'approve', at: NOW.toISOString() }],
      }),
      promotion({ id: 'p2', environment: 'staging', rollback: true, expiresAt: undefined }),
    ];
    api.reply('GET /api/v1/approvals', inbox);
    const io = memoryIo(env, { now: NOW });
    expect(await runCli(['approvals'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe(
      'ID                                    REPOSITORY  RUN  SHA      ENVIRONMENT         APPROVALS  REQUESTED BY  REQUESTED  EXPIRES\n' +
        `${PROMOTION_ID}  acme/app    #3   abcdef1  production          1/2        bob           5m ago     in 23h55m\n` +
        'p2                                    acme/app    #3   abcdef1  staging (rollback)  0/2        bob           5m ago     -\n',
    );
    const jsonIo = memoryIo(env);
    expect(await runCli(['approvals', '--json'], jsonIo)).toBe(ExitCode.Ok);
    expect(JSON.parse(jsonIo.stdoutText())).toEqual(JSON.parse(JSON.stringify(inbox)));
  });

  it('says so on stderr when nothing awaits approval', async () => {
    api.reply('GET /api/v1/approvals', []);
    const io = memoryIo(env);
    expect(await runCli(['approvals'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe('');
    expect(io.stderrText()).toBe('kiln: no promotions await your approval\n');
  });
});
