import { withTimeout } from '@kiln/common';
import { resources } from '@kiln/contracts';
import {
  describeContainerizerContract,
  eventually,
  exists,
  isAlive,
  launchFromAnotherAgent,
  livingGroupMembers,
  readIfExists,
  TempDirs,
  uniqueContainerId,
} from '@kiln/containerizer/testing';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workspaceOf, type ContainerSpec } from '../containerizer';
import { DEFAULT_PATH, ProcessContainerizer } from './process.containerizer';
import { EXIT_FILE_PATTERN, ExitJournal } from './exit-journal';
import { parseCheckpoint, RuntimeRecords } from './runtime-records';
import { readProcStatSync } from './proc';
import { UNRECORDED_EXIT_CODE, wrapperArguments } from './wrapper';

describeContainerizerContract(ProcessContainerizer.name, {
  async setup() {
    const dirs = new TempDirs();
    const runtimeDir = await dirs.make('kiln-runtime-');
    return {
      containerizer: new ProcessContainerizer({ runtimeDir }),
      teardown: () => dirs.removeAll(),
    };
  },
});

/** A sampling interval no test outlasts: the containerizer never samples on its own. */
const HOUR_MS = 3_600_000;

describe(ProcessContainerizer.name, () => {
  const dirs = new TempDirs();
  const containerizers: ProcessContainerizer[] = [];
  const launched: string[] = [];
  /** Process groups that may outlive a failed test: killed whatever happened. */
  const groups = new Set<number>();

  afterEach(async () => {
    try {
      const ids = launched.splice(0);
      const destroyed = containerizers.splice(0).flatMap((c) => ids.map((id) => c.destroy(id)));
      await withTimeout(Promise.all(destroyed), 20_000);
    } finally {
      for (const pgid of groups) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // Already gone, as it should be.
        }
      }
      groups.clear();
      await dirs.removeAll();
    }
  });

  async function newContainerizer(
    runtimeDir?: string,
    options: { launchesPerExitFile?: number; sampleIntervalMs?: number } = {},
  ): Promise<ProcessContainerizer> {
    const containerizer = new ProcessContainerizer({
      runtimeDir: runtimeDir ?? (await dirs.make('kiln-runtime-')),
      ...options,
    });
    containerizers.push(containerizer);
    return containerizer;
  }

  async function specOf(
    command: string | ContainerSpec['command'],
    overrides: Partial<ContainerSpec> = {},
  ): Promise<ContainerSpec> {
    const containerId = uniqueContainerId('process');
    launched.push(containerId);
    return {
      containerId,
      command: typeof command === 'string' ? { shell: true, value: command } : command,
      environment: { PATH: '/usr/bin:/bin' },
      sandbox: await dirs.make(),
      resources: resources({ cpus: 0.1, mem: 32 }),
      ...overrides,
    };
  }

  /** Launches `spec`, expecting it to start, and returns the pid that leads its group. */
  async function start(containerizer: ProcessContainerizer, spec: ContainerSpec): Promise<number> {
    expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    const pgid = pidOf(containerizer.checkpoint(spec.containerId));
    groups.add(pgid);
    return pgid;
  }

  function pidOf(checkpoint: Record<string, unknown> | undefined): number {
    const pid = checkpoint?.pid;
    if (typeof pid !== 'number') throw new Error(`no pid in ${JSON.stringify(checkpoint)}`);
    return pid;
  }

  /** A file of the sandbox's own: the output and the exit code. */
  const read = (spec: ContainerSpec, file: string) => readIfExists(join(spec.sandbox, file));
  /** A file the task wrote where it works. */
  const written = (spec: ContainerSpec, file: string) =>
    readIfExists(join(workspaceOf(spec.sandbox), file));
  const ready = (spec: ContainerSpec, file = 'ready') =>
    eventually(`${file} written by the task`, () => exists(join(workspaceOf(spec.sandbox), file)));

  it('cannot run images or isolate the network, and says so', async () => {
    const containerizer = await newContainerizer();
    expect(await containerizer.launch(await specOf('true', { image: 'busybox' }))).toEqual({
      status: 'not-supported',
      reason: 'the process containerizer cannot run images; docker is needed',
    });
    expect(await containerizer.launch(await specOf('true', { network: 'none' }))).toMatchObject({
      status: 'not-supported',
    });
    // Host networking is what a process has anyway.
    const host = await specOf('true', { network: 'host' });
    expect(await containerizer.launch(host)).toEqual({ status: 'launched' });
  });

  it('passes exactly the given environment, the variables a shell manages included', async () => {
    const containerizer = await newContainerizer();
    const environment = {
      PATH: '/usr/bin:/bin',
      MULTI: 'line one\nline two',
      PWD: '/not/the/sandbox',
      IFS: ':',
      OPTIND: '7',
      EMPTY: '',
    };
    const spec = await specOf(
      { shell: false, value: 'env', arguments: ['--null'] },
      { environment },
    );
    await start(containerizer, spec);
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_FINISHED' });
    expect(parseEnv(await read(spec, 'stdout'))).toEqual(environment);
  });

  it('runs a shell command as /bin/sh -c runs it: same variables, environment and end', async () => {
    // What a script can tell of the shell that runs it (not PPID: the parent differs). Guards
    // "one exec per task" tries: a script eval'd in the wrapper's own shell saw no PWD, and
    // `kill $$` signalled the wrapper, which ignores TERM.
    const script = [
      'printf "PWD=%s|IFS=%s|OPTIND=%s|args=%s|zero=%s\\n" "$PWD" "$IFS" "$OPTIND" "$#" "$0"',
      'env | grep -v "^_=" | sort',
      'kill $$',
      'echo "still running"',
    ].join('\n');
    const environment = { PATH: '/usr/bin:/bin', IFS: ':', OPTIND: '5', TASK: 'x y' };
    const containerizer = await newContainerizer();
    const spec = await specOf(script, { environment });
    await start(containerizer, spec);
    const termination = await containerizer.wait(spec.containerId);

    const direct = spawnSync('/bin/sh', ['-c', script], {
      cwd: workspaceOf(spec.sandbox),
      env: environment,
      encoding: 'utf8',
    });
    expect(direct.signal).toBe('SIGTERM');
    expect(direct.stdout).toContain(`PWD=${workspaceOf(spec.sandbox)}|`);
    expect(await read(spec, 'stdout')).toBe(direct.stdout);
    expect(termination).toMatchObject({ state: 'TASK_FAILED', exitCode: 143 });
  });

  it('adds a default PATH when none is given, and nothing else', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf(
      { shell: false, value: '/usr/bin/env', arguments: ['--null'] },
      { environment: { ONLY: 'this' } },
    );
    await start(containerizer, spec);
    await containerizer.wait(spec.containerId);
    expect(parseEnv(await read(spec, 'stdout'))).toEqual({ ONLY: 'this', PATH: DEFAULT_PATH });
  });

  it('refuses variable names a shell would drop', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf('true', { environment: { 'NOT-AN-IDENTIFIER': 'x' } });
    expect(await containerizer.launch(spec)).toMatchObject({
      status: 'not-supported',
      reason: expect.stringContaining('NOT-AN-IDENTIFIER') as unknown,
    });
  });

  it("runs the command in the sandbox's workspace, as the leader of its own process group", async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf('pwd -P; echo up > ready; sleep 1000');
    const pgid = await start(containerizer, spec);
    await ready(spec);
    expect(await read(spec, 'stdout')).toBe(`${await realpath(workspaceOf(spec.sandbox))}\n`);
    expect(readProcStatSync(pgid)?.pgrp).toBe(pgid);
    expect(readProcStatSync(process.pid)?.pgrp).not.toBe(pgid);
  });

  it('checkpoints the pid and start time of the leader, and the exit file it was given', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf('sleep 1000', { maxCompletionTimeMs: 60_000 });
    const pid = await start(containerizer, spec);
    expect(containerizer.checkpoint(spec.containerId)).toEqual({
      pid,
      startTime: readProcStatSync(pid)?.startTime,
      maxCompletionTimeMs: 60_000,
      deadline: expect.any(Number) as unknown,
      exits: expect.stringMatching(EXIT_FILE_PATTERN) as unknown,
    });
  });

  it('leaves no process of the group alive after a kill', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf(
      'sleep 1000 & echo $! > background; sh -c "sleep 1000 & echo \\$! > nested; wait" & ' +
        'while [ ! -s nested ]; do sleep 0.02; done; echo up > ready; wait',
    );
    const pgid = await start(containerizer, spec);
    await ready(spec);
    const background = Number(await written(spec, 'background'));
    const nested = Number(await written(spec, 'nested'));
    expect(await isAlive(background)).toBe(true);
    expect(await isAlive(nested)).toBe(true);

    await containerizer.kill(spec.containerId);
    expect(await livingGroupMembers(pgid)).toEqual([]);
    expect(await isAlive(background)).toBe(false);
    expect(await isAlive(nested)).toBe(false);
  });

  it('kills what the task left behind where no sample saw it (a double fork)', async () => {
    const containerizer = await newContainerizer();
    // The subshell exits at once: its sleep is orphaned to a reaper outside the group, out of
    // reach of a walk down from the leader, before the first sample could see it.
    const spec = await specOf('(sleep 1000 & echo $! > orphan); while [ ! -s orphan ]; do :; done');
    const pgid = await start(containerizer, spec);
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_FINISHED' });
    expect(await isAlive(Number(await written(spec, 'orphan')))).toBe(false);
    expect(await livingGroupMembers(pgid)).toEqual([]);
  });

  it('measures the processes of its own group only', async () => {
    const containerizer = await newContainerizer();
    const busy = await specOf('echo up > ready; while :; do :; done');
    const idle = await specOf('echo up > ready; sleep 1000');
    await start(containerizer, busy);
    await start(containerizer, idle);
    await ready(busy);
    await ready(idle);
    await eventually('the busy task has used CPU', async () => {
      const usage = await containerizer.usage(busy.containerId);
      return (usage?.cpuSeconds ?? 0) >= 0.2;
    });
    const usage = await containerizer.usage(idle.containerId);
    expect(usage?.cpuSeconds).toBeLessThan(0.1);
    expect(usage?.memBytes).toBeGreaterThan(0);
  });

  it('SIGKILLs a group that ignores SIGTERM and reports the signal', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf("trap '' TERM; sleep 1000 & echo up > ready; wait");
    const pgid = await start(containerizer, spec);
    await ready(spec);
    await containerizer.kill(spec.containerId, { gracePeriodMs: 200 });
    expect(await containerizer.wait(spec.containerId)).toMatchObject({
      state: 'TASK_KILLED',
      reason: 'KILLED_BY_FRAMEWORK',
      signal: 'SIGKILL',
    });
    expect(await livingGroupMembers(pgid)).toEqual([]);
  });

  it('fails a task with the signal that killed its group unasked', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf('echo up > ready; sleep 1000');
    const pgid = await start(containerizer, spec);
    await ready(spec);
    process.kill(-pgid, 'SIGKILL');
    const termination = await containerizer.wait(spec.containerId);
    expect(termination).toMatchObject({ state: 'TASK_FAILED', signal: 'SIGKILL' });
    expect(termination?.message).toBe('killed by SIGKILL');
    expect(termination?.exitCode).toBeUndefined();
  });

  it("names the signal a shell's exit code stands for when the command alone is killed", async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf({ shell: false, value: 'sleep', arguments: ['1000'] });
    const pgid = await start(containerizer, spec);
    let sleeper: number | undefined;
    await eventually('sleep runs under the wrapper', async () => {
      sleeper = (await livingGroupMembers(pgid)).find((pid) => pid !== pgid);
      return sleeper !== undefined;
    });
    process.kill(sleeper!, 'SIGKILL');
    const termination = await containerizer.wait(spec.containerId);
    expect(termination).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'COMMAND_EXITED_NONZERO',
      exitCode: 137,
    });
    expect(termination?.message).toBe(
      'exited with code 137 (as a shell reports a command killed by SIGKILL)',
    );
  });

  it('makes its runtime directory at the first launch, when no recovery made it', async () => {
    const runtimeDir = join(await dirs.make('kiln-runtime-'), 'not-yet');
    const containerizer = await newContainerizer(runtimeDir);
    const spec = await specOf('exit 4');
    await start(containerizer, spec);
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ exitCode: 4 });
    const checkpoint = parseCheckpoint(containerizer.checkpoint(spec.containerId));
    expect(checkpoint?.exits).toMatch(EXIT_FILE_PATTERN);
  });

  // A task's end comes two ways: heard from the launcher that spawned it, at once, or found by
  // the sampling of its processes, where nobody is left to hear it. Sampling an hour apart, only
  // hearing can end the first task; only sampling, the second.
  it('hears the end of a task it launched, with no sample to find it', async () => {
    const containerizer = await newContainerizer(undefined, { sampleIntervalMs: HOUR_MS });
    const spec = await specOf('exit 3');
    await start(containerizer, spec);

    expect(await withTimeout(containerizer.wait(spec.containerId), 10_000)).toMatchObject({
      state: 'TASK_FAILED',
      exitCode: 3,
    });
  });

  it('finds the end of a task by sampling once the launcher that would hear it is lost', async () => {
    const sampled = await newContainerizer(undefined, { sampleIntervalMs: 50 });
    const unsampled = await newContainerizer(undefined, { sampleIntervalMs: HOUR_MS });
    const specs = await Promise.all(
      [sampled, unsampled].map(() =>
        specOf('echo up > ready; while [ ! -e release ]; do sleep 0.02; done; exit 6'),
      ),
    );
    const [one, other] = specs as [ContainerSpec, ContainerSpec];
    const pgid = await start(sampled, one);
    await start(unsampled, other);
    await Promise.all(specs.map((spec) => ready(spec)));
    // The launcher both share (the wrappers' parent) dies: no one hears either end now.
    const launcher = readProcStatSync(pgid)?.ppid;
    expect(launcher).toBeGreaterThan(1);
    process.kill(launcher!, 'SIGKILL');
    await eventually('the launcher gone', () => readProcStatSync(pgid)?.ppid !== launcher);
    const ends = [sampled.wait(one.containerId), unsampled.wait(other.containerId)] as const;
    let otherEnded = false;
    void ends[1].then(() => (otherEnded = true));
    await Promise.all(
      specs.map((spec) => writeFile(join(workspaceOf(spec.sandbox), 'release'), '')),
    );

    expect(await withTimeout(ends[0], 10_000)).toMatchObject({ exitCode: 6 });
    // The other task has ended as well, and its containerizer cannot know: only a sample, an hour
    // away, would find it.
    await eventually(
      'the other task gone',
      async () => !(await isAlive(pidOf(unsampled.checkpoint(other.containerId)))),
    );
    expect(otherEnded).toBe(false);
    // A sample asked for (its usage) finds it.
    await unsampled.usage(other.containerId);
    expect(await withTimeout(ends[1], 10_000)).toMatchObject({ exitCode: 6 });
  });

  it("records the exit code in the agent's exit file, out of the way of the task", async () => {
    const runtimeDir = await dirs.make('kiln-runtime-');
    const containerizer = await newContainerizer(runtimeDir);
    // The command is given no descriptor 3: a line it writes there goes nowhere. (It runs as the
    // agent's user, so it could open the file by its path: this containerizer is no wall.)
    const spec = await specOf('echo forged 1 0 >&3; exit 5');
    await start(containerizer, spec);
    const checkpoint = parseCheckpoint(containerizer.checkpoint(spec.containerId));
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ exitCode: 5 });
    const exits = await readFile(join(runtimeDir, checkpoint?.exits ?? 'none'), 'utf8');
    expect(exits).toBe(`${spec.containerId} ${checkpoint?.pid} 5\n`);
  });

  it('records each exit in the file its launch was given, while launches at once open new files', async () => {
    const runtimeDir = await dirs.make('kiln-runtime-');
    const containerizer = await newContainerizer(runtimeDir, { launchesPerExitFile: 2 });
    const specs = await Promise.all(Array.from({ length: 7 }, (_, i) => specOf(`exit ${i + 1}`)));
    const checkpoints = await Promise.all(
      specs.map(async (spec) => {
        await start(containerizer, spec);
        return parseCheckpoint(containerizer.checkpoint(spec.containerId));
      }),
    );
    const ends = await Promise.all(specs.map((spec) => containerizer.wait(spec.containerId)));

    expect(ends.map((end) => end?.exitCode)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(checkpoints.map((c) => c?.exits)).size).toBeGreaterThan(1);
    for (const [i, spec] of specs.entries()) {
      const checkpoint = checkpoints[i];
      const exits = await readFile(join(runtimeDir, checkpoint?.exits ?? 'none'), 'utf8');
      expect(exits).toContain(`${spec.containerId} ${checkpoint?.pid} ${i + 1}\n`);
      // Nothing but the task's own output went to its output files.
      expect(await read(spec, 'stdout')).toBe('');
    }
    await Promise.all(specs.map((spec) => containerizer.destroy(spec.containerId)));
    const left = (await readdir(runtimeDir)).filter((name) => EXIT_FILE_PATTERN.test(name));
    expect(left).toHaveLength(1);
  });

  it('fails the launch of a program that is not on the PATH, naming it', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf({ shell: false, value: 'kiln-no-such-program', arguments: [] });
    await expect(containerizer.launch(spec)).rejects.toMatchObject({
      reason: 'CONTAINER_LAUNCH_FAILED',
      message: expect.stringContaining('"kiln-no-such-program"') as unknown,
    });
    expect(await containerizer.wait(spec.containerId)).toBeUndefined();
  });

  it('refuses to write the output through a link planted in the sandbox', async () => {
    const containerizer = await newContainerizer();
    const spec = await specOf('echo written');
    const elsewhere = join(await dirs.make(), 'elsewhere');
    await writeFile(elsewhere, 'untouched\n');
    await symlink(elsewhere, join(spec.sandbox, 'stdout'));
    await expect(containerizer.launch(spec)).rejects.toMatchObject({
      reason: 'CONTAINER_LAUNCH_FAILED',
    });
    expect(await readIfExists(elsewhere)).toBe('untouched\n');
  });

  describe('recover', () => {
    /** A task launched by an agent that has since died, and what a new agent knows of it. */
    async function launchedByDeadAgent(
      command: string,
      overrides: Partial<ContainerSpec> = {},
      runtimeDir?: string,
    ) {
      const dir = runtimeDir ?? (await dirs.make('kiln-runtime-'));
      const spec = await specOf(command, overrides);
      const { result, checkpoint } = await launchFromAnotherAgent(dir, spec);
      expect(result).toEqual({ status: 'launched' });
      const pgid = pidOf(checkpoint);
      groups.add(pgid);
      const known = { containerId: spec.containerId, sandbox: spec.sandbox, checkpoint };
      return { runtimeDir: dir, spec, checkpoint, pgid, known };
    }

    it('re-attaches to a task an earlier agent launched, and reports its real exit code', async () => {
      const { runtimeDir, spec, checkpoint, pgid, known } = await launchedByDeadAgent(
        'echo up > ready; while [ ! -e release ]; do sleep 0.02; done; echo done; exit 7',
      );
      await ready(spec);
      // Its agent is gone: the wrapper is nobody's child in this process.
      expect(readProcStatSync(pgid)?.ppid).not.toBe(process.pid);

      const containerizer = await newContainerizer(runtimeDir);
      expect(await containerizer.recover([known])).toEqual([spec.containerId]);
      expect(containerizer.checkpoint(spec.containerId)).toEqual(checkpoint);
      expect(await containerizer.usage(spec.containerId)).toMatchObject({
        cpuSeconds: expect.any(Number) as unknown,
      });
      const ending = containerizer.wait(spec.containerId);
      await writeFile(join(workspaceOf(spec.sandbox), 'release'), '');
      expect(await ending).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'COMMAND_EXITED_NONZERO',
        exitCode: 7,
      });
      expect(await read(spec, 'stdout')).toBe('done\n');
      await containerizer.destroy(spec.containerId);
      expect(await new RuntimeRecords(runtimeDir).readAll()).toEqual(new Map());
    });

    it('finds the checkpoint in its own records when the agent has none', async () => {
      const { runtimeDir, spec, checkpoint, pgid } = await launchedByDeadAgent(
        'echo up > ready; sleep 1000',
      );
      await ready(spec);

      const containerizer = await newContainerizer(runtimeDir);
      const known = [{ containerId: spec.containerId, sandbox: spec.sandbox }];
      expect(await containerizer.recover(known)).toEqual([spec.containerId]);
      expect(containerizer.checkpoint(spec.containerId)).toEqual(checkpoint);
      await containerizer.destroy(spec.containerId);
      expect(await livingGroupMembers(pgid)).toEqual([]);
    });

    it('can kill a recovered task, and keeps its timeout', async () => {
      const killed = await launchedByDeadAgent('echo up > ready; sleep 1000');
      const timed = await launchedByDeadAgent(
        'echo up > ready; sleep 1000',
        { maxCompletionTimeMs: 3_000 },
        killed.runtimeDir,
      );
      await ready(killed.spec);
      await ready(timed.spec);
      const containerizer = await newContainerizer(killed.runtimeDir);
      const ids = [killed.spec.containerId, timed.spec.containerId];
      expect((await containerizer.recover([killed.known, timed.known])).sort()).toEqual(ids.sort());

      await containerizer.kill(killed.spec.containerId);
      expect(await containerizer.wait(killed.spec.containerId)).toMatchObject({
        state: 'TASK_KILLED',
        reason: 'KILLED_BY_FRAMEWORK',
      });
      expect(await livingGroupMembers(killed.pgid)).toEqual([]);

      const timeout = await containerizer.wait(timed.spec.containerId);
      expect(timeout).toMatchObject({ state: 'TASK_KILLED', reason: 'TIMEOUT' });
      expect(timeout?.message).toContain('3000 ms');
      expect(await livingGroupMembers(timed.pgid)).toEqual([]);
    });

    it('reports the recorded exit code of a task that ended while the agent was away', async () => {
      const { runtimeDir, spec, pgid, known } = await launchedByDeadAgent('exit 3');
      await eventually('the task has ended', async () => !(await isAlive(pgid)));

      const containerizer = await newContainerizer(runtimeDir);
      expect(await containerizer.recover([known])).toEqual([spec.containerId]);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'COMMAND_EXITED_NONZERO',
        exitCode: 3,
      });
    });

    it("reads the exit code an older agent's wrapper left in the sandbox", async () => {
      const { runtimeDir, spec, pgid, known } = await launchedByDeadAgent('exit 3');
      await eventually('the task has ended', async () => !(await isAlive(pgid)));
      // As an agent from before the exit files checkpointed it, and its wrapper recorded the end.
      const older: Record<string, unknown> = { ...known.checkpoint };
      delete older.exits;
      await writeFile(join(spec.sandbox, '.exit_code'), '6\n');

      const containerizer = await newContainerizer(runtimeDir);
      await containerizer.recover([{ ...known, checkpoint: older }]);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ exitCode: 6 });
    });

    it('reports a task that vanished without an exit code as failed by the restart', async () => {
      const { runtimeDir, spec, pgid, known } = await launchedByDeadAgent(
        'echo up > ready; sleep 1000',
      );
      await ready(spec);
      // SIGKILL gives the wrapper no chance to write the exit code.
      process.kill(-pgid, 'SIGKILL');
      await eventually(
        'the group is gone',
        async () => (await livingGroupMembers(pgid)).length === 0,
      );

      const containerizer = await newContainerizer(runtimeDir);
      expect(await containerizer.recover([known])).toEqual([spec.containerId]);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'AGENT_RESTARTED',
      });
    });

    it('leaves alone a process that got the pid of a vanished task', async () => {
      const stranger = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
      const pid = stranger.pid!;
      groups.add(pid);
      const startTime = readProcStatSync(pid)!.startTime;
      const spec = await specOf('true');
      const containerizer = await newContainerizer();
      const checkpoint = { pid, startTime: startTime - 1 };
      const known = [{ containerId: spec.containerId, sandbox: spec.sandbox, checkpoint }];
      expect(await containerizer.recover(known)).toEqual([spec.containerId]);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'AGENT_RESTARTED',
      });
      await containerizer.destroy(spec.containerId);
      expect(await isAlive(pid)).toBe(true);
    });

    it('forgets a task whose agent died between recording it and its go: it never ran', async () => {
      // What the containerizer does at a launch, stopped where the agent died: the wrapper spawned
      // and recorded, its go never written.
      const runtimeDir = await dirs.make('kiln-runtime-');
      const spec = await specOf('touch ran');
      const records = new RuntimeRecords(runtimeDir);
      await records.make();
      const exits = new ExitJournal(records.dir);
      await exits.prepare();
      const exitFile = exits.take(spec.containerId);
      const workspace = workspaceOf(spec.sandbox);
      await mkdir(workspace, { recursive: true });
      const wrapper = spawn(
        '/bin/sh',
        wrapperArguments(spec.containerId, spec.environment, ['/bin/sh', '-c', 'touch ran']),
        { cwd: workspace, env: spec.environment, stdio: ['pipe', 'ignore', 'ignore', exitFile.fd] },
      );
      const pid = wrapper.pid!;
      groups.add(pid);
      const checkpoint = { pid, startTime: readProcStatSync(pid)!.startTime, exits: exitFile.name };
      await records.write({ containerId: spec.containerId, sandbox: spec.sandbox, checkpoint });
      const exited = once(wrapper, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      wrapper.stdin?.end();
      expect((await exited)[0]).toBe(UNRECORDED_EXIT_CODE);

      // The agent's checkpoint of the task has no container: the launch never returned.
      const containerizer = await newContainerizer(runtimeDir);
      const known = [{ containerId: spec.containerId, sandbox: spec.sandbox }];
      expect(await containerizer.recover(known)).toEqual([]);
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
      expect(await written(spec, 'ran')).toBeUndefined();
      expect(await new RuntimeRecords(runtimeDir).readAll()).toEqual(new Map());
    });

    it('destroys the orphans it finds that the agent did not know of', async () => {
      const { runtimeDir, spec, pgid } = await launchedByDeadAgent(
        `echo up > ready; sh -c 'sleep 1000' & sleep 1000`,
      );
      await ready(spec);

      const containerizer = await newContainerizer(runtimeDir);
      expect(await containerizer.recover([])).toEqual([]);
      expect(await livingGroupMembers(pgid)).toEqual([]);
      expect((await new RuntimeRecords(runtimeDir).readAll()).has(spec.containerId)).toBe(false);
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
    });

    it('recognizes nothing that is not its own', async () => {
      const containerizer = await newContainerizer();
      const spec = await specOf('true');
      const unknown = [
        { containerId: spec.containerId, sandbox: spec.sandbox },
        { containerId: uniqueContainerId(), sandbox: spec.sandbox, checkpoint: { image: 'x' } },
      ];
      expect(await containerizer.recover(unknown)).toEqual([]);
    });
  });
});

/** `env --null` output as a map. */
function parseEnv(output: string | undefined): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const entry of (output ?? '').split('\0').filter((e) => e !== '')) {
    const equals = entry.indexOf('=');
    environment[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return environment;
}
