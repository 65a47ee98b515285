import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Promotion, RunDetails } from '../api-types';
import { ExitCode } from '../errors';
import { runCli } from '../program';
import { FakeApi, json, memoryIo } from '../testing/fake-api';
import {
  DEPLOY_RUN_ID,
  NOW,
  PROMOTION_ID,
  REPO,
  RUN_ID,
  promotion,
  run,
  runDetails,
  runLookup,
} from '../testing/fixtures';
import { registerPromote } from './promote';

const PROMOTE = `POST /api/v1/runs/${RUN_ID}/promotions`;
const GET_PROMOTION = `GET /api/v1/promotions/${PROMOTION_ID}`;

/** Answers `route` with each body in turn, then the last one for good. */
function sequence(api: FakeApi, route: string, bodies: unknown[]): void {
  api.on(route, (_req, res) => json(res, 200, bodies.length > 1 ? bodies.shift() : bodies[0]));
}

describe(registerPromote.name, () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
    api.reply('GET /api/v1/repositories', [REPO]);
    api.reply(runLookup(3), { runs: [run()], next: 3 });
  });
  afterEach(() => api.stop());

  it('promotes run #3 found by its number, and prints state, approvals and what it waits for', async () => {
    api.reply(PROMOTE, promotion({ comment: 'release 1.4' }), 201);
    const io = memoryIo(env, { now: NOW });
    expect(
      await runCli(['promote', 'acme/app', '3', 'production', '--comment', 'release 1.4'], io),
    ).toBe(ExitCode.Ok);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/v1/repositories',
      runLookup(3),
      PROMOTE,
    ]);
    expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({
      environment: 'production',
      comment: 'release 1.4',
    });
    expect(io.stdoutText()).toBe(
      'promotion of acme/app run #3 to production: awaiting-approval\n' +
        `  id:           ${PROMOTION_ID}\n` +
        '  run:          #3 main abcdef1  Fix the login page\n' +
        '  approvals:    0/2\n' +
        '  waiting for:  2 more approvals from a release manager (expires in 23h55m)\n' +
        '  requested:    by bob 5m ago: release 1.4\n' +
        `Another release manager approves it with: kiln approve ${PROMOTION_ID}\n`,
    );
    expect(io.stderrText()).toBe('');
  });

  it('prints the promotion as the API answered it with --json', async () => {
    const created = promotion({ state: 'queued', requiredApprovals: 0 });
    api.reply(PROMOTE, created, 201);
    const io = memoryIo(env);
    expect(await runCli(['promote', 'acme/app', '3', 'staging', '--json'], io)).toBe(ExitCode.Ok);
    expect(JSON.parse(io.stdoutText())).toEqual(created);
    expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({ environment: 'staging' });
  });

  it('exits 4 for a run number the repository does not have', async () => {
    api.reply(runLookup(9), { runs: [run({ number: 8 })], next: 8 });
    const io = memoryIo(env);
    expect(await runCli(['promote', 'acme/app', '9', 'staging'], io)).toBe(ExitCode.NotFound);
    expect(io.stderrText()).toBe('kiln: acme/app has no run #9\n');
    expect(api.requests.some((r) => r.method === 'POST')).toBe(false);
  });

  it('shows the policy that refuses a promotion as the server words it, exit 3', async () => {
    const message = 'run #3 has not been deployed to staging: promote it there first';
    api.reply(PROMOTE, { statusCode: 422, error: 'Unprocessable Entity', message }, 422);
    const io = memoryIo(env);
    expect(await runCli(['promote', 'acme/app', '3', 'production'], io)).toBe(ExitCode.Api);
    expect(io.stderrText()).toBe(`kiln: ${message}\n`);
    expect(io.stdoutText()).toBe('');
  });

  it('exits 2 for a bad run number or environment name, before any call', async () => {
    for (const argv of [
      ['promote', 'acme/app', 'three', 'staging'],
      ['promote', 'acme/app', '3', '-prod'],
      ['promote', 'acme/app', '3', 'pro/duction'],
      ['promote', 'acme/app', '3'],
    ]) {
      const io = memoryIo(env);
      expect(await runCli(argv, io), argv.join(' ')).toBe(ExitCode.Usage);
      expect(io.stderrText()).toMatch(/^kiln: /);
    }
    expect(api.requests).toEqual([]);
  });

  describe('--wait', () => {
    const approvedByAlice = [
      { user: 'alice', decision: 'approve' as const, at: NOW.toISOString() },
    ];
    const deployRun = { id: DEPLOY_RUN_ID, number: 7, state: 'running' as const };
    const deploy = (state: RunDetails['state'], jobState: string): RunDetails =>
      runDetails({ id: DEPLOY_RUN_ID, number: 7, state, event: 'promote' }, [
        { key: 'deploy', state: jobState as 'running' },
      ]);

    it('follows approvals, the lock and the deploy run until deployed: exit 0', async () => {
      const requested = promotion({ requiredApprovals: 1 });
      api.reply(PROMOTE, requested, 201);
      const looks: Promotion[] = [
        requested,
        promotion({ requiredApprovals: 1, state: 'queued', approvals: approvedByAlice }),
        promotion({
          requiredApprovals: 1,
          state: 'deploying',
          approvals: approvedByAlice,
          deployRun,
        }),
        promotion({
          requiredApprovals: 1,
          state: 'deployed',
          approvals: approvedByAlice,
          deployRun: { ...deployRun, state: 'success' },
          finishedAt: '2025-01-10T12:00:00Z',
        }),
      ];
      sequence(api, GET_PROMOTION, looks);
      sequence(api, `GET /api/v1/runs/${DEPLOY_RUN_ID}`, [
        deploy('running', 'running'),
        deploy('success', 'success'),
      ]);
      const io = memoryIo(env, { now: NOW });
      expect(
        await runCli(['promote', 'acme/app', '3', 'production', '--wait', '--interval', '1'], io),
      ).toBe(ExitCode.Ok);
      const lines = io.stdoutText().split('\n');
      // The promotion as requested, then one line per change, then how it ended.
      expect(lines[0]).toBe('promotion of acme/app run #3 to production: awaiting-approval');
      expect(lines.slice(6).map((l) => l.replace(/^\d\d:\d\d:\d\d {2}/, ''))).toEqual([
        'promotion  queued: alice approved',
        'promotion  deploying: deploy run #7',
        'run #7     running',
        'deploy     running',
        'deploy     success',
        'run #7     success',
        'promotion  deployed',
        'promotion of run #3 to production deployed in 5m00s',
        '',
      ]);
      expect(io.stderrText()).toBe('');
      // An ended deploy run is not asked about again.
      const runLooks = api.requests.filter((r) => r.path === `/api/v1/runs/${DEPLOY_RUN_ID}`);
      expect(runLooks).toHaveLength(2);
    });

    it('exits 1 when the promotion is rejected, with why', async () => {
      api.reply(PROMOTE, promotion(), 201);
      sequence(api, GET_PROMOTION, [
        promotion({
          state: 'rejected',
          approvals: [
            {
              user: 'carol',
              decision: 'reject',
              comment: 'not on a Friday',
              at: NOW.toISOString(),
            },
          ],
          finishedAt: '2025-01-10T11:59:00Z',
        }),
      ]);
      const io = memoryIo(env, { now: NOW });
      expect(
        await runCli(['promote', 'acme/app', '3', 'production', '-w', '--interval', '1'], io),
      ).toBe(ExitCode.RunFailed);
      expect(io.stdoutText()).toMatch(
        /\d\d:\d\d:\d\d {2}promotion {2}rejected: carol rejected \(not on a Friday\)\npromotion of run #3 to production rejected in 4m00s\n$/,
      );
    });

    it('prints one JSON object per change, then the ended promotion, with --json', async () => {
      api.reply(PROMOTE, promotion({ requiredApprovals: 0, state: 'queued' }), 201);
      sequence(api, GET_PROMOTION, [
        promotion({ requiredApprovals: 0, state: 'deploying', deployRun }),
        promotion({
          requiredApprovals: 0,
          state: 'failed',
          deployRun: { ...deployRun, state: 'failure' },
          statusMessage: 'deploy run #7 ended failure',
        }),
      ]);
      sequence(api, `GET /api/v1/runs/${DEPLOY_RUN_ID}`, [
        deploy('running', 'running'),
        deploy('failure', 'failure'),
      ]);
      const io = memoryIo(env);
      expect(
        await runCli(
          ['promote', 'acme/app', '3', 'production', '--wait', '--json', '--interval', '1'],
          io,
        ),
      ).toBe(ExitCode.RunFailed);
      const lines = io
        .stdoutText()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind?: string; to?: string; state?: string });
      expect(lines.map((l) => `${l.kind ?? 'ended'}:${l.to ?? l.state}`)).toEqual([
        'promotion:queued',
        'promotion:deploying',
        'run:running',
        'job:running',
        'job:failure',
        'run:failure',
        'promotion:failed',
        'ended:failed',
      ]);
    });
  });
});
