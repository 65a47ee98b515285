import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enableControllers, TaskCgroup } from './cgroups';
import { CONTROLLER_NAMES, CONTROLLERS, cfsQuotaUs, keyedValue } from './controllers';
import { detectCgroups, v1Hierarchies } from './detect';

/** A directory tree standing in for `/sys/fs/cgroup`: cgroup files are plain files here. */
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiln-fake-cgroup-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const read = (...path: string[]) => readFile(join(root, ...path), 'utf8');

async function fakeV2Cgroup(files: Record<string, string> = {}): Promise<TaskCgroup> {
  const cgroup = new TaskCgroup('v2', root, 'kiln/task-1', []);
  await mkdir(cgroup.dir('memory'), { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(cgroup.dir('memory'), name), text);
  }
  return cgroup;
}

async function fakeV1Cgroup(files: Record<string, string> = {}): Promise<TaskCgroup> {
  const cgroup = new TaskCgroup('v1', root, 'kiln/task-1', v1Hierarchies(CONTROLLER_NAMES));
  for (const dir of cgroup.dirs()) await mkdir(dir, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    await writeFile(join(root, path.replace('/', '/kiln/task-1/')), text);
  }
  return cgroup;
}

const limits = { cpus: 1.5, memMiB: 32, pidsMax: 64 };

describe('cgroup v2 controllers', () => {
  it('write the CPU quota, the memory limit and the pids limit into the one cgroup', async () => {
    const cgroup = await fakeV2Cgroup();
    for (const name of CONTROLLER_NAMES) await CONTROLLERS[name]('v2').apply(cgroup, limits);
    expect(await read('kiln/task-1/cpu.max')).toBe('150000 100000');
    expect(await read('kiln/task-1/memory.max')).toBe(String(32 * 1024 * 1024));
    expect(await read('kiln/task-1/pids.max')).toBe('64');
  });

  it('write no limit that the task has none of', async () => {
    const cgroup = await fakeV2Cgroup();
    for (const name of CONTROLLER_NAMES) await CONTROLLERS[name]('v2').apply(cgroup, {});
    await expect(read('kiln/task-1/cpu.max')).rejects.toThrow();
    await expect(read('kiln/task-1/memory.max')).rejects.toThrow();
  });

  it('measure CPU time from cpu.stat and memory from memory.current and memory.peak', async () => {
    const cgroup = await fakeV2Cgroup({
      'cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n',
      'memory.current': '1048576\n',
      'memory.peak': '4194304\n',
    });
    expect(await CONTROLLERS.cpu('v2').measure(cgroup)).toEqual({ cpuSeconds: 2.5 });
    expect(await CONTROLLERS.memory('v2').measure(cgroup)).toEqual({
      memBytes: 1048576,
      memPeakBytes: 4194304,
    });
  });

  it('leave the peak out where the kernel has no memory.peak', async () => {
    const cgroup = await fakeV2Cgroup({ 'memory.current': '8192\n' });
    expect(await CONTROLLERS.memory('v2').measure(cgroup)).toEqual({ memBytes: 8192 });
  });

  it('tell an OOM kill from memory.events and refused forks from pids.events', async () => {
    const hit = await fakeV2Cgroup({
      'memory.events': 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n',
      'pids.events': 'max 3\n',
    });
    expect(await CONTROLLERS.memory('v2').limitation(hit)).toBe('CONTAINER_LIMITATION_MEMORY');
    expect(await CONTROLLERS.pids('v2').limitation(hit)).toBe('CONTAINER_LIMITATION_PIDS');
    await writeFile(join(hit.dir('memory'), 'memory.events'), 'max 12\noom 0\noom_kill 0\n');
    await writeFile(join(hit.dir('memory'), 'pids.events'), 'max 0\n');
    expect(await CONTROLLERS.memory('v2').limitation(hit)).toBeUndefined();
    expect(await CONTROLLERS.pids('v2').limitation(hit)).toBeUndefined();
  });

  it('kill the whole cgroup through cgroup.kill, and remove its one directory', async () => {
    const cgroup = await fakeV2Cgroup({ 'cgroup.procs': '' });
    expect(cgroup.procsFiles()).toEqual([join(root, 'kiln/task-1/cgroup.procs')]);
    await cgroup.killAll();
    expect(await read('kiln/task-1/cgroup.kill')).toBe('1');
    await rm(join(cgroup.dir('memory'), 'cgroup.procs'));
    await rm(join(cgroup.dir('memory'), 'cgroup.kill'));
    await cgroup.remove();
    expect(await cgroup.exists()).toBe(false);
    await cgroup.remove();
  });

  it('enable the controllers for the children of every level of the parent', async () => {
    await writeFile(join(root, 'cgroup.subtree_control'), 'cpu memory pids');
    await enableControllers(root, 'agents/kiln', ['cpu', 'memory', 'pids']);
    expect(await read('agents/cgroup.subtree_control')).toBe('+cpu +memory +pids');
    expect(await read('agents/kiln/cgroup.subtree_control')).toBe('+cpu +memory +pids');
    // What is enabled already is not written again: only what is missing.
    await writeFile(join(root, 'agents/kiln/cgroup.subtree_control'), 'cpu pids\n');
    await enableControllers(root, 'agents/kiln', ['cpu', 'memory', 'pids']);
    expect(await read('agents/kiln/cgroup.subtree_control')).toBe('+memory');
  });
});

describe('cgroup v1 controllers', () => {
  it('write each limit into its own hierarchy', async () => {
    const cgroup = await fakeV1Cgroup();
    for (const name of CONTROLLER_NAMES) await CONTROLLERS[name]('v1').apply(cgroup, limits);
    expect(await read('cpu/kiln/task-1/cpu.cfs_period_us')).toBe('100000');
    expect(await read('cpu/kiln/task-1/cpu.cfs_quota_us')).toBe('150000');
    expect(await read('memory/kiln/task-1/memory.limit_in_bytes')).toBe(String(32 * 1024 * 1024));
    expect(await read('pids/kiln/task-1/pids.max')).toBe('64');
  });

  it('measure CPU time from cpuacct.usage and memory from the memory hierarchy', async () => {
    const cgroup = await fakeV1Cgroup({
      'cpuacct/cpuacct.usage': '1500000000\n',
      'memory/memory.usage_in_bytes': '4096\n',
      'memory/memory.max_usage_in_bytes': '65536\n',
    });
    expect(await CONTROLLERS.cpu('v1').measure(cgroup)).toEqual({ cpuSeconds: 1.5 });
    expect(await CONTROLLERS.memory('v1').measure(cgroup)).toEqual({
      memBytes: 4096,
      memPeakBytes: 65536,
    });
  });

  it('tell an OOM kill from memory.oom_control, or from memory.failcnt on old kernels', async () => {
    const killed = await fakeV1Cgroup({
      'memory/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
    });
    expect(await CONTROLLERS.memory('v1').limitation(killed)).toBe('CONTAINER_LIMITATION_MEMORY');
    await writeFile(
      join(killed.dir('memory'), 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\n',
    );
    await writeFile(join(killed.dir('memory'), 'memory.failcnt'), '0\n');
    expect(await CONTROLLERS.memory('v1').limitation(killed)).toBeUndefined();
    await writeFile(join(killed.dir('memory'), 'memory.failcnt'), '7\n');
    expect(await CONTROLLERS.memory('v1').limitation(killed)).toBe('CONTAINER_LIMITATION_MEMORY');
  });

  it('join every hierarchy, the freezer included, and remove the cgroup from each', async () => {
    const cgroup = await fakeV1Cgroup();
    expect(cgroup.procsFiles()).toEqual(
      ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'].map((h) =>
        join(root, h, 'kiln/task-1/cgroup.procs'),
      ),
    );
    await cgroup.remove();
    expect(await cgroup.exists()).toBe(false);
  });
});

describe('cfsQuotaUs', () => {
  it('gives cpus × 100 ms per period, and never less than 1 ms', () => {
    expect(cfsQuotaUs(1)).toBe(100_000);
    expect(cfsQuotaUs(0.25)).toBe(25_000);
    expect(cfsQuotaUs(0.001)).toBe(1_000);
  });
});

describe('keyedValue', () => {
  it('reads the number of one key of a flat-keyed file, and nothing of a longer key', () => {
    expect(keyedValue('oom 2\noom_kill 1\n', 'oom')).toBe(2);
    expect(keyedValue('oom 2\noom_kill 1\n', 'oom_kill')).toBe(1);
    expect(keyedValue('oom_kill 1\n', 'oom')).toBeUndefined();
    expect(keyedValue(undefined, 'oom')).toBeUndefined();
  });
});

describe('detectCgroups', () => {
  /** Detection of the fake tree, with a seccomp profile of the right shape beside it. */
  async function detect() {
    const seccompProfile = join(root, 'seccomp.json');
    await writeFile(
      seccompProfile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
      }),
    );
    return detectCgroups({ root, requireRoot: false, seccompProfile });
  }

  it('takes a root with cgroup.controllers for v2, if it hands the controllers down', async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    await writeFile(join(root, 'cgroup.subtree_control'), 'cpu memory\n');
    expect(await detect()).toEqual({
      supported: false,
      reason: expect.stringContaining('pids') as string,
    });
    await writeFile(join(root, 'cgroup.subtree_control'), 'cpu memory pids\n');
    expect(await detect()).toMatchObject({
      supported: true,
      version: 'v2',
      root,
    });
  });

  it("offers nothing without Docker's seccomp profile, naming the file and where it comes from", async () => {
    await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    await writeFile(join(root, 'cgroup.subtree_control'), 'cpu memory pids\n');
    const missing = join(root, 'no-such-profile.json');
    expect(await detectCgroups({ root, requireRoot: false, seccompProfile: missing })).toEqual({
      supported: false,
      reason: expect.stringMatching(
        new RegExp(`seccomp profile ${missing} cannot be read.*golang-github-docker-docker-dev`),
      ) as string,
    });
  });

  it('takes v1 when every hierarchy is there, and says which one is missing', async () => {
    for (const hierarchy of ['cpu', 'cpuacct', 'memory', 'pids']) {
      await mkdir(join(root, hierarchy));
      await writeFile(join(root, hierarchy, 'cgroup.procs'), '');
    }
    expect(await detect()).toEqual({
      supported: false,
      reason: expect.stringContaining('freezer') as string,
    });
    await mkdir(join(root, 'freezer'));
    await writeFile(join(root, 'freezer', 'cgroup.procs'), '');
    expect(await detect()).toMatchObject({
      supported: true,
      version: 'v1',
    });
  });
});
