import { freePort } from '@kiln/queue/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KilnProcess } from './support/kiln-process';
import { printProcessesOnFailure } from './support/on-failure';
import { shellTask, TestFramework } from './support/test-framework';

const TOKEN = 'e2e-cluster-token-0123456789';
const AGENT_TIMEOUT_MS = 3_000;

function masterEnv(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KILN_CLUSTER_TOKEN: TOKEN,
    KILN_MASTER_PORT: String(port),
    KILN_MASTER_AGENT_TIMEOUT_MS: String(AGENT_TIMEOUT_MS),
    KILN_MASTER_AGENT_HEARTBEAT_MS: '500',
    KILN_MASTER_FRAMEWORK_HEARTBEAT_MS: '1000',
    KILN_MASTER_ALLOCATION_INTERVAL_MS: '200',
    ...extra,
  };
}

function agentEnv(masterUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KILN_CLUSTER_TOKEN: TOKEN,
    KILN_MASTER_URL: masterUrl,
    KILN_AGENT_RESOURCES: 'cpus:2;mem:2048;disk:1024',
    KILN_AGENT_KILL_GRACE_MS: '500',
    ...extra,
  };
}

describe('cluster: a master and two agents as processes', () => {
  beforeEach(printProcessesOnFailure);
  const processes: KilnProcess[] = [];
  const frameworks: TestFramework[] = [];
  let port: number;
  let master: KilnProcess;
  let masterUrl: string;
  let agents: KilnProcess[];

  function track<T extends KilnProcess | TestFramework>(thing: T): T {
    if (thing instanceof KilnProcess) processes.push(thing);
    else frameworks.push(thing);
    return thing;
  }

  async function startAgent(name: string, dataDir?: string): Promise<KilnProcess> {
    const agent = track(
      KilnProcess.start('agent', {
        ...agentEnv(masterUrl, { KILN_AGENT_HOSTNAME: name }),
        ...(dataDir === undefined ? {} : { KILN_DATA_DIR: dataDir }),
      }),
    );
    await agent.url();
    return agent;
  }

  async function framework(name = 'e2e'): Promise<TestFramework> {
    return track(await TestFramework.start(masterUrl, TOKEN, { name, roles: ['ci'] }));
  }

  beforeAll(async () => {
    port = await freePort();
    master = track(KilnProcess.start('master', masterEnv(port)));
    masterUrl = await master.url();
    agents = [await startAgent('agent-a'), await startAgent('agent-b')];
  });

  afterEach(async () => {
    await Promise.all(frameworks.splice(0).map((f) => f.close()));
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.dispose()));
  });

  it('offers resources, runs a task and reports STARTING, RUNNING and FINISHED', async () => {
    const fw = await framework();
    fw.launch(shellTask('hello', 'echo hello; exit 0'), shellTask('sad', 'exit 3'));

    const finished = await fw.waitForState('hello', 'TASK_FINISHED');
    expect(fw.statusesOf('hello').map((s) => s.state)).toEqual([
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_FINISHED',
    ]);
    expect(finished.exitCode).toBe(0);
    expect(finished.source).toBe('AGENT');

    const failed = await fw.waitForState('sad', 'TASK_FAILED');
    expect(failed).toMatchObject({ exitCode: 3, reason: 'COMMAND_EXITED_NONZERO' });
    const offers = fw.events.filter((e) => e.type === 'OFFERS');
    expect(offers.length).toBeGreaterThan(0);
  });

  it('kills a task that runs past its timeout, with reason TIMEOUT', async () => {
    const fw = await framework();
    fw.launch(shellTask('slow', 'sleep 30', { maxCompletionTimeSeconds: 0.5 }));
    const killed = await fw.waitForState('slow', 'TASK_KILLED');
    expect(killed.reason).toBe('TIMEOUT');
  });

  it('reports a task on a kill -9ed agent UNREACHABLE once the agent falls silent', async () => {
    const victim = track(
      KilnProcess.start('agent', agentEnv(masterUrl, { KILN_AGENT_RESOURCES: 'cpus:4;mem:2048' })),
    );
    await victim.url();
    const fw = await framework();
    // Only the victim has room for 3 cpus: the other agents have 2.
    const task = shellTask('doomed', 'sleep 60');
    fw.launch({ ...task, resources: { ...task.resources, cpus: 3 } });
    const running = await fw.waitForState('doomed', 'TASK_RUNNING');
    expect(victim.output).toContain(`as ${running.agentId}`);

    victim.signal('SIGKILL');
    // A deadline for the test, not a figure: the master tells once the agent has been silent for
    // the agent timeout, and on a loaded machine its sweep may come well after that.
    const unreachable = await fw.waitFor(
      () =>
        fw.updates.find(
          (u) =>
            u.taskId === 'doomed' && (u.state === 'TASK_UNREACHABLE' || u.state === 'TASK_LOST'),
        ),
      AGENT_TIMEOUT_MS + 30_000,
      'doomed reported unreachable',
    );
    expect(unreachable.reason).toBe('AGENT_UNREACHABLE');
  });

  it('reconciles a task across a master restart and reports it FINISHED, not lost', async () => {
    const fw = await framework('survivor');
    fw.launch(shellTask('long', 'sleep 4; exit 0'));
    await fw.waitForState('long', 'TASK_RUNNING');

    master.signal('SIGKILL');
    await master.exitCode();
    master = track(KilnProcess.start('master', masterEnv(port)));
    await master.url();

    // The framework re-subscribes with its id and reconciles, as after any lost stream.
    await fw.connect();
    await fw.client.reconcile([{ taskId: 'long' }]);

    const finished = await fw.waitForState('long', 'TASK_FINISHED', 15_000);
    expect(finished.exitCode).toBe(0);
    const states = fw.statusesOf('long').map((s) => s.state);
    expect(states).not.toContain('TASK_LOST');
    expect(states).not.toContain('TASK_UNKNOWN');
    expect(states).toContain('TASK_RUNNING');
  });

  it('still serves after all that: agents re-registered with the new master', async () => {
    const fw = await framework();
    fw.launch(shellTask('after', 'true'));
    await fw.waitForState('after', 'TASK_FINISHED');
    expect(agents.filter((a) => a.output.includes('registered with the master')).length).toBe(2);
  });
});
