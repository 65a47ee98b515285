import { spawn as spawnProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseProcStat, readProcStatSync } from './proc';
import { WrapperLauncher } from './wrapper-launcher';

describe(WrapperLauncher.name, () => {
  let dir: string;
  let output: number;
  const launcher = new WrapperLauncher();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-launcher-'));
    output = openSync(join(dir, 'output'), 'a');
  });
  afterEach(() => {
    closeSync(output);
    rmSync(dir, { recursive: true, force: true });
  });

  const spawn = (script: string) =>
    launcher.spawn({
      args: ['-c', script],
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      stdio: [output, output, output],
    });

  it("spawns from a process of its own, with the wrapper's own stat read before it could be reaped", async () => {
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
    const refused = launcher.spawn({
      args: ['-c', 'true'],
      cwd: join(dir, 'missing'),
      env: {},
      stdio: [output, output, output],
    });
    await expect(refused).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('dies with its agent: a wrapper still waiting for its go reads nothing and runs nothing', async () => {
    const root = resolve(__dirname, '../../../..');
    const agent = spawnProcess(
      process.execPath,
      ['--import', 'tsx', resolve(__dirname, '../testing/launching-agent.ts'), dir],
      // tsx reads tsconfig.json's paths from the working directory.
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
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
