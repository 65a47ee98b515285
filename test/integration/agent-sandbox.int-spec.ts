import { AgentEnv, loadEnv, MasterEnv } from '@kiln/config';
import type { ContainerizerName, TaskInfo, TaskStatus } from '@kiln/contracts';
import { ValidationPipe, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MasterModule } from '../../apps/master/src/master.module';
import { AgentModule } from '../../apps/agent/src/agent.module';
import { AgentService } from '../../apps/agent/src/agent.service';
import { FakeLogSink } from '../../apps/agent/src/logs/fake-log-sink';
import { shellTask, TestFramework } from '../e2e/support/test-framework';

const TOKEN = 'agent-sandbox-int-token-0123456789';
const IMAGE = 'kiln-test/busybox:latest';
/** Every containerizer: docker is where the build is walled off from the host but for a mount. */
const CONTAINERIZERS: readonly ContainerizerName[] = ['process', 'cgroup', 'docker'];

interface Targets {
  secret: string;
  victim: string;
  marker: string;
}

/**
 * A build is hostile: its repository, and its commands, may plant symbolic links where the agent
 * keeps its own files for the task. A link that the agent followed would ship a host file into the
 * build's log or write the task's exit code over one. Checked against a real master, agent and
 * containerizers, in this process.
 */
describe(AgentService.name, () => {
  let root: string;
  let dataDir: string;
  let master: NestExpressApplication;
  let agentEnv: AgentEnv;
  let agent: INestApplicationContext | undefined;
  let framework: TestFramework;
  const sinks: FakeLogSink[] = [];

  async function startAgent(): Promise<void> {
    agent = await NestFactory.createApplicationContext(AgentModule.forRoot(agentEnv), {
      logger: false,
    });
  }

  async function sink(): Promise<FakeLogSink> {
    const started = await FakeLogSink.start();
    sinks.push(started);
    return started;
  }

  function endOf(taskId: string): Promise<TaskStatus> {
    return framework.waitFor(
      () =>
        framework
          .statusesOf(taskId)
          .find((s) => s.state !== 'TASK_STARTING' && s.state !== 'TASK_RUNNING'),
      30_000,
      `the end of ${taskId}`,
    );
  }

  function taskOf(
    type: ContainerizerName,
    taskId: string,
    script: string,
    extra: Partial<TaskInfo>,
  ): TaskInfo {
    return shellTask(taskId, script, {
      container: type === 'docker' ? { type, image: IMAGE, network: 'none' } : { type },
      ...extra,
    });
  }

  /**
   * Host files outside the agent's data directory, made for one test: a secret a build must
   * never see in its log (the marker is its content) and a victim it must never write over.
   */
  function hostFiles(): Targets {
    const dir = mkdtempSync(join(root, 'host-'));
    const targets = {
      secret: join(dir, 'secret'),
      victim: join(dir, 'victim'),
      marker: `TOP SECRET ${randomUUID()}`,
    };
    writeFileSync(targets.secret, `${targets.marker}\n`);
    writeFileSync(targets.victim, 'the victim\n');
    return targets;
  }

  /** A repository whose one commit has the agent's files as links to the secret and the victim. */
  function hostileRepository({ secret, victim }: Targets): { url: string; sha: string } {
    const work = join(root, `repo-${randomUUID()}`);
    mkdirSync(work);
    const git = (...args: string[]): string =>
      execFileSync('git', args, {
        cwd: work,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 'Kiln Test',
          GIT_AUTHOR_EMAIL: 'test@kiln.invalid',
          GIT_COMMITTER_NAME: 'Kiln Test',
          GIT_COMMITTER_EMAIL: 'test@kiln.invalid',
        },
      }).trim();
    git('init', '--initial-branch=main');
    symlinkSync(secret, join(work, 'stdout'));
    symlinkSync(secret, join(work, 'stderr'));
    symlinkSync(victim, join(work, '.exit_code'));
    git('add', '-A');
    git('commit', '-m', 'links where the agent keeps its files');
    return { url: `file://${work}`, sha: git('rev-parse', 'HEAD') };
  }

  /**
   * The directory the task runs in, found by the file `name` the task writes there: the workspace
   * of its sandbox, or the sandbox itself for an agent from before the workspace, which this test
   * is meant to catch.
   */
  function taskDirWith(taskId: string, name: string): string | undefined {
    const sandbox = join(dataDir, 'sandboxes', taskId);
    return [sandbox, join(sandbox, 'workspace')].find((dir) => existsSync(join(dir, name)));
  }

  /**
   * Nothing of the secret reached the log and nothing was written over the victim. Soft, so that
   * a failure shows every way the agent was fooled, not just the first.
   */
  function expectNothingLeaked(log: string, { secret, victim, marker }: Targets): void {
    expect.soft(log).not.toContain(marker);
    expect.soft(readFileSync(secret, 'utf8')).toBe(`${marker}\n`);
    expect.soft(readFileSync(victim, 'utf8')).toBe('the victim\n');
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'kiln-agent-sandbox-'));
    dataDir = join(root, 'data');
    const masterEnv = loadEnv(MasterEnv, { KILN_CLUSTER_TOKEN: TOKEN, KILN_LOG_LEVEL: 'warn' });
    master = await NestFactory.create<NestExpressApplication>(MasterModule.forRoot(masterEnv), {
      logger: false,
    });
    master.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    );
    await master.listen(0, '127.0.0.1');
    const masterUrl = await master.getUrl();
    agentEnv = loadEnv(AgentEnv, {
      KILN_CLUSTER_TOKEN: TOKEN,
      KILN_MASTER_URL: masterUrl,
      KILN_DATA_DIR: dataDir,
      KILN_AGENT_RESOURCES: 'cpus:2;mem:1024;disk:100',
      KILN_AGENT_CONTAINERIZERS: CONTAINERIZERS.join(','),
      KILN_AGENT_KILL_GRACE_MS: '500',
    });
    await startAgent();
    framework = await TestFramework.start(masterUrl, TOKEN, { name: 'sandbox', roles: ['ci'] });
  });

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
  });

  afterAll(async () => {
    await framework?.close();
    await agent?.close();
    await master?.close();
    // The agent's own parent cgroup, empty once its tasks are done.
    const agentId = readFileSync(join(dataDir, 'agent-id'), 'utf8').trim();
    for (const hierarchy of ['cpu', 'cpuacct', 'memory', 'pids', 'freezer']) {
      try {
        rmdirSync(join('/sys/fs/cgroup', hierarchy, 'kiln', agentId));
      } catch {
        // Never made, or made in fewer hierarchies.
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  describe.each(CONTAINERIZERS)('with the %s containerizer', (type) => {
    it('ships the output and reports the exit code of a checkout with links at its files', async () => {
      const logs = await sink();
      const host = hostFiles();
      const taskId = `committed-links-${type}`;
      framework.launch(
        taskOf(type, taskId, 'echo built; echo oops >&2; exit 3', {
          logSink: logs.sink,
          source: { ...hostileRepository(host), ref: 'main' },
        }),
      );
      const end = await endOf(taskId);
      expectNothingLeaked(logs.text, host);
      expect(end).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'COMMAND_EXITED_NONZERO',
        exitCode: 3,
      });
      expect(logs.complete).toBe(true);
      expect(logs.text).toBe('built\n');
    });

    it('never follows links its command puts at its files, even after an agent restart', async () => {
      const logs = await sink();
      const host = hostFiles();
      const taskId = `planted-links-${type}`;
      // Planted while it runs, then it waits, so that the restarted agent reopens its files.
      const plant = [
        'rm -f stdout stderr .exit_code',
        `ln -s '${host.secret}' stdout`,
        `ln -s '${host.secret}' stderr`,
        `ln -s '${host.victim}' .exit_code`,
        'echo planted > ready',
        'while [ ! -e go ]; do sleep 0.05; done',
        'echo built',
        'exit 3',
      ].join('; ');
      framework.launch(taskOf(type, taskId, plant, { logSink: logs.sink }));
      await framework.waitForState(taskId, 'TASK_RUNNING');
      const dir = await framework.waitFor(
        () => taskDirWith(taskId, 'ready'),
        20_000,
        `${taskId} planting its links`,
      );

      await agent?.close();
      await startAgent();
      // Time for the restarted agent to reopen its files and ship what it finds there.
      await new Promise((resolve) => setTimeout(resolve, 500));
      writeFileSync(join(dir, 'go'), '');

      const end = await endOf(taskId);
      expectNothingLeaked(logs.text, host);
      expect(end).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'COMMAND_EXITED_NONZERO',
        exitCode: 3,
      });
      // The old agent and the restarted one may both have written its last line.
      expect(logs.text).toMatch(/^(built\n)+$/);
    });
  });
});
