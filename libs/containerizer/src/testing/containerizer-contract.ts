import { deferred, withTimeout } from '@kiln/common';
import { programsForked } from '@kiln/common/testing';
import { resources } from '@kiln/contracts';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  workspaceOf,
  WORKSPACE_DIR,
  type Containerizer,
  type ContainerSpec,
  type Termination,
} from '../containerizer';
import {
  eventually,
  exists,
  expectNoMoreWrites,
  readIfExists,
  TempDirs,
  uniqueContainerId,
} from './helpers';

export interface ContainerizerContractOptions {
  /** A fresh containerizer for one test, and what undoes everything `setup` made. */
  setup(): Promise<{ containerizer: Containerizer; teardown: () => Promise<void> }>;
  /** Merged into every spec: e.g. the image (with `/bin/sh`) that docker runs the commands in. */
  spec?: Partial<ContainerSpec>;
  /**
   * The programs a task's launch and end start from the agent's own process rather than from its
   * launcher, and so fork the agent (see launcher.ts): none, but where the launcher cannot start
   * them.
   */
  forksTheAgentFor?: string[];
}

/** The environment every contract task gets: enough to find `sh`, `sleep` and `printf`. */
const ENVIRONMENT = { PATH: '/usr/local/bin:/usr/bin:/bin' };

/** A shell loop that appends to `tick` every 20 ms for as long as it lives. */
const TICKER = '(while :; do echo x >> tick; sleep 0.02; done) &';

/**
 * The behaviour every {@link Containerizer} promises, as tests that each implementation runs in
 * its own `*.int-spec.ts`: `describeContainerizerContract('docker', { setup, spec: { image } })`.
 * Tasks are POSIX shell with `sleep` and `printf`, so a busybox image can run them. Processes are
 * only ever observed through the sandbox (what the task writes in its workspace, and its output
 * beside it), which every implementation shares with the host.
 */
export function describeContainerizerContract(
  title: string,
  options: ContainerizerContractOptions,
): void {
  describe(`${title} keeps the Containerizer contract`, () => {
    const dirs = new TempDirs();
    const launched: string[] = [];
    let containerizer: Containerizer;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ containerizer, teardown } = await options.setup());
    });
    afterEach(async () => {
      try {
        const ids = launched.splice(0);
        await withTimeout(Promise.all(ids.map((id) => containerizer.destroy(id))), 20_000);
      } finally {
        await teardown();
        await dirs.removeAll();
      }
    });

    async function specOf(
      command: string | ContainerSpec['command'],
      overrides: Partial<ContainerSpec> = {},
    ): Promise<ContainerSpec> {
      const containerId = uniqueContainerId('contract');
      launched.push(containerId);
      return {
        containerId,
        command: typeof command === 'string' ? { shell: true, value: command } : command,
        environment: ENVIRONMENT,
        sandbox: await dirs.make(),
        resources: resources({ cpus: 0.5, mem: 128 }),
        ...options.spec,
        ...overrides,
      };
    }

    /** Launches `command` and expects it to start. */
    async function start(
      command: string | ContainerSpec['command'],
      overrides: Partial<ContainerSpec> = {},
    ): Promise<ContainerSpec> {
      const spec = await specOf(command, overrides);
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
      return spec;
    }

    /** Launches `command` and waits for its end. */
    async function run(
      command: string | ContainerSpec['command'],
      overrides: Partial<ContainerSpec> = {},
    ): Promise<{ spec: ContainerSpec; termination: Termination }> {
      const spec = await start(command, overrides);
      const termination = await containerizer.wait(spec.containerId);
      if (termination === undefined) throw new Error(`wait(${spec.containerId}) said unknown`);
      return { spec, termination };
    }

    /** Waits until the task has written `file`, its sign that it is up. */
    async function ready(spec: ContainerSpec, file = 'ready'): Promise<void> {
      await eventually(`${file} written by the task`, () =>
        exists(join(workspaceOf(spec.sandbox), file)),
      );
    }

    /** A file the task wrote where it works. */
    const read = (spec: ContainerSpec, file: string) =>
      readIfExists(join(workspaceOf(spec.sandbox), file));
    /** A file of the sandbox's own: the task's output. */
    const output = (spec: ContainerSpec, file: 'stdout' | 'stderr') =>
      readIfExists(join(spec.sandbox, file));

    it('appends the standard output and error to files in the sandbox', async () => {
      const spec = await specOf('echo out; echo err >&2; echo more');
      await writeFile(join(spec.sandbox, 'stdout'), 'from before\n');
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
      await containerizer.wait(spec.containerId);
      expect(await output(spec, 'stdout')).toBe('from before\nout\nmore\n');
      expect(await output(spec, 'stderr')).toBe('err\n');
    });

    it("starts a task's programs from the agent's launcher, never forking the agent", async () => {
      const forked = await programsForked(async () => {
        const { spec } = await run('echo hi');
        await containerizer.destroy(spec.containerId);
      });
      expect(forked).toEqual(options.forksTheAgentFor ?? []);
    });

    it('reports exit 0 as finished and any other code as failed with that code', async () => {
      const finished = await run('true');
      expect(finished.termination).toMatchObject({ state: 'TASK_FINISHED', exitCode: 0 });
      expect(finished.termination.reason).toBeUndefined();

      const failed = await run('echo failing; exit 3');
      expect(failed.termination).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'COMMAND_EXITED_NONZERO',
        exitCode: 3,
      });
      expect(failed.termination.message).toMatch(/\b3\b/);
    });

    it('passes the arguments of a command without a shell on verbatim', async () => {
      const args = ['%s|', 'two words', '', '$HOME', '*', "it's", 'a\nb'];
      const { spec, termination } = await run({ shell: false, value: 'printf', arguments: args });
      expect(termination.state).toBe('TASK_FINISHED');
      expect(await output(spec, 'stdout')).toBe("two words||$HOME|*|it's|a\nb|");
    });

    it("gives the task the environment verbatim, and nothing of the agent's", async () => {
      const tricky = 'spaces, $dollar, "quotes", \'single\', `ticks`\nand a second line';
      const { spec, termination } = await run(
        'printf %s "$TRICKY" > tricky; printf %s "${EMPTY-unset}" > empty; ' +
          'printf %s "${VITEST-unset}" > leaked',
        { environment: { ...ENVIRONMENT, TRICKY: tricky, EMPTY: '' } },
      );
      expect(termination.state).toBe('TASK_FINISHED');
      expect(await read(spec, 'tricky')).toBe(tricky);
      expect(await read(spec, 'empty')).toBe('');
      // The test runner sets VITEST in its own environment: the task must not see it.
      expect(process.env.VITEST).toBeDefined();
      expect(await read(spec, 'leaked')).toBe('unset');
    });

    it('runs the task in the workspace of its sandbox, making it when missing', async () => {
      const { spec } = await run('echo here > marker; ls -a > listing');
      expect(await read(spec, 'marker')).toBe('here\n');
      // The sandbox's own files are beside the workspace, not in it.
      expect(await read(spec, 'listing')).toBe('.\n..\nlisting\nmarker\n');
      expect((await readdir(spec.sandbox)).filter((name) => !name.startsWith('.')).sort()).toEqual([
        'stderr',
        'stdout',
        WORKSPACE_DIR,
      ]);
    });

    it('runs the task in a workspace the agent filled', async () => {
      const spec = await specOf('cat checked-out');
      await mkdir(workspaceOf(spec.sandbox));
      await writeFile(join(workspaceOf(spec.sandbox), 'checked-out'), 'source\n');
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ exitCode: 0 });
      expect(await output(spec, 'stdout')).toBe('source\n');
    });

    it('runs the command once the workspace is ready, on what was put there meanwhile', async () => {
      const workspaceReady = deferred();
      const spec = await specOf('cat checked-out', { ready: workspaceReady.promise });
      const launch = containerizer.launch(spec);
      await mkdir(workspaceOf(spec.sandbox), { recursive: true });
      await writeFile(join(workspaceOf(spec.sandbox), 'checked-out'), 'late source\n');
      workspaceReady.resolve();
      expect(await launch).toEqual({ status: 'launched' });
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ exitCode: 0 });
      expect(await output(spec, 'stdout')).toBe('late source\n');
    });

    it('never runs the command when the workspace is not made ready, and forgets the id', async () => {
      const workspaceReady = deferred();
      const spec = await specOf('echo ran > ran', { ready: workspaceReady.promise });
      const launch = containerizer.launch(spec);
      workspaceReady.reject(new Error('the checkout failed'));
      await expect(launch).rejects.toMatchObject({
        name: 'ContainerLaunchError',
        reason: 'CONTAINER_LAUNCH_FAILED',
        message: expect.stringMatching(/not started.*the checkout failed/) as unknown,
      });
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
      expect(await read(spec, 'ran')).toBeUndefined();
    });

    it('keeps the output and the exit code when the task plants links in its workspace', async () => {
      const target = join(await dirs.make(), 'target');
      await writeFile(target, 'untouched\n');
      const spec = await specOf(
        `for f in stdout stderr .exit_code; do ln -sf '${target}' "$f"; done; echo out; exit 3`,
      );
      // As a hostile checkout would have them, before the launch.
      await mkdir(workspaceOf(spec.sandbox));
      await symlink(target, join(workspaceOf(spec.sandbox), 'stdout'));
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FAILED',
        exitCode: 3,
      });
      expect(await output(spec, 'stdout')).toBe('out\n');
      expect(await readFile(target, 'utf8')).toBe('untouched\n');
    });

    it('fails the launch when the workspace is a symbolic link, and forgets the id', async () => {
      const spec = await specOf('true');
      await symlink(await dirs.make(), workspaceOf(spec.sandbox));
      await expect(containerizer.launch(spec)).rejects.toMatchObject({
        name: 'ContainerLaunchError',
        reason: 'CONTAINER_LAUNCH_FAILED',
      });
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
    });

    it('kills the whole container, background processes too', async () => {
      const spec = await start(`${TICKER} sleep 1000 & echo up > ready; sleep 1000`);
      await ready(spec);
      await eventually('the ticker ticks', () => exists(join(workspaceOf(spec.sandbox), 'tick')));
      await containerizer.kill(spec.containerId);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_KILLED',
        reason: 'KILLED_BY_FRAMEWORK',
      });
      await expectNoMoreWrites(join(workspaceOf(spec.sandbox), 'tick'));
    });

    it('carries the reason a kill gives', async () => {
      const spec = await start('echo up > ready; sleep 1000');
      await ready(spec);
      await containerizer.kill(spec.containerId, { reason: 'CONTAINER_LIMITATION_MEMORY' });
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_KILLED',
        reason: 'CONTAINER_LIMITATION_MEMORY',
      });
    });

    it('sends SIGTERM first: a task that handles it ends gracefully, and is still killed', async () => {
      const spec = await start(
        "trap 'echo graceful > got-term; exit 0' TERM; echo up > ready; " +
          'while :; do sleep 0.02; done',
      );
      await ready(spec);
      // Far longer than the test may take: only a SIGTERM can end the task in time.
      await containerizer.kill(spec.containerId, { gracePeriodMs: 60_000 });
      expect(await read(spec, 'got-term')).toBe('graceful\n');
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_KILLED' });
    });

    it('SIGKILLs a task that ignores SIGTERM once the grace period is over', async () => {
      const spec = await start(
        `trap '' TERM; ${TICKER} echo up > ready; while :; do sleep 0.02; done`,
      );
      await ready(spec);
      await eventually('the ticker ticks', () => exists(join(workspaceOf(spec.sandbox), 'tick')));
      await containerizer.kill(spec.containerId, { gracePeriodMs: 300 });
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_KILLED',
        reason: 'KILLED_BY_FRAMEWORK',
      });
      await expectNoMoreWrites(join(workspaceOf(spec.sandbox), 'tick'));
    });

    it('kills a task that outlives its maximum completion time with reason TIMEOUT', async () => {
      const { spec, termination } = await run(`${TICKER} sleep 1000`, {
        maxCompletionTimeMs: 300,
      });
      expect(termination).toMatchObject({ state: 'TASK_KILLED', reason: 'TIMEOUT' });
      expect(termination.message).toContain('300 ms');
      await expectNoMoreWrites(join(workspaceOf(spec.sandbox), 'tick'));
    });

    it('ends the container with its main process, killing what it left running', async () => {
      const { spec, termination } = await run(
        `${TICKER} sleep 1000 & while [ ! -e tick ]; do sleep 0.02; done; exit 0`,
      );
      expect(termination).toMatchObject({ state: 'TASK_FINISHED', exitCode: 0 });
      await expectNoMoreWrites(join(workspaceOf(spec.sandbox), 'tick'));
    });

    it('resolves concurrent and repeated waits with the same termination', async () => {
      const spec = await start('echo up > ready; while [ ! -e go ]; do sleep 0.02; done; exit 4');
      await ready(spec);
      const first = containerizer.wait(spec.containerId);
      const second = containerizer.wait(spec.containerId);
      await writeFile(join(workspaceOf(spec.sandbox), 'go'), '');
      const [a, b] = await Promise.all([first, second]);
      expect(a).toMatchObject({ state: 'TASK_FAILED', exitCode: 4 });
      expect(b).toBe(a);
      expect(await containerizer.wait(spec.containerId)).toBe(a);
      expect(await containerizer.wait(uniqueContainerId('never-launched'))).toBeUndefined();
    });

    it('starts one process for one id: a second launch is already-launched', async () => {
      const spec = await specOf('echo run >> runs; echo up > ready; sleep 1000');
      const results = await Promise.all([containerizer.launch(spec), containerizer.launch(spec)]);
      expect(results.map((r) => r.status).sort()).toEqual(['already-launched', 'launched']);
      await ready(spec);
      await containerizer.kill(spec.containerId, { gracePeriodMs: 0 });
      // Terminated but not destroyed: the id is still taken.
      expect(await containerizer.launch(spec)).toEqual({ status: 'already-launched' });
      expect(await read(spec, 'runs')).toBe('run\n');
    });

    it('acts on a kill that arrives while the launch is in flight', async () => {
      const spec = await specOf('sleep 1000');
      const launching = containerizer.launch(spec);
      const killing = containerizer.kill(spec.containerId, { gracePeriodMs: 0 });
      expect(await launching).toEqual({ status: 'launched' });
      await killing;
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_KILLED' });
    });

    it('keeps the first end: a kill after the container ended changes nothing', async () => {
      const { spec, termination } = await run('true');
      await containerizer.kill(spec.containerId);
      expect(await containerizer.wait(spec.containerId)).toEqual(termination);
      expect(termination.state).toBe('TASK_FINISHED');
    });

    it('destroys idempotently, concurrently and for unknown ids, and forgets the container', async () => {
      const spec = await start(`${TICKER} echo up > ready; sleep 1000`);
      await ready(spec);
      await eventually('the ticker ticks', () => exists(join(workspaceOf(spec.sandbox), 'tick')));
      const pending = containerizer.wait(spec.containerId);
      await Promise.all([
        containerizer.destroy(spec.containerId),
        containerizer.destroy(spec.containerId),
      ]);
      await containerizer.destroy(spec.containerId);
      await containerizer.destroy(uniqueContainerId('never-launched'));
      expect(await pending).toMatchObject({ state: 'TASK_KILLED' });
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
      expect(await containerizer.usage(spec.containerId)).toBeUndefined();
      expect(containerizer.checkpoint(spec.containerId)).toBeUndefined();
      await containerizer.kill(spec.containerId);
      await expectNoMoreWrites(join(workspaceOf(spec.sandbox), 'tick'));
      // A destroyed id is free again.
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
      await containerizer.destroy(spec.containerId);
    });

    it('rejects an invalid container id as TASK_INVALID', async () => {
      for (const containerId of ['', '..', 'a/b', 'white space', 'x'.repeat(201)]) {
        const spec = { ...(await specOf('true')), containerId };
        await expect(containerizer.launch(spec)).rejects.toMatchObject({
          name: 'ContainerLaunchError',
          reason: 'TASK_INVALID',
        });
      }
    });

    it('fails the launch of a missing sandbox and forgets the id', async () => {
      const spec = await specOf('true');
      const missing = { ...spec, sandbox: join(spec.sandbox, 'missing') };
      await expect(containerizer.launch(missing)).rejects.toMatchObject({
        name: 'ContainerLaunchError',
        reason: 'CONTAINER_LAUNCH_FAILED',
      });
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    });

    it('measures the CPU time of a busy task, and ends with the last measurement', async () => {
      const spec = await start('echo up > ready; while :; do :; done');
      await ready(spec);
      await eventually('the busy task has used CPU', async () => {
        const usage = await containerizer.usage(spec.containerId);
        return (usage?.cpuSeconds ?? 0) > 0;
      });
      await containerizer.kill(spec.containerId, { gracePeriodMs: 0 });
      const termination = await containerizer.wait(spec.containerId);
      expect(termination?.usage?.cpuSeconds).toBeGreaterThan(0);
      expect(await containerizer.usage(spec.containerId)).toEqual(termination?.usage);
    });
  });
}
