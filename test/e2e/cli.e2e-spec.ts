import { freePort } from '@kiln/queue/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { githubPush, webhookHeaders } from './support/forge';
import { GitDaemon } from './support/git-daemon';
import { printProcessesOnFailure } from './support/on-failure';
import { API_TOKEN, PipelineStack, type RunView } from './support/pipeline-stack';

const CLI = resolve(__dirname, '../../dist/apps/cli/src/main.js');

interface Registered {
  id: string;
  webhookSecret: string;
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One `kiln` process, as a user's shell runs it; its output is kept as it comes. */
class CliProcess {
  stdout = '';
  stderr = '';
  readonly done: Promise<CliResult>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    this.done = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: this.stdout, stderr: this.stderr }));
    });
  }
}

describe('the kiln CLI against a whole Kiln', () => {
  beforeEach(printProcessesOnFailure);
  let stack: PipelineStack;
  let git: GitDaemon;
  const configHome = mkdtempSync(join(tmpdir(), 'kiln-e2e-cli-config-'));
  const started: CliProcess[] = [];

  beforeAll(async () => {
    git = await GitDaemon.start(await freePort());
    stack = await PipelineStack.start();
  });

  afterAll(async () => {
    for (const cli of started) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    await Promise.all([stack?.dispose(), git?.stop()]);
    rmSync(configHome, { recursive: true, force: true });
  });

  /** Starts `kiln <args>` with the stack's server and token in its environment. */
  function kiln(
    args: string[],
    options: { env?: Record<string, string>; stdin?: string } = {},
  ): CliProcess {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env.PATH,
        XDG_CONFIG_HOME: configHome,
        KILN_SERVER: stack.serverUrl,
        KILN_TOKEN: API_TOKEN,
        ...options.env,
      },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
    const cli = new CliProcess(child);
    started.push(cli);
    return cli;
  }

  const run = (args: string[], options?: Parameters<typeof kiln>[1]): Promise<CliResult> =>
    kiln(args, options).done;

  async function register(
    name: string,
    kilnYml: string,
  ): Promise<{ repo: Registered; sha: string }> {
    const sha = git.createRepository(name)({ '.kiln.yml': kilnYml });
    const repo = await stack.ok<Registered>('POST', '/api/v1/repositories', {
      forge: 'github',
      fullName: `acme/${name}`,
      cloneUrl: git.url(name),
    });
    return { repo, sha };
  }

  async function push(repo: Registered, name: string, sha: string): Promise<string> {
    const raw = Buffer.from(JSON.stringify(githubPush(`acme/${name}`, sha)));
    const res = await stack.webhook(
      '/hooks/github',
      webhookHeaders('github', 'push', raw, repo.webhookSecret),
      raw,
    );
    expect(res.status).toBe(202);
    return res.body.runId as string;
  }

  const SLOW =
    'jobs:\n  lines:\n    steps:\n' +
    '      - run: echo line-1; sleep 1; echo line-2; sleep 1; echo line-3; sleep 1; echo line-4\n';

  it('follows a running job: run watch shows running → success, logs -f every line in order', async () => {
    const { repo, sha } = await register('slow', SLOW);
    const runId = await push(repo, 'slow', sha);
    const running = await stack.waitForRun(runId, (r) => r.jobs[0]?.state === 'running');
    const jobId = running.jobs[0]!.id;

    const watch = kiln(['run', 'watch', runId]);
    const watchJson = kiln(['run', 'watch', runId, '--json']);
    const logs = kiln(['logs', '-f', jobId]);
    const [watched, watchedJson, followed] = await Promise.all([
      watch.done,
      watchJson.done,
      logs.done,
    ]);

    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(/lines\s+running\n(.*\n)*.*lines\s+success\b/);
    expect(watched.stdout).toMatch(/run #1\s+success in \d+/);

    expect(watchedJson.code, watchedJson.stderr).toBe(0);
    const lines = watchedJson.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const jobStates = lines.filter((l) => l.kind === 'job').map((l) => l.to);
    // A reason may change while the job runs (another line); the first and last are fixed.
    expect([jobStates[0], jobStates.at(-1)]).toEqual(['running', 'success']);
    expect(lines.at(-1)).toMatchObject({ id: runId, state: 'success' });

    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/line-1\n(.*\n)*line-2\n(.*\n)*line-3\n(.*\n)*line-4\n/);
    expect(followed.stdout).toBe(await stack.log(jobId));
    expect((await run(['logs', jobId])).stdout).toBe(followed.stdout);
  });

  it('lists repositories and runs, as tables and as JSON, by owner/name or id', async () => {
    const repos = await run(['repos', '--json']);
    expect(repos.code, repos.stderr).toBe(0);
    const list = JSON.parse(repos.stdout) as { id: string; fullName: string }[];
    const slow = list.find((r) => r.fullName === 'acme/slow');
    expect(slow).toBeDefined();

    const table = await run(['repos']);
    expect(table.stdout).toMatch(/^ID\s+FORGE\s+NAME\s+DEFAULT BRANCH\n/);
    expect(table.stdout).toMatch(new RegExp(`${slow!.id}\\s+github\\s+acme/slow\\s+main`));

    const runs = await run(['--json', 'runs', 'acme/slow']);
    expect(runs.code, runs.stderr).toBe(0);
    const page = JSON.parse(runs.stdout) as { runs: RunView[] };
    expect(page.runs.map((r) => r.state)).toEqual(['success']);

    const byId = await run(['runs', slow!.id, '--limit', '5']);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toMatch(/^#\s+STATE\s+EVENT\s+BRANCH\s+SHA\s+STARTED\s+DURATION\n/);
    expect(byId.stdout).toMatch(
      new RegExp(`1\\s+success\\s+push\\s+main\\s+${page.runs[0]!.sha.slice(0, 7)}\\s`),
    );
  });

  it("lists the cluster's agents through the server", async () => {
    const listed = await run(['agents', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const { agents } = JSON.parse(listed.stdout) as { agents: { hostname: string }[] };
    expect(agents).toHaveLength(1);
    const table = await run(['agents']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+HOSTNAME\s+STATE\s+CONTAINERIZERS\s+CPUS\s+MEM \(MB\)\n/);
    expect(table.stdout).toContain(agents[0]!.hostname);
    expect(table.stdout).toMatch(/\/4\s+\d+\/4096\n$/);
  });

  it('exits 1 from run watch when the run fails', async () => {
    const { repo, sha } = await register(
      'broken',
      'jobs:\n  bad:\n    steps:\n      - run: echo about to fail; exit 3\n',
    );
    const runId = await push(repo, 'broken', sha);
    const watched = await run(['run', 'watch', runId]);
    expect(watched.code, watched.stdout + watched.stderr).toBe(1);
    expect(watched.stdout).toMatch(/bad\s+failure\b.*\b3\b/);
    expect(watched.stdout).toMatch(/run #1\s+failure/);

    // The run by its number, as `kiln runs` lists it.
    const viewed = await run(['run', 'view', 'acme/broken#1']);
    expect(viewed.code, viewed.stderr).toBe(0);
    expect(viewed.stdout).toMatch(/^run #1 failure/);
    const again = await run(['run', 'watch', '1', '--repo', 'acme/broken']);
    expect(again.code, again.stderr).toBe(1);

    // Following the log of the job that failed fails too.
    const jobId = (await stack.waitForRun(runId, () => true)).jobs[0]!.id;
    const followed = await run(['logs', '-f', jobId]);
    expect(followed.code, followed.stderr).toBe(1);
    expect(followed.stdout).toContain('about to fail\n');
  });

  it('triggers, cancels and sets secrets; a canceled run fails its watch', async () => {
    const triggered = await run(['trigger', 'acme/slow', '--branch', 'main', '--json']);
    expect(triggered.code, triggered.stderr).toBe(0);
    const started = JSON.parse(triggered.stdout) as { id: string; number: number };
    expect(started.number).toBe(2);
    await stack.waitForRun(started.id, (r) => r.jobs[0]?.state === 'running');

    const watch = kiln(['run', 'watch', started.id]);
    const canceled = await run(['cancel', started.id]);
    expect(canceled.code, canceled.stderr).toBe(0);
    expect(canceled.stdout).toContain(`Canceled run #2`);
    const watched = await watch.done;
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/run #2\s+canceled/);

    const again = await run(['cancel', started.id]);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/^kiln: run #2 has already ended \(canceled\)/);

    const secret = await run(['secrets', 'set', 'acme/slow', 'NPM_TOKEN', '--json'], {
      stdin: 's3cr3t\n',
    });
    expect(secret.code, secret.stderr).toBe(0);
    expect(JSON.parse(secret.stdout)).toEqual({ name: 'NPM_TOKEN', created: true });
  });

  it('exits 4 with the server message for an unknown run, and for a refused token', async () => {
    const unknown = await run(['run', 'watch', '7d1e6a4e-8a51-4c35-9d61-0b4f1f8f9a11']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toBe('kiln: run 7d1e6a4e-8a51-4c35-9d61-0b4f1f8f9a11 does not exist\n');
    const refused = await run(['repos'], { env: { KILN_TOKEN: 'not-the-token' } });
    expect(refused.code).toBe(4);
    // The server's own words (they change with its authentication), after the CLI's prefix.
    expect(refused.stderr).toMatch(/^kiln: .*token.*\n$/);
    const usage = await run(['run', 'watch', 'not-a-uuid']);
    expect(usage.code).toBe(2);
  });

  it('logs in once, storing the token readable by its owner only', async () => {
    const noEnv = { KILN_SERVER: '', KILN_TOKEN: '' };
    const login = await run(['login', '--server', stack.serverUrl, '--token', API_TOKEN], {
      env: noEnv,
    });
    expect(login.code, login.stderr).toBe(0);
    const path = join(configHome, 'kiln', 'config.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      server: stack.serverUrl,
      token: API_TOKEN,
    });
    const repos = await run(['repos', '--json'], { env: noEnv });
    expect(repos.code, repos.stderr).toBe(0);

    const wrong = await run(['login', '--server', stack.serverUrl], {
      env: noEnv,
      stdin: 'wrong-token\n',
    });
    expect(wrong.code).toBe(4);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ token: API_TOKEN });
  });
});
