// Buildbot, the peer `bench:pipeline` measures Kiln's webhook → first log line against in the same
// run: a Buildbot 3.7 master and worker from the OS packages on this machine, its GitHub change
// hook, a scheduler that builds every push at once, a Git step from the same repository over the
// same smart HTTP, and a shell step printing the line Kiln's job prints.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@kiln/queue/testing';
import { githubPush } from '../../test/e2e/support/forge';
import type { GitDaemon } from '../../test/e2e/support/git-daemon';

const PACKAGES = ['buildbot', 'buildbot-worker'];
const SECRET = 'bench-buildbot-secret';
/** How often the bench reads the step's log through Buildbot's REST API. */
const POLL_MS = 10;

export interface BuildbotResult {
  /** Webhook POST → the shell step's line in its log, per push after the warm-up. */
  firstLineMs: number[];
  setup: string[];
}

/**
 * Runs `pushes` (plus `warmup`) pushes of new commits through Buildbot, one at a time, and times
 * each from just before the webhook POST until the step's line is in its log.
 */
export async function buildbotFirstLine(
  git: GitDaemon,
  pushes: number,
  warmup: number,
): Promise<BuildbotResult> {
  const setup: string[] = [];
  if (!has('buildbot') || !has('buildbot-worker')) {
    const install = spawnSync('apt-get', ['install', '-y', '-qq', ...PACKAGES], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: 'ignore',
    });
    if (install.status !== 0) throw new Error(`apt-get install ${PACKAGES.join(' ')} failed`);
    setup.push(`installed ${PACKAGES.join(', ')} from the OS packages`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-buildbot-'));
  const [wwwPort, pbPort] = [await freePort(), await freePort()];
  const commit = git.createRepository('buildbot');
  commit({ 'counter.txt': 'start\n' });
  const env = { ...process.env, PYTHONPATH: placeholderWww(dir) };
  const master = join(dir, 'master');
  const worker = join(dir, 'worker');
  const daemons: ChildProcess[] = [];
  try {
    run('buildbot', ['create-master', '-r', master], env);
    writeFileSync(
      join(master, 'master.cfg'),
      masterConfig(git.httpUrl('buildbot'), wwwPort, pbPort),
    );
    run('buildbot-worker', ['create-worker', worker, `127.0.0.1:${pbPort}`, 'w1', 'pass'], env);
    // Both in the foreground, as children: they end with the bench.
    daemons.push(spawn('buildbot', ['start', '--nodaemon', master], { env, stdio: 'ignore' }));
    daemons.push(
      spawn('buildbot-worker', ['start', '--nodaemon', worker], { env, stdio: 'ignore' }),
    );
    setup.push('a master and a worker on this machine, with a configuration of their own');
    const api = `http://127.0.0.1:${wwwPort}`;
    await until(async () => {
      const res = await fetch(`${api}/api/v2/workers`).catch(() => undefined);
      if (res?.status !== 200) return false;
      const body = (await res.json()) as { workers: { connected_to: unknown[] }[] };
      return body.workers.some((w) => w.connected_to.length > 0);
    }, 120_000);

    const firstLineMs: number[] = [];
    for (let i = 0; i < warmup + pushes; i += 1) {
      const sha = commit({ 'counter.txt': `${i}\n` });
      const raw = Buffer.from(JSON.stringify(githubPush('acme/buildbot', sha)));
      const started = performance.now();
      const hook = await fetch(`${api}/change_hook/github`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(raw).digest('hex')}`,
        },
        body: raw,
      });
      if (hook.status !== 200)
        throw new Error(`Buildbot's hook: ${hook.status} ${await hook.text()}`);
      await until(() => lineLogged(api, `first-line-${sha}`), 60_000);
      if (i >= warmup) firstLineMs.push(performance.now() - started);
    }
    return { firstLineMs, setup };
  } finally {
    for (const daemon of daemons) daemon.kill('SIGTERM');
    await Promise.all(
      daemons.map((daemon) =>
        daemon.exitCode === null ? once(daemon, 'exit') : Promise.resolve(),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether the newest build's shell step has logged `needle` yet. */
async function lineLogged(api: string, needle: string): Promise<boolean> {
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${api}/api/v2${path}`);
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  const { builds } = await get<{ builds: { buildid: number }[] }>('/builds?order=-buildid&limit=1');
  const build = builds[0];
  if (build === undefined) return false;
  const { steps } = await get<{ steps: { stepid: number; name: string }[] }>(
    `/builds/${build.buildid}/steps`,
  );
  const shell = steps.find((step) => step.name === 'shell');
  if (shell === undefined) return false;
  const { logs } = await get<{ logs: { logid: number }[] }>(`/steps/${shell.stepid}/logs`);
  for (const log of logs) {
    const res = await fetch(`${api}/api/v2/logs/${log.logid}/raw`);
    if (res.status === 200 && (await res.text()).includes(needle)) return true;
  }
  return false;
}

function masterConfig(repoUrl: string, wwwPort: number, pbPort: number): string {
  return `
from buildbot.plugins import schedulers, steps, util, worker

c = BuildmasterConfig = {}
c['buildbotNetUsageData'] = None
c['title'] = 'kiln-bench'
c['buildbotURL'] = 'http://127.0.0.1:${wwwPort}/'
c['db'] = {'db_url': 'sqlite:///state.sqlite'}
c['workers'] = [worker.Worker('w1', 'pass')]
c['protocols'] = {'pb': {'port': 'tcp:${pbPort}:interface=127.0.0.1'}}
c['change_source'] = []
c['schedulers'] = [
    schedulers.AnyBranchScheduler(name='every-push', treeStableTimer=None, builderNames=['build']),
]
factory = util.BuildFactory()
factory.addStep(steps.Git(repourl=${JSON.stringify(repoUrl)}, mode='incremental'))
factory.addStep(steps.ShellCommand(name='shell', command=['sh', '-c', 'echo first-line-$(git rev-parse HEAD)']))
c['builders'] = [util.BuilderConfig(name='build', workernames=['w1'], factory=factory)]
c['www'] = {
    'port': 'tcp:${wwwPort}:interface=127.0.0.1',
    'plugins': {},
    'change_hook_dialects': {'github': {'secret': ${JSON.stringify(SECRET)}, 'strict': True}},
}
`;
}

/**
 * Debian packages no `buildbot-www` (the UI), and the master will not start its web service (REST
 * API and change hooks) without a `base` plugin: a placeholder one, on `PYTHONPATH`.
 */
function placeholderWww(dir: string): string {
  const root = join(dir, 'python');
  const pkg = join(root, 'kiln_bench_www');
  mkdirSync(join(pkg, 'static'), { recursive: true });
  writeFileSync(join(pkg, 'VERSION'), '3.7.0');
  writeFileSync(
    join(pkg, '__init__.py'),
    "from buildbot.www.plugin import Application\nep = Application(__name__, 'placeholder UI')\n",
  );
  const info = join(root, 'kiln_bench_www-0.0.0.dist-info');
  mkdirSync(info);
  writeFileSync(
    join(info, 'METADATA'),
    'Metadata-Version: 2.1\nName: kiln-bench-www\nVersion: 0.0.0\n',
  );
  writeFileSync(join(info, 'entry_points.txt'), '[buildbot.www]\nbase = kiln_bench_www:ep\n');
  return root;
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, args, { env, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`Buildbot: nothing within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}
