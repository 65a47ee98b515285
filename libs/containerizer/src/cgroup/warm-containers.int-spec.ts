import { deferred, withTimeout } from '@kiln/common';
import { resources } from '@kiln/contracts';
import {
  eventually,
  exists,
  isAlive,
  readIfExists,
  TempDirs,
  uniqueContainerId,
} from '@kiln/containerizer/testing';
import { execFile, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { workspaceOf, type ContainerSpec } from '../containerizer';
import { CgroupContainerizer } from './cgroup.containerizer';
import { parseCheckpoint } from './checkpoint';
import { detectCgroups } from './detect';
import { CGROUP_ROOT, testCgroupParent } from './test-parent.fixture';

const TEST_PARENT = testCgroupParent();
const PARENT = TEST_PARENT.parent;
const RUNTIME_DIR = TEST_PARENT.runtimeDir;

const git = (cwd: string, ...args: string[]) =>
  promisify(execFile)('git', ['-c', 'user.name=k', '-c', 'user.email=k@example.com', ...args], {
    cwd,
  }).then(({ stdout }) => stdout.trim());

afterAll(() => TEST_PARENT.remove());

describe('warm native containers on this host', () => {
  beforeAll(async () => {
    const detection = await detectCgroups();
    if (!detection.supported) {
      throw new Error(`cannot test the cgroup containerizer: ${detection.reason}`);
    }
  });

  const dirs = new TempDirs();
  const containerizers: CgroupContainerizer[] = [];
  const launched: string[] = [];
  let warmDir: string;

  afterEach(async () => {
    try {
      const ids = launched.splice(0);
      await withTimeout(
        Promise.all(
          containerizers.splice(0).flatMap((c) => [c.close(), ...ids.map((id) => c.destroy(id))]),
        ),
        20_000,
      );
      await new CgroupContainerizer({ parent: PARENT, warm: { count: 0, dir: warmDir } }).recover(
        [],
      );
    } finally {
      await dirs.removeAll();
    }
  });

  /** Warm containers are made again once a task ends, or `refillAfterMs` after its start. */
  async function newContainerizer(refillAfterMs = 60_000): Promise<CgroupContainerizer> {
    warmDir ??= join(await dirs.make(), 'warm');
    const containerizer = new CgroupContainerizer({
      parent: PARENT,
      defaultGracePeriodMs: 500,
      runtimeDir: RUNTIME_DIR,
      warm: { count: 1, dir: warmDir, refillAfterMs },
    });
    containerizers.push(containerizer);
    return containerizer;
  }

  /** A task's spec whose sandbox is not made yet, as the agent asks for a warm container. */
  async function specOf(
    command: string,
    overrides: Partial<ContainerSpec> = {},
  ): Promise<ContainerSpec> {
    const containerId = uniqueContainerId('warm');
    launched.push(containerId);
    return {
      containerId,
      command: { shell: true, value: command },
      environment: { PATH: '/usr/bin:/bin', SECRET: "it's a secret" },
      sandbox: join(await dirs.make(), 'sandbox'),
      resources: resources({ cpus: 0.5, mem: 64 }),
      ...overrides,
    };
  }

  /** The warm containers waiting: their runc ids, once each is made and waits for a task. */
  async function held(): Promise<string[]> {
    const names = await readdir(warmDir).catch(() => [] as string[]);
    // Its process runs (runc has written its pid), and waits for the agent's word.
    const gated = await Promise.all(names.map((name) => exists(join(RUNTIME_DIR, 'pids', name))));
    return names.filter((_, index) => gated[index]);
  }

  /**
   * Gives the spec a warm container, once the containerizer has the one made (its gate hook says
   * it is held a moment before the containerizer hears it).
   */
  const given = (containerizer: CgroupContainerizer, spec: ContainerSpec) =>
    eventually('a warm container given to the task', () => containerizer.takeWarm(spec));

  /** Kills the task, and sees its container, made warm under `runcId`, gone. */
  async function killedAndGone(
    containerizer: CgroupContainerizer,
    spec: ContainerSpec,
    runcId: string,
  ): Promise<void> {
    await containerizer.kill(spec.containerId, { gracePeriodMs: 0 });
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_KILLED' });
    await containerizer.destroy(spec.containerId);
    expect(await exists(join(CGROUP_ROOT, 'pids', PARENT, runcId))).toBe(false);
  }

  /** Runs a task cold, which makes the warm containers of its shape once it has ended. */
  async function warmUp(
    containerizer: CgroupContainerizer,
    overrides: Partial<ContainerSpec> = {},
  ) {
    const spec = await specOf('true', overrides);
    await mkdir(spec.sandbox);
    expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_FINISHED' });
    await eventually('a warm container waiting', async () => (await held()).length === 1);
    return held();
  }

  it("runs a task in a container made before it: the task's own command, environment, commit and owner", async () => {
    const containerizer = await newContainerizer();
    const [warm] = await warmUp(containerizer);
    // Nothing of any task is in it: an empty workspace, no command, no variables.
    expect(await readdir(join(warmDir, warm!, 'workspace'))).toEqual([]);
    const config = JSON.parse(
      (await readIfExists(join(warmDir, warm!, '.runc', 'config.json')))!,
    ) as { process: { env: string[]; args: string[] } };
    expect(config.process.env).toEqual([]);
    expect(config.process.args.join(' ')).not.toContain('SECRET');

    const spec = await specOf(
      'printf "%s|" "$SECRET" "$KILN_X"; stat -c "%u %g" version.txt .git/index | sort -u; cat version.txt; exit 3',
      { environment: { PATH: '/usr/bin:/bin', SECRET: "it's a secret", KILN_X: 'x' } },
    );
    const ready = deferred();
    await given(containerizer, { ...spec, ready: ready.promise });
    expect(await exists(join(warmDir, warm!))).toBe(false);
    // The agent puts the commit's objects into the workspace, which is the warm container's now.
    const source = await dirs.make();
    await git(source, 'init', '-q');
    await writeFile(join(source, 'version.txt'), 'one\n');
    await git(source, 'add', '.');
    await git(source, 'commit', '-qm', 'x');
    const sha = await git(source, 'rev-parse', 'HEAD');
    const workspace = workspaceOf(spec.sandbox);
    await git(workspace, 'init', '-q', '--template=');
    await git(workspace, 'fetch', '-q', '--no-write-fetch-head', source, sha);
    const launch = containerizer.launch({
      ...spec,
      ready: ready.promise,
      checkout: { commit: sha },
    });
    ready.resolve();
    expect(await launch).toEqual({ status: 'launched' });
    const checkpoint = parseCheckpoint(containerizer.checkpoint(spec.containerId));
    expect(checkpoint?.runcId).toBe(warm);
    expect(checkpoint?.cgroup).toBe(`${PARENT}/${warm}`);
    const termination = await containerizer.wait(spec.containerId);
    const stdout = await readIfExists(join(spec.sandbox, 'stdout'));
    expect(termination, await readIfExists(join(spec.sandbox, 'stderr'))).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'COMMAND_EXITED_NONZERO',
      exitCode: 3,
    });
    expect(stdout).toBe("it's a secret|x|0 0\none\n");
    // Recorded in the task's sandbox, under its new name; nothing of the command is left there.
    expect(await readIfExists(join(spec.sandbox, '.exit_code'))).toBe('3\n');
    expect(await readdir(join(spec.sandbox, '.runc'))).not.toContain('text');
    await containerizer.destroy(spec.containerId);
    expect(await exists(join(CGROUP_ROOT, 'pids', PARENT, warm!))).toBe(false);
  });

  it('makes the next for the shape of the last task, and none of another', async () => {
    const containerizer = await newContainerizer();
    const [first] = await warmUp(containerizer);
    const bigger = await specOf('echo cold', { resources: resources({ cpus: 0.5, mem: 128 }) });
    expect(await containerizer.takeWarm(bigger)).toBe(false);
    await mkdir(bigger.sandbox);
    expect(await containerizer.launch(bigger)).toEqual({ status: 'launched' });
    expect(containerizer.checkpoint(bigger.containerId)?.runcId).toBeUndefined();
    await containerizer.wait(bigger.containerId);
    // Made anew for 128 MiB: the one for 64 is undone, runc's container and cgroup with it.
    await eventually('a warm container of the new shape', async () => {
      const now = await held();
      return now.length === 1 && now[0] !== first;
    });
    const [second] = await held();
    expect(
      await readIfExists(join(CGROUP_ROOT, 'memory', PARENT, second!, 'memory.limit_in_bytes')),
    ).toBe(`${128 * 1024 * 1024}\n`);
    // Undone beside the making of the next.
    await eventually('the warm container of 64 MiB undone', async () => {
      const left = await Promise.all([
        exists(join(CGROUP_ROOT, 'pids', PARENT, first!)),
        exists(join(RUNTIME_DIR, 'runc', first!)),
        exists(join(warmDir, first!)),
      ]);
      return !left.includes(true);
    });
    // Nor is a command without a shell given one: it runs from its own program.
    const plain = await specOf('true', { resources: resources({ cpus: 0.5, mem: 128 }) });
    expect(
      await containerizer.takeWarm({
        ...plain,
        command: { shell: false, value: 'true', arguments: [] },
      }),
    ).toBe(false);
  });

  it('releases a warm container whose task never launched, and leaves nothing of one at its end', async () => {
    const containerizer = await newContainerizer();
    const [warm] = await warmUp(containerizer);
    const spec = await specOf('true');
    await given(containerizer, spec);
    await containerizer.destroy(spec.containerId);
    expect(await exists(join(RUNTIME_DIR, 'runc', warm!))).toBe(false);
    expect(await exists(join(CGROUP_ROOT, 'pids', PARENT, warm!))).toBe(false);
    // The sandbox is the agent's: it removes it.
    expect(await exists(spec.sandbox)).toBe(true);

    const [next] = await warmUp(containerizer);
    await containerizer.close();
    expect(await readdir(warmDir)).toEqual([]);
    expect(await exists(join(RUNTIME_DIR, 'runc', next!))).toBe(false);
    expect(await exists(join(CGROUP_ROOT, 'pids', PARENT, next!))).toBe(false);
  });

  it('is taken back by a restarted agent with the task it runs, and the warm ones it did not give are undone', async () => {
    const containerizer = await newContainerizer(100);
    const [warm] = await warmUp(containerizer);
    const spec = await specOf('echo started; exec sleep 600');
    await given(containerizer, spec);
    expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    const checkpoint = containerizer.checkpoint(spec.containerId)!;
    // The next one, which no task will take.
    await eventually('another warm container', async () => (await held()).length === 1);
    const [untaken] = await held();

    const restarted = await newContainerizer();
    expect(
      await restarted.recover([
        { containerId: spec.containerId, sandbox: spec.sandbox, checkpoint },
      ]),
    ).toEqual([spec.containerId]);
    expect(await isAlive(parseCheckpoint(checkpoint)!.pid)).toBe(true);
    expect(await exists(join(RUNTIME_DIR, 'runc', warm!))).toBe(true);
    expect(await exists(join(RUNTIME_DIR, 'runc', untaken!))).toBe(false);
    expect(await exists(join(CGROUP_ROOT, 'pids', PARENT, untaken!))).toBe(false);
    expect(await readdir(warmDir)).toEqual([]);
    await killedAndGone(restarted, spec, warm!);
  });

  it('is taken back with its task by a restarted agent that has no record of it, from its bundle', async () => {
    const containerizer = await newContainerizer();
    const [warm] = await warmUp(containerizer);
    const spec = await specOf('exec sleep 600', { maxCompletionTimeMs: 600_000 });
    await given(containerizer, spec);
    expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    const { pid, hostId, deadline } = parseCheckpoint(containerizer.checkpoint(spec.containerId))!;

    // The agent died after the command started, before it recorded where: no checkpoint.
    const restarted = await newContainerizer();
    expect(
      await restarted.recover([{ containerId: spec.containerId, sandbox: spec.sandbox }]),
    ).toEqual([spec.containerId]);
    // Its name, its id range and its deadline, as its bundle recorded them before its start.
    expect(parseCheckpoint(restarted.checkpoint(spec.containerId))).toMatchObject({
      runcId: warm,
      hostId,
      maxCompletionTimeMs: 600_000,
      deadline,
    });
    expect(await isAlive(pid)).toBe(true);
    expect(await exists(join(RUNTIME_DIR, 'runc', warm!))).toBe(true);
    // Its id range is its own still: a new container is given another.
    expect(restarted.workspaceOwner(spec.containerId)?.owner).toBe(hostId);
    await killedAndGone(restarted, spec, warm!);
  });

  it('undoes a warm container its task could not be given (its disk full, say), before its ids go to another', async () => {
    const containerizer = await newContainerizer();
    const [warm] = await warmUp(containerizer);
    const spec = await specOf('echo ran > ran');
    await given(containerizer, spec);
    // Where the text goes, a directory: writing it fails as a full disk would.
    await rm(join(spec.sandbox, '.runc', 'text'));
    await mkdir(join(spec.sandbox, '.runc', 'text'));
    await expect(containerizer.launch(spec)).rejects.toThrow(/EISDIR/);
    expect(await exists(join(RUNTIME_DIR, 'runc', warm!))).toBe(false);
    expect(await exists(join(CGROUP_ROOT, 'pids', PARENT, warm!))).toBe(false);
    expect(await readIfExists(join(workspaceOf(spec.sandbox), 'ran'))).toBeUndefined();
  });

  it('keeps its containers where no other user can list them', async () => {
    const containerizer = await newContainerizer();
    await warmUp(containerizer);
    expect((await stat(warmDir)).mode & 0o777).toBe(0o711);
  });

  it("stops, at an agent's start, the network helper a killed shim left of a container gone", async () => {
    // A helper whose container and shim were killed: a slirp4netns (by name) with a pid file.
    const helper = join(await dirs.make(), 'slirp4netns');
    await copyFile('/bin/sleep', helper);
    await chmod(helper, 0o755);
    const child = spawn(helper, ['600'], { stdio: 'ignore', detached: true });
    try {
      const pidFile = join(RUNTIME_DIR, 'network', 'gone-1.pid');
      await writeFile(pidFile, `${child.pid}\n`);
      await (await newContainerizer()).recover([]);
      await eventually('the helper stopped', async () => !(await isAlive(child.pid!)));
      expect(await exists(pidFile)).toBe(false);
    } finally {
      if (await isAlive(child.pid!)) process.kill(child.pid!, 'SIGKILL');
    }
  });
});
