import type Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TaskNetworks } from './task-network';

/** An engine that says this of every container it is asked about. */
function engineSaying(state: Partial<Docker.ContainerInspectInfo['State']> | 'gone'): Docker {
  const inspect = () =>
    state === 'gone'
      ? Promise.reject(Object.assign(new Error('no such container'), { statusCode: 404 }))
      : Promise.resolve({ State: state });
  return { getContainer: () => ({ inspect }) } as unknown as Docker;
}

/** The pid of a process that has ended and been reaped. */
async function endedPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

describe(TaskNetworks.name, () => {
  const holder = { id: 'task-1', holderId: 'holder-1' };
  const networks = (engine: Docker) => new TaskNetworks(engine, 'test', undefined);

  it('knows a holder whose process is gone before the engine has seen it end', async () => {
    const pid = await endedPid();
    const engine = engineSaying({ Running: true, Pid: pid });
    expect(await networks(engine).holderEnded(holder)).toBe(`its process ${pid} is gone`);
  });

  it('says how a holder ended that the engine has seen end, or removed', async () => {
    const ended = engineSaying({ Running: false, ExitCode: 137, OOMKilled: true });
    expect(await networks(ended).holderEnded(holder)).toBe('exit code 137, killed for memory');
    expect(await networks(engineSaying('gone')).holderEnded(holder)).toBe('removed');
  });

  it('says nothing of a running holder, or of a task without one', async () => {
    const running = engineSaying({ Running: true, Pid: process.pid });
    expect(await networks(running).holderEnded(holder)).toBeUndefined();
    expect(await networks(running).holderEnded({ id: 'task-2' })).toBeUndefined();
  });
});
