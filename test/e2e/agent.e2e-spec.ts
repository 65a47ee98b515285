import { detectCgroups } from '@kiln/containerizer';
import type { TaskInfo } from '@kiln/contracts';
import { freePort } from '@kiln/queue/testing';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GitDaemon } from './support/git-daemon';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-agent-token-0123456789abc';

describe('agent: sources, capabilities and recovery', () => {
  beforeEach(printProcessesOnFailure);
  const processes: KilnProcess[] = [];
  const frameworks: TestFramework[] = [];
  let masterUrl: string;
  let git: GitDaemon;

  function startAgent(env: Record<string, string> = {}): KilnProcess {
    const agent = KilnProcess.start('agent', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_URL: masterUrl,
      KILN_AGENT_RESOURCES: 'cpus:2;mem:1024;disk:100',
      ...env,
    });
    processes.push(agent);
    return agent;
  }

  async function framework(): Promise<TestFramework> {
    const fw = await TestFramework.start(masterUrl, TOKEN, { name: 'agent-e2e', roles: ['ci'] });
    frameworks.push(fw);
    return fw;
  }

  beforeAll(async () => {
    const master = KilnProcess.start('master', {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_AGENT_TIMEOUT_MS: '10000',
    });
    processes.push(master);
    masterUrl = await master.url();
    git = await GitDaemon.start(await freePort());
  });

  afterEach(async () => {
    await Promise.all(frameworks.splice(0).map((f) => f.close()));
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.dispose()));
    await git.stop();
  });

  it('keeps its sandboxes unlistable by anyone but root', async () => {
    const agent = startAgent();
    await agent.url();
    // A build may leave a setuid program in its workspace: a local user must not find it.
    expect(statSync(join(agent.dataDir, 'sandboxes')).mode & 0o777).toBe(0o711);
  });

  it('has ext4 spread its sandboxes across block groups, so a steady stream of tasks does not slow each launch', async () => {
    const agent = startAgent();
    await agent.url();
    // The data directory is in the temporary directory, on ext4 on the machines Kiln is tested on.
    const sandboxes = join(agent.dataDir, 'sandboxes');
    expect(execFileSync('stat', ['-f', '-c', '%T', sandboxes], { encoding: 'utf8' })).toMatch(
      /^ext2\/ext3/,
    );
    expect(execFileSync('lsattr', ['-d', sandboxes], { encoding: 'utf8' })).toMatch(/^\S*T\S* /);
  });

  it('checks out the exact commit the task names, not the newest', async () => {
    await startAgent().url();
    const commit = git.createRepository('app');
    const older = commit({ 'version.txt': 'one\n' }, 'first');
    const newer = commit({ 'version.txt': 'two\n' }, 'second');
    expect(newer).not.toBe(older);

    const fw = await framework();
    fw.launch(
      shellTask(
        'checkout',
        `test "$(git rev-parse HEAD)" = "${older}" && test "$(cat version.txt)" = one && test -z "$(git status --porcelain)"`,
        { source: { url: git.url('app'), sha: older, ref: 'main' } },
      ),
      shellTask('missing', 'true', {
        source: { url: git.url('app'), sha: 'f'.repeat(40), ref: 'main' },
      }),
    );
    const finished = await fw.waitFor(() =>
      fw
        .statusesOf('checkout')
        .find((s) => s.state !== 'TASK_STARTING' && s.state !== 'TASK_RUNNING'),
    );
    expect(finished).toMatchObject({ state: 'TASK_FINISHED', exitCode: 0 });
    expect(finished.exitCode).toBe(0);
    const failed = await fw.waitForState('missing', 'TASK_FAILED');
    expect(failed.reason).toBe('SOURCE_CHECKOUT_FAILED');
    expect(failed.message).toContain(`no commit ${'f'.repeat(40)}`);
  });

  /**
   * Starts an agent of its own and launches `taskId` in `container` on the commit of a new
   * repository `name` holding `version.txt`.
   */
  async function launchOnCommit(
    name: string,
    version: string,
    taskId: string,
    command: string,
    container: NonNullable<TaskInfo['container']>,
  ): Promise<TestFramework> {
    await startAgent().url();
    const sha = git.createRepository(name)({ 'version.txt': version }, 'first');
    const fw = await framework();
    fw.launch(
      shellTask(taskId, command, { container, source: { url: git.url(name), sha, ref: 'main' } }),
    );
    return fw;
  }

  it("checks a Docker task's commit out for it, the workspace its root's", async () => {
    const fw = await launchOnCommit(
      'docker-app',
      'in docker\n',
      'docker-checkout',
      'test "$(cat version.txt)" = "in docker" && ' +
        'test "$(stat -c %u:%g . version.txt .git/index | sort -u)" = 0:0',
      { type: 'docker', image: 'kiln-test/busybox' },
    );
    const finished = await fw.waitFor(() =>
      fw
        .statusesOf('docker-checkout')
        .find((s) => s.state !== 'TASK_STARTING' && s.state !== 'TASK_RUNNING'),
    );
    expect(finished).toMatchObject({ state: 'TASK_FINISHED', exitCode: 0 });
  });

  it('fails a task whose commit its container cannot check out, for that reason', async () => {
    await startAgent().url();
    git.createRepository('unwritable')({ 'version.txt': 'one\n' }, 'first');
    // A name git stores, and no file system holds: the checkout in the task's container fails.
    const sha = git.pushTree('unwritable', 'a'.repeat(300), 'x\n');
    const fw = await framework();
    fw.launch(
      shellTask('unwritable', 'echo the command ran', {
        source: { url: git.url('unwritable'), sha, ref: 'main' },
      }),
    );
    const failed = await fw.waitForState('unwritable', 'TASK_FAILED');
    expect(failed.reason).toBe('SOURCE_CHECKOUT_FAILED');
    expect(failed.message).toMatch(/^the checkout failed: git exited with code \d+/);
  });

  it('ends a task its containerizer refuses with that refusal, checking nothing out for it', async () => {
    const fw = await launchOnCommit('refused-app', 'never\n', 'refused', 'true', {
      type: 'docker',
      image: 'kiln-test/busybox',
      network: 'host',
    });
    const refused = await fw.waitForState('refused', 'TASK_ERROR');
    expect(refused).toMatchObject({ reason: 'CONTAINERIZER_NOT_SUPPORTED' });
    expect(refused.message).toMatch(/no host network/);
  });

  it('refuses a task with an image on an agent without Docker, naming Docker', async () => {
    // Only this agent has room for the task: the one of the first test has 2 cpus.
    const dockerless = startAgent({
      KILN_AGENT_CONTAINERIZERS: 'cgroup,process',
      KILN_AGENT_RESOURCES: 'cpus:4;mem:1024',
    });
    await dockerless.url();
    const fw = await framework();
    // Deliberately sent where it cannot run: the agent, not the framework, must refuse it.
    fw.matchContainerizers = false;
    fw.launch(
      shellTask('imaged', 'true', {
        container: { type: 'docker', image: 'kiln-test/busybox' },
        resources: { cpus: 3, mem: 32, disk: 0, ports: [] },
      }),
    );
    const error = await fw.waitForState('imaged', 'TASK_ERROR');
    expect(error.reason).toBe('CONTAINERIZER_NOT_SUPPORTED');
    expect(error.message).toMatch(/Docker/);
    // Out of the way of the next test, which needs its own agent to get the task.
    await dockerless.dispose();
  });

  it('fails a task whose sandbox cannot be made, and runs the next one', async () => {
    // Only this agent has room for the tasks.
    const agent = startAgent({
      KILN_AGENT_CONTAINERIZERS: 'process',
      KILN_AGENT_RESOURCES: 'cpus:5;mem:1024',
    });
    await agent.url();
    // A file where the task's sandbox goes: its workspace cannot be made inside it.
    writeFileSync(join(agent.dataDir, 'sandboxes', 'blocked'), 'not a directory');
    const fw = await framework();
    const big = { resources: { cpus: 4.5, mem: 32, disk: 0, ports: [] } };
    fw.launch(shellTask('blocked', 'true', big));
    const failed = await fw.waitForState('blocked', 'TASK_FAILED');
    expect(failed.reason).toBe('CONTAINER_LAUNCH_FAILED');
    expect(failed.message).toMatch(/ENOTDIR/);

    fw.launch(shellTask('after-blocked', 'true', big));
    await fw.waitForState('after-blocked', 'TASK_FINISHED');
    await agent.dispose();
  });

  it('after kill -9 and a restart, re-attaches to its task and reports its real end', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-agent-restart-'));
    const first = startAgent({ KILN_DATA_DIR: dataDir, KILN_AGENT_RESOURCES: 'cpus:4;mem:1024' });
    await first.url();
    const fw = await framework();
    // Only this agent has 3 cpus free, so the task lands on it.
    const task = shellTask('survivor', 'sleep 3; exit 7');
    fw.launch({ ...task, resources: { ...task.resources, cpus: 3 } });
    await fw.waitForState('survivor', 'TASK_RUNNING');

    first.signal('SIGKILL');
    await first.exitCode();
    const second = startAgent({ KILN_DATA_DIR: dataDir, KILN_AGENT_RESOURCES: 'cpus:4;mem:1024' });
    await second.url();

    const failed = await fw.waitForState('survivor', 'TASK_FAILED', 20_000);
    expect(failed).toMatchObject({ exitCode: 7, reason: 'COMMAND_EXITED_NONZERO' });
    expect(second.output).toContain('recovered task survivor');
  });

  it('after kill -9 during a checkout and a restart, drops the task: its command never ran', async () => {
    // A source server that hangs up on every request: the checkout waits for it (a minute),
    // while runc makes the task's container and holds it at its gate.
    const hangUp = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const port = (hangUp.address() as AddressInfo).port;
    const dataDir = mkdtempSync(join(tmpdir(), 'kiln-e2e-agent-gate-'));
    const marker = join(dataDir, 'ran');
    try {
      const resources = 'cpus:6;mem:1024';
      const first = startAgent({ KILN_DATA_DIR: dataDir, KILN_AGENT_RESOURCES: resources });
      await first.url();
      const fw = await framework();
      const task = shellTask('gated', `touch ${marker}`, {
        source: { url: `http://127.0.0.1:${port}/repo.git`, sha: 'b'.repeat(40) },
      });
      // Only this agent has 5 cpus free (the other tests' agents have 4 at most), so the task
      // lands on it.
      fw.launch({ ...task, resources: { ...task.resources, cpus: 5 } });
      await fw.waitForState('gated', 'TASK_STARTING');
      // Its cgroup, under the agent's own parent (`kiln/<agent id>`): in the freezer's hierarchy
      // on a cgroup v1 host, in the unified one on a v2 host.
      const host = await detectCgroups();
      if (!host.supported) throw new Error(`no cgroup containerizer here: ${host.reason}`);
      const parents = join(host.root, host.version === 'v1' ? 'freezer' : '', 'kiln');
      const made = () =>
        readdirSync(parents).some((agentId) => existsSync(join(parents, agentId, 'gated')));
      await expect.poll(made, { timeout: 15_000 }).toBe(true);

      first.signal('SIGKILL');
      await first.exitCode();
      // Told by the agent's end, the task's shim removes the container it never started.
      await expect.poll(made, { timeout: 15_000 }).toBe(false);
      const second = startAgent({ KILN_DATA_DIR: dataDir, KILN_AGENT_RESOURCES: resources });
      await second.url();

      const dropped = await fw.waitForState('gated', 'TASK_DROPPED', 20_000);
      expect(dropped).toMatchObject({ reason: 'AGENT_RESTARTED' });
      expect(fw.statusesOf('gated').map((s) => s.state)).not.toContain('TASK_RUNNING');
      expect(existsSync(marker)).toBe(false);
      await second.dispose();
    } finally {
      await new Promise((resolve) => hangUp.close(resolve));
    }
  });
});
