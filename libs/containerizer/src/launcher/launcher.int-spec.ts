import { execFileSync, spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseProcStat, readProcStatSync } from '../process/proc';
import { Launcher, RunError, type SpawnPlan } from '@kiln/common';

describe(Launcher.name, () => {
  let dir: string;
  let output: number;
  const launcher = new Launcher();
  /** Processes a test started that outlive it should it fail: killed after each. */
  const started: ChildProcess[] = [];
  const opened: number[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-launcher-'));
    output = openSync(join(dir, 'output'), 'a');
  });
  afterEach(() => {
    for (const child of started.splice(0)) child.kill('SIGKILL');
    for (const fd of [output, ...opened.splice(0)]) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  /** `/bin/sh -c script` in the test's directory, its input a pipe, its outputs `output`. */
  const spawn = (script: string, plan: Partial<SpawnPlan> = {}) =>
    launcher.spawn({
      file: '/bin/sh',
      args: ['-c', script],
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      input: 'pipe',
      outputs: [output, output, output],
      ...plan,
    });

  it("spawns from a process of its own, with the child's own stat read before it could be reaped", async () => {
    const wrapper = await spawn('read -r go; echo "$go $$ in $PWD"; exit 3');
    const stat = parseProcStat(wrapper.stat ?? '');
    expect(stat?.pid).toBe(wrapper.pid);
    // Not this process's child: the agent is never forked (nor stalled) for a launch.
    expect(stat?.ppid).not.toBe(process.pid);
    await wrapper.go('go\n');
    expect(await wrapper.exited).toEqual({ code: 3 });
    expect(readFileSync(join(dir, 'output'), 'utf8')).toBe(`go ${wrapper.pid} in ${dir}\n`);
  });

  it('signals the group of an unreaped wrapper, and says it did', async () => {
    const wrapper = await spawn('sleep 30 & wait');
    expect(await wrapper.signal('SIGKILL')).toBe(true);
    expect(await wrapper.exited).toEqual({ signal: 'SIGKILL' });
  });

  it('signals nobody once the wrapper is reaped: its pid may be another process by then', async () => {
    const wrapper = await spawn('exit 0');
    expect(await wrapper.exited).toEqual({ code: 0 });
    expect(await wrapper.signal('SIGKILL')).toBe(false);
  });

  it('fails a spawn the system refuses, naming why', async () => {
    const refused = spawn('true', { cwd: join(dir, 'missing') });
    await expect(refused).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('gives no word to a process spawned without a pipe, and says so', async () => {
    const spawned = await spawn('read -r word; echo "read [$word]"', { input: 'ignore' });
    expect(await spawned.go('go\n')).toBe(false);
    expect(await spawned.exited).toEqual({ code: 0 });
    expect(readFileSync(join(dir, 'output'), 'utf8')).toBe('read []\n');
  });

  it('runs a program to its end from its own process, giving what it wrote', async () => {
    const ran = await launcher.run('/bin/sh', ['-c', 'echo "$PPID in $PWD"; echo note >&2'], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
    });
    const [ppid, , where] = ran.stdout.trim().split(' ');
    expect(Number(ppid)).not.toBe(process.pid);
    expect(where).toBe(dir);
    expect(ran.stderr).toBe('note\n');
  });

  it('fails a program that exits non-zero with its code and what it wrote', async () => {
    const ran = launcher.run('/bin/sh', ['-c', 'echo partial; echo "fatal: no" >&2; exit 3'], {
      cwd: dir,
      env: {},
    });
    await expect(ran).rejects.toBeInstanceOf(RunError);
    await expect(ran).rejects.toMatchObject({
      code: 3,
      stdout: 'partial\n',
      stderr: 'fatal: no\n',
      message: '/bin/sh exited 3: fatal: no',
    });
  });

  it('fails a program that cannot start, naming it', async () => {
    await expect(
      launcher.run(join(dir, 'missing'), [], { cwd: dir, env: {} }),
    ).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringContaining(join(dir, 'missing')) as unknown,
    });
  });

  it('refuses an output that is not a regular file, without waiting on it', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Open for reading and writing, which never waits: as if something read it.
    const pipe = openSync(fifo, 'r+');
    opened.push(pipe);
    const refused = spawn('echo into the fifo', { outputs: [pipe, output] });
    await expect(refused).rejects.toThrow('an output is not a regular file');
    // And it goes on launching.
    const wrapper = await spawn('exit 4');
    expect(await wrapper.exited).toEqual({ code: 4 });
  });

  it('lost alone, lets what it spawned be watched from outside, and the next spawn starts another', async () => {
    const wrapper = await spawn('read -r go; sleep 30');
    const first = parseProcStat(wrapper.stat ?? '')?.ppid;
    expect(first).toBeDefined();
    process.kill(first!, 'SIGKILL');
    await vi.waitFor(() => expect(wrapper.lost).toBe(true), { timeout: 10_000 });
    expect(await wrapper.go('go\n')).toBe(false);
    expect(await wrapper.signal('SIGKILL')).toBe(false);
    // Its pipe closed with its launcher: it read the end of its input and went on to sleep.
    process.kill(-wrapper.pid, 'SIGKILL');

    const next = await spawn('exit 5');
    expect(parseProcStat(next.stat ?? '')?.ppid).not.toBe(first);
    expect(await next.exited).toEqual({ code: 5 });
  });

  it('ends a program it was running when it is lost: nobody would hear of it', async () => {
    const pidFile = join(dir, 'pid');
    const ran = launcher.run('/bin/sh', ['-c', `echo $$ > ${pidFile}; sleep 30`], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
    });
    const pid = await vi.waitFor(() => {
      const text = existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '';
      expect(text).not.toBe('');
      return Number(text);
    });
    const own = readProcStatSync(pid)?.ppid;
    process.kill(own!, 'SIGKILL');
    await expect(ran).rejects.toThrow(/launcher/);
    await vi.waitFor(() => expect(readProcStatSync(pid)?.state ?? 'Z').toBe('Z'), {
      timeout: 10_000,
    });
  });

  it('ends a program that writes past its limit, keeping the end of what it said', async () => {
    const ran = launcher.run('/bin/sh', ['-c', 'yes complaint | head -c 3000000 >&2; exit 0'], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
    });
    await expect(ran).rejects.toBeInstanceOf(RunError);
    const error = (await ran.catch((e: unknown) => e)) as RunError;
    expect(error.message.length).toBeLessThan(5_000);
    expect(error.message).toContain('complaint');
  });

  it('gives a program its input, then its end', async () => {
    const ran = await launcher.run('/bin/sh', ['-c', 'cat; echo end'], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      input: 'given\n',
    });
    expect(ran.stdout).toBe('given\nend\n');
  });

  it('ends a program that runs past its timeout, and says it was that', async () => {
    const ran = launcher.run('/bin/sh', ['-c', 'echo waiting >&2; exec sleep 60'], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 200,
    });
    await expect(ran).rejects.toMatchObject({
      timedOut: true,
      signal: 'SIGTERM',
      message: '/bin/sh did not end within 200 ms and was ended: waiting',
    });
  });

  it('stops a program when told, with the signal it was given: one that ignores SIGTERM too', async () => {
    const stop = new AbortController();
    const ran = launcher.run('/bin/sh', ['-c', "trap '' TERM; echo up; exec sleep 60"], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      killSignal: 'SIGKILL',
      stop: stop.signal,
    });
    // Told once it runs: a stop before the launcher has it is a stop all the same.
    stop.abort();
    await expect(ran).rejects.toMatchObject({ signal: 'SIGKILL', timedOut: false });
  });

  it('ends a program past its timeout with the signal it was given', async () => {
    const ran = launcher.run('/bin/sh', ['-c', "trap '' TERM; exec sleep 60"], {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 200,
      killSignal: 'SIGKILL',
    });
    await expect(ran).rejects.toMatchObject({ timedOut: true });
  });

  it('lets a program write more than the default when told, and no more', async () => {
    const script = 'head -c 2000000 /dev/zero';
    const options = { cwd: dir, env: { PATH: '/usr/bin:/bin' } };
    await expect(launcher.run('/bin/sh', ['-c', script], options)).rejects.toBeInstanceOf(RunError);
    const ran = await launcher.run('/bin/sh', ['-c', script], { ...options, outputBytes: 4e6 });
    expect(ran.stdout.length).toBe(2_000_000);
  });

  it("passes on nothing its agent's parent left the agent: only the program's own three outputs", async () => {
    const root = resolve(__dirname, '../../../..');
    const agent = spawnProcess(
      process.execPath,
      ['--import', 'tsx', resolve(__dirname, '../testing/descriptors-agent.ts')],
      // Descriptor 20 of the agent is a pipe of this test's, as a supervisor may leave one. (Node
      // makes its first descriptors close on exec as it starts, up to the first it lacks past 15.)
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit', ...Array<'ignore'>(17).fill('ignore'), 'pipe'],
      },
    );
    started.push(agent);
    let listed = '';
    agent.stdout?.on('data', (chunk: Buffer) => (listed += chunk.toString()));
    const [code] = (await once(agent, 'close')) as [number];
    expect(code).toBe(0);
    // `ls` lists its own descriptors, and the one it reads the directory with.
    const descriptors = listed.trim().split('\n').map(Number);
    expect(descriptors.sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
  });

  it('dies with its agent: a wrapper still waiting for its go reads nothing and runs nothing', async () => {
    const root = resolve(__dirname, '../../../..');
    const agent = spawnProcess(
      process.execPath,
      ['--import', 'tsx', resolve(__dirname, '../testing/launching-agent.ts'), dir],
      // tsx reads tsconfig.json's paths from the working directory.
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    started.push(agent);
    const [line] = (await once(createInterface({ input: agent.stdout }), 'line')) as [string];
    const { pid, stat } = JSON.parse(line) as { pid: number; stat: string };
    const launcher = parseProcStat(stat)?.ppid;
    expect(launcher).not.toBe(agent.pid);

    agent.kill('SIGKILL');
    await vi.waitFor(
      () => expect(readFileSync(join(dir, 'output'), 'utf8')).toBe(`${pid} read nothing\n`),
      { timeout: 10_000 },
    );
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    // The launcher is gone with its agent (or a zombie its new parent has yet to reap).
    await vi.waitFor(() => expect(readProcStatSync(launcher!)?.state ?? 'Z').toBe('Z'), {
      timeout: 10_000,
    });
  });
});
