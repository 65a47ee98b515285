import { withTimeout } from '@kiln/common';
import type { PlanJob } from '@kiln/pipeline';
import {
  DockerContainerizer,
  ProcessContainerizer,
  workspaceOf,
  type Containerizer,
  type ContainerSpec,
} from '@kiln/containerizer';
import { eventually, exists, readIfExists, TempDirs } from '@kiln/containerizer/testing';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTask, type BuildContext } from './build-task';

/*
 * A job's steps as the agent runs them, under a kill and a timeout, in the containerizers that
 * run them: a step's `trap … TERM` gets its grace period, the next step never starts, and a step
 * that shrugs SIGTERM off is SIGKILLed once the grace is over.
 */

/** Far longer than any test here: only a TERM the step handles can end its task in time. */
const LONG_GRACE_MS = 60_000;
const IMAGE = 'kiln-test/busybox:latest';
const OWNER = `test-${randomUUID()}`;

interface Subject {
  name: string;
  make(grace: number, runtimeDir: string): Containerizer;
  spec: Partial<ContainerSpec>;
  path: string;
}

const SUBJECTS: Subject[] = [
  {
    name: 'docker',
    make: (grace) => new DockerContainerizer({ owner: OWNER, defaultGracePeriodMs: grace }),
    spec: { image: IMAGE },
    path: '/bin',
  },
  {
    name: 'process',
    make: (grace, runtimeDir) =>
      new ProcessContainerizer({ runtimeDir, defaultGracePeriodMs: grace }),
    spec: {},
    path: '/usr/local/bin:/usr/bin:/bin',
  },
];

function planOf(steps: string[]): PlanJob {
  return {
    key: 'test',
    name: 'test',
    steps: steps.map((run, idx) => ({ name: `step ${idx}`, run })),
    env: {},
    resources: { cpus: 0.5, mem: 128 },
    needs: [],
    timeoutSeconds: 300,
    retry: 0,
    allowFailure: false,
    secrets: [],
    artifacts: [],
  };
}

function contextOf(plan: PlanJob): BuildContext {
  const taskId = `job-${randomUUID()}`;
  return {
    repository: { id: 'repo-1', fullName: 'acme/widget' },
    run: { id: 'run-1', number: 1, event: 'push', ref: 'refs/heads/main', sha: 'c'.repeat(40) },
    job: { id: 'job-1', attempt: 1, plan },
    secrets: {},
    taskId,
    logSink: { url: 'http://127.0.0.1:9/logs', token: 'tok' },
    source: {
      url: 'http://127.0.0.1:9/source.git',
      packUrl: 'http://127.0.0.1:9/source.pack',
      token: 'tok',
    },
    artifactSink: { url: 'http://127.0.0.1:9/artifacts', token: 'tok' },
    stepNonce: 'nonce',
  };
}

describe.each(SUBJECTS)('the steps of a job in the $name containerizer', (subject) => {
  const dirs = new TempDirs();
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    try {
      await withTimeout(Promise.all(cleanups.splice(0).map((cleanup) => cleanup())), 20_000);
    } finally {
      await dirs.removeAll();
    }
  });

  /** Launches the job's steps as the agent would, and waits until the first step says `ready`. */
  async function launch(steps: string[], grace = LONG_GRACE_MS, timeoutMs?: number) {
    const containerizer = subject.make(grace, await dirs.make());
    const task = buildTask(contextOf(planOf(steps)));
    const spec: ContainerSpec = {
      containerId: task.taskId,
      command: { shell: true, value: task.command.value },
      environment: { ...task.command.environment, PATH: subject.path },
      sandbox: await dirs.make(),
      resources: { cpus: 0.5, mem: 128, disk: 0, ports: [] },
      ...(timeoutMs === undefined ? {} : { maxCompletionTimeMs: timeoutMs }),
      ...subject.spec,
    };
    cleanups.push(() => containerizer.destroy(spec.containerId));
    expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    const workspace = workspaceOf(spec.sandbox);
    await eventually('the step is up', () => exists(join(workspace, 'ready')));
    return {
      containerizer,
      spec,
      output: async () => (await readIfExists(join(spec.sandbox, 'stdout'))) ?? '',
      file: (name: string) => readIfExists(join(workspace, name)),
    };
  }

  const TRAPPING_STEP =
    "trap 'echo trapped; echo cleaned > cleaned; exit 0' TERM; echo up > ready; " +
    'while :; do sleep 0.05; done';
  const NEXT_STEP = 'echo the next step ran';

  it("runs a step's TERM trap when the job is cancelled, and no step after it", async () => {
    const job = await launch([TRAPPING_STEP, NEXT_STEP]);
    await job.containerizer.kill(job.spec.containerId, { gracePeriodMs: LONG_GRACE_MS });
    expect(await job.containerizer.wait(job.spec.containerId)).toMatchObject({
      state: 'TASK_KILLED',
      reason: 'KILLED_BY_FRAMEWORK',
    });
    expect(await job.file('cleaned')).toBe('cleaned\n');
    expect(await job.output()).toContain('trapped\n');
    expect(await job.output()).not.toContain('the next step ran');
  });

  it("runs a step's TERM trap when the job times out", async () => {
    // Long enough for the step to set its trap even on a slow engine; the grace is longer still.
    const job = await launch([TRAPPING_STEP, NEXT_STEP], LONG_GRACE_MS, 5_000);
    expect(await job.containerizer.wait(job.spec.containerId)).toMatchObject({
      state: 'TASK_KILLED',
      reason: 'TIMEOUT',
    });
    expect(await job.file('cleaned')).toBe('cleaned\n');
    expect(await job.output()).not.toContain('the next step ran');
  });

  it('SIGKILLs a step that carries on after SIGTERM once the grace period is over', async () => {
    const job = await launch([
      // Notes the TERM and goes on working (its sleep, TERMed too, must not end it under
      // `sh -e`): only a SIGKILL ends it.
      "trap 'echo termed > termed' TERM; echo up > ready; " +
        'while :; do [ ! -e termed ] || echo x >> after-term; sleep 0.05 || :; done',
      NEXT_STEP,
    ]);
    await job.containerizer.kill(job.spec.containerId, { gracePeriodMs: 1_000 });
    expect(await job.containerizer.wait(job.spec.containerId)).toMatchObject({
      state: 'TASK_KILLED',
    });
    // It got the TERM, lived on through the grace, and was ended all the same.
    expect(await job.file('termed')).toBe('termed\n');
    expect(await job.file('after-term')).toMatch(/^x\n/);
    expect(await job.output()).not.toContain('the next step ran');
  });
});
