import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readProcStat } from '../process/proc';
import { SpawnError, Spawner, type SpawnRequest } from './spawner';

describe(Spawner.name, () => {
  let dir: string;
  let out: number;
  let spawner: Spawner;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-spawner-'));
    out = openSync(join(dir, 'out'), 'a');
    spawner = new Spawner();
  });
  afterEach(async () => {
    await spawner.close();
    closeSync(out);
    rmSync(dir, { recursive: true, force: true });
  });

  const request = (script: string, overrides: Partial<SpawnRequest> = {}): SpawnRequest => ({
    file: '/bin/sh',
    args: ['-c', script, 'kiln-test'],
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', GREETING: 'hello' },
    stdin: 'ignore',
    stdout: out,
    stderr: out,
    detached: true,
    ...overrides,
  });
  const output = (): string => readFileSync(join(dir, 'out'), 'utf8');

  it('runs the command with exactly the given environment, directory and output', async () => {
    const child = await spawner.spawn(request('echo "$GREETING $HOME $(pwd)"; exit 3'));
    expect(await child.exited).toEqual({ code: 3, signal: null });
    expect(child.ended).toBe(true);
    expect(output()).toBe(`hello  ${dir}\n`);
  });

  it("gives the child's own stat, read before it could be reaped", async () => {
    const child = await spawner.spawn(request('read line', { stdin: 'pipe' }));
    const now = await readProcStat(child.pid);
    expect(child.stat).toMatchObject({ pid: child.pid, startTime: now?.startTime });
    // Its own session and group: the group's id is its pid.
    expect(now?.pgrp).toBe(child.pid);
    child.endStdin('\n');
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it('writes one line to the standard input and closes it', async () => {
    const child = await spawner.spawn(
      request('read line; echo "got $line"; cat; echo eof', { stdin: 'pipe' }),
    );
    child.endStdin('go\n');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(output()).toBe('got go\neof\n');
  });

  it('signals the whole process group while the child runs, and nothing once it is reaped', async () => {
    // The grandchild is in the group too: a signal to the leader alone would leave it.
    const child = await spawner.spawn(
      request('sleep 60 & echo $! > grandchild; wait', { stdin: 'ignore' }),
    );
    const grandchild = await vi.waitFor(() => {
      const pid = Number(readFileSync(join(dir, 'grandchild'), 'utf8'));
      if (!(pid > 0)) throw new Error('no grandchild yet');
      return pid;
    });
    expect(await child.signalGroup('SIGTERM')).toBe(true);
    expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });
    await vi.waitFor(async () => {
      const stat = await readProcStat(grandchild);
      expect(stat === undefined || stat.state === 'Z').toBe(true);
    });
    expect(await child.signalGroup('SIGKILL')).toBe(false);
  });

  it('fails the spawn of a program that is not there, naming why', async () => {
    const failure = spawner.spawn(request('', { file: join(dir, 'missing'), args: [] }));
    await expect(failure).rejects.toBeInstanceOf(SpawnError);
    await expect(failure).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('ends the children of a stopped thread lost, and spawns on a new thread afterwards', async () => {
    const running = await spawner.spawn(request('read line', { stdin: 'pipe' }));
    await spawner.close();
    expect(await running.exited).toEqual({ lost: true });
    expect(await running.signalGroup('SIGKILL')).toBe(false);
    // Its stdin closed with the thread, so it ends by itself (no longer watched).

    const next = await spawner.spawn(request('exit 0'));
    expect(await next.exited).toEqual({ code: 0, signal: null });
  });

  it('runs many children at once, each told its own exit', async () => {
    const children = await Promise.all(
      Array.from({ length: 20 }, (_, i) => spawner.spawn(request(`exit ${i}`))),
    );
    const exits = await Promise.all(children.map((child) => child.exited));
    expect(exits).toEqual(Array.from({ length: 20 }, (_, i) => ({ code: i, signal: null })));
  });
});
