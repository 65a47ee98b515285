import type { ContainerizerName, TaskInfo } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentService } from '../../apps/agent/src/agent.service';
import { shellTask } from '../e2e/support/test-framework';
import { InProcessCluster } from './support/in-process-cluster';
import { createUpstream, type Upstream } from './support/upstream';

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
  let cluster: InProcessCluster;

  /** The end of a task, waited for up to 30 s (some run in docker, one across an agent restart). */
  const endOf = (taskId: string) => cluster.endOf(taskId, 30_000);

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
  function hostileRepository({ secret, victim }: Targets): Upstream {
    return createUpstream(
      join(root, `repo-${randomUUID()}`),
      { stdout: { link: secret }, stderr: { link: secret }, '.exit_code': { link: victim } },
      'links where the agent keeps its files',
    );
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
    cluster = await InProcessCluster.start({
      token: TOKEN,
      dataDir,
      framework: 'sandbox',
      agentEnv: {
        KILN_AGENT_CONTAINERIZERS: CONTAINERIZERS.join(','),
        KILN_AGENT_KILL_GRACE_MS: '500',
      },
    });
  });

  afterEach(() => cluster?.stopSinks());

  afterAll(async () => {
    await cluster?.close();
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
      const logs = await cluster.sink();
      const host = hostFiles();
      const taskId = `committed-links-${type}`;
      cluster.framework.launch(
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
      const logs = await cluster.sink();
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
      cluster.framework.launch(taskOf(type, taskId, plant, { logSink: logs.sink }));
      await cluster.framework.waitForState(taskId, 'TASK_RUNNING');
      const dir = await cluster.framework.waitFor(
        () => taskDirWith(taskId, 'ready'),
        20_000,
        `${taskId} planting its links`,
      );

      await cluster.restartAgent();
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
