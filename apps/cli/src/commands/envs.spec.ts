import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Environment, EnvironmentBoardEntry } from '../api-types';
import { ExitCode } from '../errors';
import { runCli } from '../program';
import { FakeApi, memoryIo } from '../testing/fake-api';
import { NOW, REPO, SHA, promotion } from '../testing/fixtures';
import { registerEnvs } from './envs';

const ENVIRONMENTS = `/api/v1/repositories/${REPO.id}/environments`;

function environment(name: string, overrides: Partial<Environment> = {}): Environment {
  return {
    id: `env-${name}`,
    repositoryId: REPO.id,
    name,
    requiredApprovals: 0,
    approvalTimeoutMinutes: 1440,
    createdAt: '2025-01-01T00:00:00Z',
    ...overrides,
  };
}

const summary = (number: number) => ({ id: `r${number}`, number, sha: `${number}`.repeat(40) });

describe(registerEnvs.name, () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
    api.reply('GET /api/v1/repositories', [REPO]);
  });
  afterEach(() => api.stop());

  it('shows the board: deployed run, sha, who, when; pending promotions; promotable runs', async () => {
    const board: EnvironmentBoardEntry[] = [
      {
        environment: environment('staging'),
        current: promotion({
          environment: 'staging',
          state: 'deployed',
          requestedBy: 'alice',
          finishedAt: '2025-01-10T10:00:00Z',
        }),
        pending: [],
        promotable: [summary(5), summary(4)],
      },
      {
        environment: environment('production', { previous: 'staging', requiredApprovals: 2 }),
        pending: [
          promotion({
            approvals: [{ user: 'carol', decision: 'approve', at: NOW.toISOString() }],
          }),
          promotion({ run: summary(2), state: 'queued', rollback: true }),
        ],
        promotable: [],
      },
    ];
    api.reply(`GET ${ENVIRONMENTS}`, board);
    const io = memoryIo(env, { now: NOW });
    expect(await runCli(['envs', 'acme/app'], io)).toBe(ExitCode.Ok);
    const pending = '#3 awaiting-approval 1/2, #2 queued (rollback)';
    expect(io.stdoutText()).toBe(
      `ENVIRONMENT  DEPLOYED  SHA      BY     WHEN    ${'PENDING'.padEnd(pending.length)}  PROMOTABLE\n` +
        `staging      #3        abcdef1  alice  2h ago  ${'-'.padEnd(pending.length)}  #5 #4\n` +
        `production   -         -        -      -       ${pending}  -\n`,
    );
    const jsonIo = memoryIo(env);
    expect(await runCli(['envs', 'acme/app', '--json'], jsonIo)).toBe(ExitCode.Ok);
    expect(JSON.parse(jsonIo.stdoutText())).toEqual(JSON.parse(JSON.stringify(board)));
  });

  it('says so when the repository has no environments', async () => {
    api.reply(`GET ${ENVIRONMENTS}`, []);
    const io = memoryIo(env);
    expect(await runCli(['envs', 'acme/app'], io)).toBe(ExitCode.Ok);
    expect(io.stderrText()).toBe('kiln: acme/app has no environments\n');
  });

  it("shows an environment's history newest first with rollbacks marked", async () => {
    api.reply(`GET ${ENVIRONMENTS}/production/deployments?limit=5`, [
      promotion({
        id: 'p3',
        run: { id: 'r2', number: 2, sha: SHA },
        state: 'deployed',
        rollback: true,
        approvals: [
          { user: 'carol', decision: 'approve', at: NOW.toISOString() },
          { user: 'dave', decision: 'approve', at: NOW.toISOString() },
        ],
        finishedAt: '2025-01-10T11:58:00Z',
      }),
      promotion({
        id: 'p2',
        state: 'failed',
        statusMessage: 'deploy run #7 ended failure',
        finishedAt: '2025-01-10T11:30:00Z',
      }),
    ]);
    const io = memoryIo(env, { now: NOW });
    expect(await runCli(['envs', 'acme/app', 'production', '-L', '5'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe(
      'ID  RUN  SHA      BRANCH  STATE     APPROVALS  BY   WHEN     NOTE\n' +
        'p3  #2   abcdef1  -       deployed  2/2        bob  2m ago   rollback\n' +
        'p2  #3   abcdef1  main    failed    0/2        bob  30m ago  deploy run #7 ended failure\n',
    );
  });

  it("passes on the server's 404 for an environment it does not have, exit 4", async () => {
    api.reply(
      `GET ${ENVIRONMENTS}/prod/deployments`,
      { statusCode: 404, error: 'Not Found', message: 'repository has no environment "prod"' },
      404,
    );
    const io = memoryIo(env);
    expect(await runCli(['envs', 'acme/app', 'prod'], io)).toBe(ExitCode.NotFound);
    expect(io.stderrText()).toBe('kiln: repository has no environment "prod"\n');
    const requests = api.requests.length;
    for (const argv of [
      ['envs', 'acme/app', 'a b'],
      ['envs', 'acme/app', '-L', '5'],
    ]) {
      const bad = memoryIo(env);
      expect(await runCli(argv, bad), argv.join(' ')).toBe(ExitCode.Usage);
    }
    expect(api.requests.length).toBe(requests);
  });
});
