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
    expect(io.stderrText()).toBe(
      'kiln: acme/app has no environments (an admin adds them: kiln envs set)\n',
    );
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

describe('kiln envs set', () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
    api.reply('GET /api/v1/repositories', [REPO]);
  });
  afterEach(() => api.stop());

  /** The bodies of the PUTs the fake API got, parsed. */
  const puts = (): unknown[] =>
    api.requests.filter((r) => r.method === 'PUT').map((r) => JSON.parse(r.body) as unknown);

  it('sends the policy given and prints the environment as the server saved it', async () => {
    const saved = environment('production', {
      previous: 'staging',
      requiredApprovals: 2,
      allowedBranches: ['main', 'release/*'],
      approvalTimeoutMinutes: 60,
    });
    api.reply(`PUT ${ENVIRONMENTS}/production`, saved);
    const io = memoryIo(env);
    const argv = ['envs', 'set', 'acme/app', 'production', '--after', 'staging'];
    argv.push('--approvals', '2', '--branches', 'main, release/*', '--timeout', '60');
    expect(await runCli(argv, io)).toBe(ExitCode.Ok);
    expect(puts()).toEqual([
      {
        previous: 'staging',
        requiredApprovals: 2,
        allowedBranches: ['main', 'release/*'],
        approvalTimeoutMinutes: 60,
      },
    ]);
    expect(api.requests.at(-1)?.headers.authorization).toBe('Bearer tok');
    expect(io.stdoutText()).toBe(
      'Saved environment production of acme/app\n' +
        '  after:             staging\n' +
        '  approvals:         2\n' +
        '  approval timeout:  60 min\n' +
        '  branches:          main, release/*\n',
    );

    const jsonIo = memoryIo(env);
    expect(await runCli([...argv, '--json'], jsonIo)).toBe(ExitCode.Ok);
    expect(JSON.parse(jsonIo.stdoutText())).toEqual(saved);
  });

  it('sends only what was given; --no-after and --any-branch clear with null', async () => {
    api.reply(`PUT ${ENVIRONMENTS}/staging`, environment('staging'));
    const io = memoryIo(env);
    expect(await runCli(['envs', 'set', 'acme/app', 'staging'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe(
      'Saved environment staging of acme/app\n' +
        '  after:             - (first in the chain)\n' +
        '  approvals:         0\n' +
        '  approval timeout:  1440 min\n' +
        '  branches:          any\n',
    );
    expect(
      await runCli(
        ['envs', 'set', 'acme/app', 'staging', '--no-after', '--any-branch'],
        memoryIo(env),
      ),
    ).toBe(ExitCode.Ok);
    expect(
      await runCli(['envs', 'set', 'acme/app', 'staging', '--approvals', '0'], memoryIo(env)),
    ).toBe(ExitCode.Ok);
    expect(puts()).toEqual([
      {},
      { previous: null, allowedBranches: null },
      { requiredApprovals: 0 },
    ]);
  });

  it("passes on the server's refusal: 422 (a cycle) exits 3, 403 (not an admin) exits 4", async () => {
    api.reply(
      `PUT ${ENVIRONMENTS}/staging`,
      {
        statusCode: 422,
        error: 'Unprocessable Entity',
        message:
          'previous: production comes after staging already; environments cannot form a cycle',
      },
      422,
    );
    const io = memoryIo(env);
    expect(await runCli(['envs', 'set', 'acme/app', 'staging', '--after', 'production'], io)).toBe(
      ExitCode.Api,
    );
    expect(io.stderrText()).toBe(
      'kiln: previous: production comes after staging already; environments cannot form a cycle\n',
    );
    expect(io.stdoutText()).toBe('');

    api.reply(
      `PUT ${ENVIRONMENTS}/staging`,
      { statusCode: 403, error: 'Forbidden', message: 'administrators only' },
      403,
    );
    const denied = memoryIo(env);
    expect(await runCli(['envs', 'set', 'acme/app', 'staging'], denied)).toBe(ExitCode.NotFound);
    expect(denied.stderrText()).toBe('kiln: administrators only\n');
  });

  it('refuses a bad command line before any call, exit 2', async () => {
    for (const extra of [
      ['--approvals', '11'],
      ['--approvals', 'two'],
      ['--timeout', '0'],
      ['--timeout', '43201'],
      ['--branches', ' , '],
      ['--branches', 'main,feature x'],
      ['--branches', 'main', '--any-branch'],
      ['--after', 'not a name'],
      ['--colour'],
    ]) {
      const io = memoryIo(env);
      const argv = ['envs', 'set', 'acme/app', 'production', ...extra];
      expect(await runCli(argv, io), argv.join(' ')).toBe(ExitCode.Usage);
      expect(io.stderrText(), argv.join(' ')).toMatch(/^kiln: /);
    }
    const io = memoryIo(env);
    expect(await runCli(['envs', 'set', 'acme/app', 'prod/eu'], io)).toBe(ExitCode.Usage);
    expect(io.stderrText()).toContain("an environment name is letters, digits, '.', '_' and '-'");
    expect(await runCli(['envs', 'set', 'acme/app'], memoryIo(env))).toBe(ExitCode.Usage);
    expect(api.requests).toEqual([]);
  });
});

describe('kiln envs delete', () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
    api.reply('GET /api/v1/repositories', [REPO]);
  });
  afterEach(() => api.stop());

  it('deletes the environment and says so, or prints JSON', async () => {
    api.on(`DELETE ${ENVIRONMENTS}/production`, (_req, res) => res.writeHead(204).end());
    const io = memoryIo(env);
    expect(await runCli(['envs', 'delete', 'acme/app', 'production'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe('Deleted environment production of acme/app\n');
    const jsonIo = memoryIo(env);
    expect(await runCli(['envs', 'delete', 'acme/app', 'production', '--json'], jsonIo)).toBe(
      ExitCode.Ok,
    );
    expect(JSON.parse(jsonIo.stdoutText())).toEqual({
      repositoryId: REPO.id,
      environment: 'production',
      deleted: true,
    });
    expect(api.requests.filter((r) => r.method === 'DELETE')).toHaveLength(2);
  });

  it("passes on the server's refusal: 409 exits 3, 404 exits 4", async () => {
    api.reply(
      `DELETE ${ENVIRONMENTS}/staging`,
      {
        statusCode: 409,
        error: 'Conflict',
        message: 'production follows staging: change or delete production first',
      },
      409,
    );
    const io = memoryIo(env);
    expect(await runCli(['envs', 'delete', 'acme/app', 'staging'], io)).toBe(ExitCode.Api);
    expect(io.stderrText()).toBe(
      'kiln: production follows staging: change or delete production first\n',
    );
    api.reply(
      `DELETE ${ENVIRONMENTS}/prod`,
      { statusCode: 404, error: 'Not Found', message: 'the repository has no environment "prod"' },
      404,
    );
    const missing = memoryIo(env);
    expect(await runCli(['envs', 'delete', 'acme/app', 'prod'], missing)).toBe(ExitCode.NotFound);
    expect(missing.stderrText()).toBe('kiln: the repository has no environment "prod"\n');
    const requests = api.requests.length;
    expect(await runCli(['envs', 'delete', 'acme/app', '-x'], memoryIo(env))).toBe(ExitCode.Usage);
    expect(api.requests.length).toBe(requests);
  });
});
