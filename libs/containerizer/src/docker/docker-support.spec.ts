import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TempDirs } from '../testing/helpers';
import {
  canonicalImageName,
  diedBeforeStart,
  isImageReference,
  mergeUsage,
  cgroupCounter,
  limitFilesOf,
  registryHostOf,
  usageOfStats,
} from './docker-support';

describe(diedBeforeStart.name, () => {
  it("knows the engine's answer for a container whose init died before its command ran", () => {
    const answer = (statusCode: number, message: string) =>
      Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), {
        statusCode,
        json: { message },
      });
    expect(diedBeforeStart(answer(500, 'cannot start a stopped process: unknown'))).toBe(true);
    expect(
      diedBeforeStart(
        answer(500, 'OCI runtime start failed: container process is already dead: unknown'),
      ),
    ).toBe(true);
    expect(diedBeforeStart(answer(500, 'OCI runtime create failed: exec format error'))).toBe(
      false,
    );
    expect(diedBeforeStart(answer(404, 'cannot start a stopped process'))).toBe(false);
    expect(diedBeforeStart(new Error('cannot start a stopped process'))).toBe(false);
    expect(diedBeforeStart(undefined)).toBe(false);
  });
});

describe(registryHostOf.name, () => {
  it('reads the registry host as the engine does, Docker Hub when there is none', () => {
    expect(registryHostOf('busybox')).toBe('docker.io');
    expect(registryHostOf('library/busybox:1.36')).toBe('docker.io');
    expect(registryHostOf('127.0.0.1:5000/kiln-test/busybox:latest')).toBe('127.0.0.1:5000');
    expect(registryHostOf('registry.example.com/team/app')).toBe('registry.example.com');
    expect(registryHostOf('localhost/app')).toBe('localhost');
  });
});

describe(usageOfStats.name, () => {
  it('takes CPU seconds, memory without the page cache, and the peak', () => {
    expect(
      usageOfStats({
        cpu_stats: { cpu_usage: { total_usage: 1_500_000_000 } },
        memory_stats: { usage: 10_000, max_usage: 20_000, stats: { total_inactive_file: 4_000 } },
      }),
    ).toEqual({ cpuSeconds: 1.5, memBytes: 6_000, memPeakBytes: 20_000 });
  });

  it("says nothing for a stopped container's empty sample", () => {
    expect(usageOfStats({ cpu_stats: { cpu_usage: { total_usage: 0 } }, memory_stats: {} })).toBe(
      undefined,
    );
  });

  it('never lowers the peak', () => {
    expect(mergeUsage({ memPeakBytes: 9 }, { memBytes: 1, memPeakBytes: 2 })).toEqual({
      memBytes: 1,
      memPeakBytes: 9,
    });
  });
});

describe(isImageReference.name, () => {
  it('accepts references the engine accepts', () => {
    for (const image of [
      'busybox',
      'library/busybox:1.36',
      '127.0.0.1:5000/kiln-test/busybox:latest',
      'registry.example.com/team/app_x/web-server:v1.2.3-rc_1',
      'localhost/app',
      '[::1]:5000/app',
      `debian@sha256:${'a'.repeat(64)}`,
      `ghcr.io/acme/app:1@sha256:${'0'.repeat(64)}`,
    ]) {
      expect(isImageReference(image), image).toBe(true);
    }
  });

  it('refuses what would reach the engine as another path or host', () => {
    for (const image of [
      'a/../b',
      '::::/../etc/passwd@@',
      '',
      'BusyBox',
      'busybox:',
      'busybox@sha256:short',
      '/busybox',
      'busybox/',
      'a//b',
      'busybox:latest/json',
      'busybox?x=1',
      'busybox#frag',
      'busy box',
      `a${'/b'.repeat(130)}`,
      'busybox:' + 't'.repeat(129),
    ]) {
      expect(isImageReference(image), image).toBe(false);
    }
  });
});

describe(limitFilesOf.name, () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.removeAll());

  async function procWith(cgroup: string): Promise<string> {
    const proc = await dirs.make();
    await mkdir(join(proc, '42'));
    await writeFile(join(proc, '42', 'cgroup'), cgroup);
    return proc;
  }

  it("finds a container's pids and memory cgroups on a v1 (hybrid) host", async () => {
    const proc = await procWith(
      '12:pids:/docker/abc\n11:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n' +
        '1:name=systemd:/docker/abc\n0::/docker/abc\n',
    );
    expect(await limitFilesOf(42, 'abc', proc, '/cg')).toEqual({
      pids: '/cg/pids/docker/abc/pids.events',
      memory: '/cg/memory/docker/abc/memory.oom_control',
    });
  });

  it('finds them on a v2 host, and nothing for a process it cannot see', async () => {
    const proc = await procWith('0::/system.slice/docker-abc.scope\n');
    expect(await limitFilesOf(42, 'abc', proc, '/cg')).toEqual({
      pids: '/cg/system.slice/docker-abc.scope/pids.events',
      memory: '/cg/system.slice/docker-abc.scope/memory.events',
    });
    expect(await limitFilesOf(43, 'abc', proc, '/cg')).toEqual({});
  });

  it("takes nothing from a process that is not the container's (a reused pid)", async () => {
    const proc = await procWith('12:pids:/user.slice\n11:memory:/docker/other\n0::/user.slice\n');
    expect(await limitFilesOf(42, 'abc', proc, '/cg')).toEqual({});
  });

  it('reads the counters of flat keyed files', async () => {
    const dir = await dirs.make();
    await writeFile(join(dir, 'pids.events'), 'max 17\n');
    await writeFile(
      join(dir, 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
    );
    expect(await cgroupCounter(join(dir, 'pids.events'), 'max')).toBe(17);
    expect(await cgroupCounter(join(dir, 'memory.oom_control'), 'oom_kill')).toBe(3);
    expect(await cgroupCounter(join(dir, 'memory.oom_control'), 'oom')).toBeUndefined();
    expect(await cgroupCounter(join(dir, 'missing'), 'max')).toBeUndefined();
  });
});

describe(canonicalImageName.name, () => {
  // The engine looks a name it cannot find up again as a prefix of an image's id: `e` would run
  // whichever image the engine holds whose id starts with e, another project's private one.
  it.each([
    ['e', 'docker.io/library/e:latest'],
    ['deadbeef', 'docker.io/library/deadbeef:latest'],
    ['node:20', 'docker.io/library/node:20'],
    ['acme/app', 'docker.io/acme/app:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['127.0.0.1:5000/kiln-test/busybox:1', '127.0.0.1:5000/kiln-test/busybox:1'],
    [`alpine@sha256:${'a'.repeat(64)}`, `docker.io/library/alpine@sha256:${'a'.repeat(64)}`],
    [
      `alpine:3.19@sha256:${'0'.repeat(64)}`,
      `docker.io/library/alpine:3.19@sha256:${'0'.repeat(64)}`,
    ],
  ])('names %s in full: %s', (image, full) => {
    expect(canonicalImageName(image)).toBe(full);
  });
});
