import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunDetails } from './api-types';
import { ExitCode } from './errors';
import { runCli } from './program';
import { FakeApi, json, memoryIo } from './testing/fake-api';
import { jobPlan } from './testing/fixtures';

const REPO = {
  id: '0b6f1d0e-3c1a-4d7e-9a55-1f2e3d4c5b6a',
  forge: 'github',
  fullName: 'acme/app',
  defaultBranch: 'main',
};
const RUN_ID = '7d1e6a4e-8a51-4c35-9d61-0b4f1f8f9a11';

function runDetails(state: RunDetails['state'], jobState: string): RunDetails {
  return {
    id: RUN_ID,
    repositoryId: REPO.id,
    number: 3,
    state,
    event: 'push',
    fromFork: false,
    ref: 'refs/heads/main',
    branch: 'main',
    sha: 'abcdef1234567890abcdef1234567890abcdef12',
    createdAt: '2025-01-10T11:59:00Z',
    startedAt: '2025-01-10T11:59:00Z',
    jobs: [
      {
        id: 'j1',
        runId: RUN_ID,
        key: 'build',
        state: jobState as 'running',
        attempt: 1,
        plan: jobPlan('build'),
        earlierTaskIds: [],
        attempts: [],
        createdAt: '2025-01-10T11:59:00Z',
      },
    ],
  };
}

describe(runCli.name, () => {
  let api: FakeApi;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    api = await FakeApi.start();
    env = { KILN_SERVER: api.url, KILN_TOKEN: 'tok', XDG_CONFIG_HOME: '/nonexistent-kiln-test' };
  });
  afterEach(() => api.stop());

  it('prints the repositories as a table, with the bearer token, or as the API JSON', async () => {
    api.reply('GET /api/v1/repositories', [REPO]);
    const io = memoryIo(env);
    expect(await runCli(['repos'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe(
      'ID                                    FORGE   NAME      DEFAULT BRANCH\n' +
        `${REPO.id}  github  acme/app  main\n`,
    );
    expect(api.requests[0]?.headers.authorization).toBe('Bearer tok');
    const jsonIo = memoryIo(env);
    expect(await runCli(['repos', '--json'], jsonIo)).toBe(ExitCode.Ok);
    expect(JSON.parse(jsonIo.stdoutText())).toEqual([REPO]);
  });

  it('resolves owner/name through the list, and exits 4 for one not registered', async () => {
    api.reply('GET /api/v1/repositories', [REPO]);
    api.reply(`GET /api/v1/repositories/${REPO.id}/runs?limit=5`, {
      runs: [runDetails('success', 'success')],
    });
    const io = memoryIo(env, { now: new Date('2025-01-10T12:00:00Z') });
    expect(await runCli(['runs', 'ACME/app', '-L', '5'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toMatch(
      /^#\s+STATE\s+EVENT\s+BRANCH\s+SHA\s+STARTED\s+DURATION\n3\s+success\s+push\s+main\s+abcdef1\s+1m ago\s+1m00s\n$/,
    );
    const missing = memoryIo(env);
    expect(await runCli(['runs', 'acme/nope'], missing)).toBe(ExitCode.NotFound);
    expect(missing.stderrText()).toBe('kiln: repository acme/nope is not registered\n');
  });

  it('exits 1 when the watched run fails, 0 when it succeeds', async () => {
    const looks = [runDetails('running', 'running'), runDetails('failure', 'failure')];
    api.on(`GET /api/v1/runs/${RUN_ID}`, (_req, res) =>
      json(res, 200, looks.length > 1 ? looks.shift() : looks[0]),
    );
    const io = memoryIo(env);
    expect(await runCli(['run', 'watch', RUN_ID], io)).toBe(ExitCode.RunFailed);
    expect(io.stdoutText()).toMatch(
      /build\s+running\n.*build\s+failure\n.*run #3\s+failure\nrun #3 failure in /,
    );
    expect(io.stderrText()).toBe('');
    api.reply(`GET /api/v1/runs/${RUN_ID}`, runDetails('success', 'success'));
    const ok = memoryIo(env);
    expect(await runCli(['run', 'watch', RUN_ID, '--json'], ok)).toBe(ExitCode.Ok);
    const lines = ok
      .stdoutText()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind?: string; state?: string });
    expect(lines.map((l) => l.kind ?? l.state)).toEqual(['job', 'run', 'success']);
  });

  it('lists the attempts of a retried job under the run, the lost one with why', async () => {
    const details = runDetails('success', 'success');
    details.jobs[0] = {
      ...details.jobs[0]!,
      attempt: 2,
      attempts: [
        {
          attempt: 1,
          taskId: 'task-build-1',
          state: 'lost',
          reason: 'AGENT_UNREACHABLE',
          statusMessage: 'agent a1 unreachable for more than 60 s',
          startedAt: '2025-01-10T11:59:00Z',
          finishedAt: '2025-01-10T11:59:30Z',
        },
        {
          attempt: 2,
          taskId: 'task-build-2',
          state: 'success',
          exitCode: 0,
          startedAt: '2025-01-10T11:59:40Z',
          finishedAt: '2025-01-10T11:59:45Z',
        },
      ],
    };
    api.reply(`GET /api/v1/runs/${RUN_ID}`, details);
    const io = memoryIo(env, { now: new Date('2025-01-10T12:00:00Z') });
    expect(await runCli(['run', 'view', RUN_ID], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toMatch(
      /\nattempts of build:\n#\s+STATE\s+TASK\s+DURATION\s+WHY\n1\s+lost\s+task-build-1\s+30s\s+agent a1 unreachable for more than 60 s\n2\s+success\s+task-build-2\s+5s\s+exit 0\n$/,
    );
  });

  it('exits 4 with the server message for what does not exist or is refused', async () => {
    api.reply(
      `GET /api/v1/runs/${RUN_ID}`,
      { statusCode: 404, error: 'Not Found', message: `run ${RUN_ID} does not exist` },
      404,
    );
    const io = memoryIo(env);
    expect(await runCli(['run', 'watch', RUN_ID], io)).toBe(ExitCode.NotFound);
    expect(io.stderrText()).toBe(`kiln: run ${RUN_ID} does not exist\n`);
    api.reply(
      'GET /api/v1/repositories',
      { statusCode: 401, message: 'an API token is required' },
      401,
    );
    const anonymous = memoryIo({ ...env, KILN_TOKEN: '' });
    expect(await runCli(['repos'], anonymous)).toBe(ExitCode.NotFound);
    expect(anonymous.stderrText()).toMatch(
      /^kiln: an API token is required \(log in with `kiln login` or set KILN_TOKEN\)\n$/,
    );
    expect(api.requests.at(-1)?.headers.authorization).toBeUndefined();
  });

  it('exits 3 for a refused call or a server that cannot be reached', async () => {
    api.reply(
      `POST /api/v1/runs/${RUN_ID}/cancel`,
      { statusCode: 409, message: 'run #3 has already ended (success)' },
      409,
    );
    const io = memoryIo(env);
    expect(await runCli(['cancel', RUN_ID], io)).toBe(ExitCode.Api);
    expect(io.stderrText()).toBe('kiln: run #3 has already ended (success)\n');
    const url = api.url;
    await api.stop();
    const down = memoryIo({ ...env, KILN_SERVER: url });
    expect(await runCli(['repos'], down)).toBe(ExitCode.Api);
    expect(down.stderrText()).toMatch(
      /^kiln: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
    );
    api = await FakeApi.start();
  });

  it('exits 2 for usage errors, before any call', async () => {
    for (const argv of [
      ['nope'],
      ['runs'],
      ['run', 'watch', 'x'],
      ['runs', 'acme/app', '--limit', '0'],
      ['--server', 'ftp://x', 'repos'],
      ['secrets', 'set', 'acme/app', '1BAD'],
    ]) {
      const io = memoryIo(env);
      expect(await runCli(argv, io), argv.join(' ')).toBe(ExitCode.Usage);
      expect(io.stderrText()).toMatch(/^kiln: /);
    }
    expect(api.requests).toEqual([]);
    const help = memoryIo(env);
    expect(await runCli(['--help'], help)).toBe(ExitCode.Ok);
    expect(help.stdoutText()).toContain('Exit codes: 0 done');
  });

  it('reads a secret from stdin, never from arguments, less its final newline', async () => {
    api.reply('GET /api/v1/repositories', [REPO]);
    api.reply(`PUT /api/v1/repositories/${REPO.id}/secrets/NPM_TOKEN`, {
      name: 'NPM_TOKEN',
      created: true,
    });
    const io = memoryIo(env, { stdin: 'line one\nline two\n' });
    expect(await runCli(['secrets', 'set', 'acme/app', 'NPM_TOKEN', '--json'], io)).toBe(
      ExitCode.Ok,
    );
    expect(JSON.parse(io.stdoutText())).toEqual({ name: 'NPM_TOKEN', created: true });
    expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({ value: 'line one\nline two' });
    const empty = memoryIo(env, { stdin: '' });
    expect(await runCli(['secrets', 'set', 'acme/app', 'NPM_TOKEN'], empty)).toBe(ExitCode.Usage);
  });

  it('limits a secret to the environments named, checking their names first', async () => {
    api.reply('GET /api/v1/repositories', [REPO]);
    api.reply(`PUT /api/v1/repositories/${REPO.id}/secrets/DEPLOY_TOKEN`, {
      name: 'DEPLOY_TOKEN',
      created: true,
    });
    const argv = ['secrets', 'set', 'acme/app', 'DEPLOY_TOKEN', '--environment', 'production'];
    const io = memoryIo(env, { stdin: 'prod-token' });
    expect(await runCli([...argv, '--environment', 'staging'], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe(
      'Created secret DEPLOY_TOKEN of acme/app (for production, staging only)\n',
    );
    expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({
      value: 'prod-token',
      environments: ['production', 'staging'],
    });
    const bad = memoryIo(env, { stdin: 'x' });
    expect(await runCli([...argv.slice(0, 4), '--environment', 'pro duction'], bad)).toBe(
      ExitCode.Usage,
    );
    expect(api.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
  });

  it('lists agents, or explains that the server has no cluster view yet', async () => {
    const io = memoryIo(env);
    expect(await runCli(['agents'], io)).toBe(ExitCode.NotFound);
    expect(io.stderrText()).toMatch(/has no cluster view \(GET \/api\/v1\/agents answered 404\)/);
    api.reply('GET /api/v1/agents', {
      agents: [
        {
          id: 'a1',
          hostname: 'box',
          state: 'active',
          containerizers: ['process', 'docker'],
          total: { cpus: 4, mem: 4096 },
          free: { cpus: 2.5, mem: 3584 },
        },
      ],
    });
    const listed = memoryIo(env);
    expect(await runCli(['agents'], listed)).toBe(ExitCode.Ok);
    expect(listed.stdoutText()).toBe(
      'ID  HOSTNAME  STATE   CONTAINERIZERS  CPUS   MEM (MB)\n' +
        'a1  box       active  process,docker  1.5/4  512/4096\n',
    );
  });

  it('follows a log over SSE, resuming after the last event id when the stream drops', async () => {
    const JOB = '3f0e2c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6';
    let connections = 0;
    api.on(`GET /api/v1/jobs/${JOB}/log/stream`, (req, res) => {
      connections += 1;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (connections === 1) {
        res.end(': connected\n\nid: 6\nevent: log\ndata: {"text":"hello\\n"}\n\n');
      } else {
        expect(req.headers['last-event-id']).toBe('6');
        res.end(
          'id: 12\nevent: log\ndata: {"text":"world\\n"}\n\nevent: end\ndata: {"taskId":"t","reason":"eof"}\n\n',
        );
      }
    });
    api.reply(`GET /api/v1/jobs/${JOB}`, { id: JOB, state: 'success', attempt: 1 });
    const io = memoryIo(env);
    expect(await runCli(['logs', '-f', JOB], io)).toBe(ExitCode.Ok);
    expect(io.stdoutText()).toBe('hello\nworld\n');
    expect(io.stderrText()).toMatch(/^kiln: the log stream dropped/);
  });

  describe('on a terminal, what builds wrote', () => {
    const JOB = '3f0e2c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6';
    const ESC = '\u001b';
    const hostile = `${ESC}]52;c;Y3VybCBldmlsIHwgc2g=\u0007${ESC}]0;pwned\u0007${ESC}[1A${ESC}[2K`;

    it("prints a log's colours and none of its other control sequences, unless --raw or piped", async () => {
      const log = `${ESC}[32mok${ESC}[0m\n${hostile}done\n`;
      api.on(`GET /api/v1/jobs/${JOB}/log`, (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(log);
      });
      const tty = memoryIo(env, { tty: true });
      expect(await runCli(['logs', JOB], tty)).toBe(ExitCode.Ok);
      expect(tty.stdoutText()).toBe(`${ESC}[32mok${ESC}[0m\ndone\n`);
      const raw = memoryIo(env, { tty: true });
      expect(await runCli(['logs', '--raw', JOB], raw)).toBe(ExitCode.Ok);
      expect(raw.stdoutText()).toBe(log);
      const piped = memoryIo(env);
      expect(await runCli(['logs', JOB], piped)).toBe(ExitCode.Ok);
      expect(piped.stdoutText()).toBe(log);
    });

    it('follows a log the same way', async () => {
      api.on(`GET /api/v1/jobs/${JOB}/log/stream`, (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const text = (t: string) => `event: log\ndata: ${JSON.stringify({ text: t })}\n\n`;
        // The clipboard's sequence cut in two by the chunks it came in.
        res.end(
          `${text(`a${hostile.slice(0, 9)}`)}${text(`${hostile.slice(9)}b\n`)}event: end\ndata: {"reason":"eof"}\n\n`,
        );
      });
      api.reply(`GET /api/v1/jobs/${JOB}`, { id: JOB, state: 'success', attempt: 1 });
      const io = memoryIo(env, { tty: true });
      expect(await runCli(['logs', '-f', JOB], io)).toBe(ExitCode.Ok);
      expect(io.stdoutText()).toBe('ab\n');
    });

    it("prints a run's errors and job keys without their control sequences", async () => {
      const run = runDetails('failure', 'failure');
      run.errors = [`.kiln.yml:1:1: jobs.${hostile}x: invalid job name`];
      run.jobs[0]!.key = `build (M=${hostile})`;
      api.reply(`GET /api/v1/runs/${RUN_ID}`, run);
      const io = memoryIo(env, { tty: true });
      await runCli(['run', 'view', RUN_ID], io);
      expect(io.stdoutText()).toContain('jobs.x: invalid job name');
      expect(io.stdoutText()).toContain('build (M=)');
      expect(io.stdoutText()).not.toContain(']52;');
      expect(io.stdoutText()).not.toContain(`${ESC}[1A`);
    });
  });

  it('exits 1 after following the log of a job that failed, once the job has ended', async () => {
    const JOB = '3f0e2c1a-1b2c-4d5e-8f90-a1b2c3d4e5f6';
    api.on(`GET /api/v1/jobs/${JOB}/log/stream`, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(
        'id: 5\nevent: log\ndata: {"text":"oops\\n"}\n\nevent: end\ndata: {"reason":"eof"}\n\n',
      );
    });
    // The log's end comes before the job's: it is still running at first.
    const looks = ['running', 'failure'];
    api.on(`GET /api/v1/jobs/${JOB}`, (_req, res) =>
      json(res, 200, { id: JOB, attempt: 1, state: looks.length > 1 ? looks.shift() : looks[0] }),
    );
    const io = memoryIo(env);
    expect(await runCli(['logs', '-f', JOB], io)).toBe(ExitCode.RunFailed);
    expect(io.stdoutText()).toBe('oops\n');
    expect(api.requests.filter((r) => r.path === `/api/v1/jobs/${JOB}`)).toHaveLength(2);
  });

  it('names a run by <repo>#<number>, or by its number with --repo, wherever a run is named', async () => {
    api.reply('GET /api/v1/repositories', [REPO]);
    api.reply(`GET /api/v1/repositories/${REPO.id}/runs?limit=1&before=4`, {
      runs: [runDetails('success', 'success')],
    });
    api.reply(`GET /api/v1/runs/${RUN_ID}`, runDetails('success', 'success'));
    api.reply(`POST /api/v1/runs/${RUN_ID}/cancel`, runDetails('canceled', 'canceled'));
    api.reply(`POST /api/v1/runs/${RUN_ID}/rerun`, {
      ...runDetails('pending', 'blocked'),
      number: 4,
    });
    for (const argv of [
      ['run', 'view', 'acme/app#3'],
      ['run', 'view', '3', '--repo', 'acme/app'],
      ['run', 'watch', '#3', '--repo', 'acme/app'],
      ['cancel', 'acme/app#3'],
      ['rerun', '3', '--repo', 'acme/app'],
    ]) {
      const io = memoryIo(env);
      expect(await runCli(argv, io), argv.join(' ')).toBe(ExitCode.Ok);
      expect(io.stdoutText(), argv.join(' ')).toMatch(/#3|#4/);
    }
    const paths = api.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain(`POST /api/v1/runs/${RUN_ID}/cancel`);
    expect(paths).toContain(`POST /api/v1/runs/${RUN_ID}/rerun`);

    const missing = memoryIo(env);
    api.reply(`GET /api/v1/repositories/${REPO.id}/runs?limit=1&before=10`, { runs: [] });
    expect(await runCli(['run', 'view', 'acme/app#9'], missing)).toBe(ExitCode.NotFound);
    expect(missing.stderrText()).toBe('kiln: acme/app has no run #9\n');
    const requests = api.requests.length;
    for (const argv of [
      ['run', 'view', '3'],
      ['cancel', 'acme/app#0'],
      ['rerun', 'acme/app#x'],
    ]) {
      const io = memoryIo(env);
      expect(await runCli(argv, io), argv.join(' ')).toBe(ExitCode.Usage);
      expect(io.stderrText()).toMatch(/^kiln: (which repository's run #3\?|a run is its id)/);
    }
    expect(api.requests).toHaveLength(requests);
  });

  it('says why a job was skipped once, not after its state again', async () => {
    const skipped = runDetails('failure', 'skipped');
    skipped.jobs[0]!.statusMessage = 'skipped: needs test (failure)';
    api.reply(`GET /api/v1/runs/${RUN_ID}`, skipped);
    const io = memoryIo(env);
    expect(await runCli(['run', 'watch', RUN_ID], io)).toBe(ExitCode.RunFailed);
    expect(io.stdoutText()).toMatch(/build\s+skipped: needs test \(failure\)\n/);
    const view = memoryIo(env);
    await runCli(['run', 'view', RUN_ID], view);
    expect(view.stdoutText()).not.toContain('skipped: skipped');
    expect(view.stdoutText()).toMatch(/skipped\s+1\s+.*needs test \(failure\)/);
  });
});
