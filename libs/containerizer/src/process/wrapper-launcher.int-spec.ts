import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseProcStat } from './proc';
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

  it("spawns on its thread, with the wrapper's own stat read before it could be reaped", async () => {
    const wrapper = await spawn('read -r go; echo "$go $$ in $PWD"; exit 3');
    expect(parseProcStat(wrapper.stat ?? '')?.pid).toBe(wrapper.pid);
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
});
