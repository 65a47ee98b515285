import { resources } from '@kiln/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ContainerLaunchError, type ContainerSpec, type LaunchResult } from '../containerizer';
import {
  ContainerLifecycle,
  type ContainerRuntime,
  type LiveContainer,
  type NewContainer,
} from './container-lifecycle';
import { terminationOf, type LeaderExit } from './termination';

/** A runtime whose containers run until the test ends them, recording the signals they get. */
class FakeRuntime implements ContainerRuntime<LiveContainer, LeaderExit> {
  readonly signals: string[] = [];
  lifecycle!: ContainerLifecycle<LiveContainer, LeaderExit>;
  startResult: () => Promise<LaunchResult> = () => Promise.resolve({ status: 'launched' });

  create = (base: NewContainer): LiveContainer => ({ ...base });
  refusal = (): string | undefined => undefined;
  start = async (container: LiveContainer, spec: ContainerSpec): Promise<LaunchResult> => {
    const result = await this.startResult();
    const timeoutMs = spec.maxCompletionTimeMs;
    container.checkpoint =
      timeoutMs === undefined
        ? {}
        : { maxCompletionTimeMs: timeoutMs, deadline: Date.now() + timeoutMs };
    if (result.status === 'launched') this.lifecycle.running(container);
    return result;
  };
  signal = (_container: LiveContainer, signal: string): void => void this.signals.push(signal);
  ended = (container: LiveContainer, exit: LeaderExit) =>
    Promise.resolve(terminationOf(exit, container.kill, undefined));
  measure = () => Promise.resolve();
  usage = () => ({ cpuSeconds: 1 });
  sample = () => Promise.resolve();
  unheld = () => false;
  release = () => Promise.resolve();
}

function setup() {
  const runtime = new FakeRuntime();
  const lifecycle = new ContainerLifecycle(runtime, {
    defaultGracePeriodMs: 3_000,
    sampleIntervalMs: 1_000_000,
  });
  runtime.lifecycle = lifecycle;
  return { runtime, lifecycle };
}

function specOf(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    containerId: 'c1',
    command: { shell: true, value: 'true' },
    environment: {},
    sandbox: '/sandbox',
    resources: resources({ cpus: 1, mem: 64 }),
    ...overrides,
  };
}

describe(ContainerLifecycle.name, () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts one container for two concurrent launches of one id', async () => {
    const { lifecycle } = setup();
    const results = await Promise.all([lifecycle.launch(specOf()), lifecycle.launch(specOf())]);
    expect(results.map((r) => r.status).sort()).toEqual(['already-launched', 'launched']);
  });

  it('tells a launch in flight of a kill: one that gives up is killed, one that makes it is killed running', async () => {
    const { runtime, lifecycle } = setup();
    let started: LiveContainer | undefined;
    runtime.startResult = () =>
      new Promise((_, reject) => {
        started?.launchSignal.addEventListener('abort', () => reject(new Error('gave up')));
      });
    const create = runtime.create;
    runtime.create = (base) => (started = create(base));
    const launch = lifecycle.launch(specOf());
    await lifecycle.kill('c1', { gracePeriodMs: 0 });
    expect(await launch).toEqual({
      status: 'killed',
      reason: 'KILLED_BY_FRAMEWORK',
      message: 'killed at the request of the framework before its command started',
    });
    expect(await lifecycle.wait('c1')).toBeUndefined();

    // A start that does not listen runs, and the kill then ends it as any running container.
    let finish!: () => void;
    runtime.startResult = () =>
      new Promise((resolve) => (finish = () => resolve({ status: 'launched' })));
    const second = lifecycle.launch(specOf());
    const killed = lifecycle.kill('c1', { gracePeriodMs: 0 });
    finish();
    expect(await second).toEqual({ status: 'launched' });
    await vi.waitFor(() => expect(runtime.signals).toEqual(['SIGKILL']));
    void lifecycle.end(started!, { signal: 'SIGKILL' });
    await killed;
    expect(await lifecycle.wait('c1')).toMatchObject({ state: 'TASK_KILLED' });
  });

  it('forgets the id of a failed launch, which may then be launched anew', async () => {
    const { runtime, lifecycle } = setup();
    runtime.startResult = () => Promise.reject(new Error('no such program'));
    await expect(lifecycle.launch(specOf())).rejects.toThrow(ContainerLaunchError);
    expect(await lifecycle.wait('c1')).toBeUndefined();
    runtime.startResult = () => Promise.resolve({ status: 'launched' });
    expect(await lifecycle.launch(specOf())).toEqual({ status: 'launched' });
  });

  it('decides the termination by the first end, which a later kill does not rewrite', async () => {
    const { runtime, lifecycle } = setup();
    await lifecycle.launch(specOf());
    const container = lifecycle.get('c1')!;
    await lifecycle.end(container, { code: 0 });
    await lifecycle.end(container, { code: 3 });
    await lifecycle.kill('c1');
    expect(await lifecycle.wait('c1')).toMatchObject({ state: 'TASK_FINISHED', exitCode: 0 });
    expect(runtime.signals).toEqual([]);
  });

  it('kills with SIGTERM, then SIGKILL at the end of the grace period, keeping the first reason', async () => {
    vi.useFakeTimers();
    const { runtime, lifecycle } = setup();
    await lifecycle.launch(specOf());
    void lifecycle.kill('c1', { gracePeriodMs: 5_000, reason: 'TIMEOUT' });
    void lifecycle.kill('c1', { gracePeriodMs: 1_000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(runtime.signals).toEqual(['SIGTERM']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(runtime.signals).toEqual(['SIGTERM', 'SIGKILL']);
    await lifecycle.end(lifecycle.get('c1')!, { signal: 'SIGKILL' });
    expect(await lifecycle.wait('c1')).toMatchObject({ state: 'TASK_KILLED', reason: 'TIMEOUT' });
  });

  it('kills with SIGKILL alone when there is no grace period', async () => {
    const { runtime, lifecycle } = setup();
    await lifecycle.launch(specOf());
    void lifecycle.kill('c1', { gracePeriodMs: 0 });
    await vi.waitFor(() => expect(runtime.signals).toEqual(['SIGKILL']));
  });

  it('times a container out with reason TIMEOUT', async () => {
    vi.useFakeTimers();
    const { runtime, lifecycle } = setup();
    await lifecycle.launch(specOf({ maxCompletionTimeMs: 10_000 }));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runtime.signals).toEqual(['SIGTERM']);
    expect(lifecycle.get('c1')?.kill?.reason).toBe('TIMEOUT');
  });

  it('lets a limit hit before any kill stand against a later kill', async () => {
    const { runtime, lifecycle } = setup();
    await lifecycle.launch(specOf());
    const container = lifecycle.get('c1')!;
    lifecycle.limit(container, 'CONTAINER_LIMITATION_PIDS', 'reached its limit');
    void lifecycle.kill('c1');
    expect(container.kill).toBeUndefined();
    expect(container.limitation?.reason).toBe('CONTAINER_LIMITATION_PIDS');
    expect(runtime.signals).toEqual(['SIGKILL']);
  });

  it('signals again while a container that hit its limit still runs (a lost SIGKILL is re-sent)', async () => {
    const { runtime, lifecycle } = setup();
    await lifecycle.launch(specOf());
    const container = lifecycle.get('c1')!;
    // The sampler sees the limit at each sample until the container has ended.
    lifecycle.limit(container, 'CONTAINER_LIMITATION_MEMORY', 'reached its limit');
    lifecycle.limit(container, 'CONTAINER_LIMITATION_MEMORY', 'reached its limit');
    expect(runtime.signals).toEqual(['SIGKILL', 'SIGKILL']);
    expect(container.limitation?.reason).toBe('CONTAINER_LIMITATION_MEMORY');
    await lifecycle.end(container, { signal: 'SIGKILL' });
    lifecycle.limit(container, 'CONTAINER_LIMITATION_MEMORY', 'reached its limit');
    expect(runtime.signals).toEqual(['SIGKILL', 'SIGKILL']);
  });

  it('destroys once for concurrent calls, killing at once, and forgets the id', async () => {
    const { runtime, lifecycle } = setup();
    const release = vi.spyOn(runtime, 'release');
    await lifecycle.launch(specOf());
    const destroyed = Promise.all([lifecycle.destroy('c1'), lifecycle.destroy('c1')]);
    await vi.waitFor(() => expect(runtime.signals).toEqual(['SIGKILL']));
    await lifecycle.end(lifecycle.get('c1')!, { signal: 'SIGKILL' });
    await destroyed;
    expect(release).toHaveBeenCalledTimes(1);
    expect(lifecycle.has('c1')).toBe(false);
  });
});
