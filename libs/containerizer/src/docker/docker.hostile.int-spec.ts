import { withTimeout } from '@kiln/common';
import { resources } from '@kiln/contracts';
import {
  eventually,
  exists,
  readIfExists,
  TempDirs,
  uniqueContainerId,
} from '@kiln/containerizer/testing';
import Docker from 'dockerode';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { workspaceOf, type ContainerSpec, type Termination } from '../containerizer';
import { DockerContainerizer, LABELS } from './docker.containerizer';

/*
 * A hostile build, as an outside tester tried it (issue 12), against the Docker containerizer:
 * each test is one escape a build of a fork's pull request would attempt, and asserts that it
 * failed and what the task's output and end say. Run as root, like the agent.
 */

const IMAGE = 'kiln-test/busybox:latest';
const OWNER = `test-${randomUUID()}`;
const docker = new Docker();
const run = promisify(execFile);

describe(`${DockerContainerizer.name} against a hostile build`, () => {
  const dirs = new TempDirs();
  const containerizer = new DockerContainerizer({ owner: OWNER, pidsLimit: 128 });
  const launched: string[] = [];

  afterEach(async () => {
    try {
      await withTimeout(
        Promise.all(launched.splice(0).map((id) => containerizer.destroy(id))),
        30_000,
      );
    } finally {
      await dirs.removeAll();
    }
  });

  afterAll(async () => {
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.owner}=${OWNER}`] },
    });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    expect(left).toEqual([]);
  });

  async function specOf(script: string, overrides: Partial<ContainerSpec> = {}) {
    const containerId = uniqueContainerId('hostile');
    launched.push(containerId);
    const spec: ContainerSpec = {
      containerId,
      command: { shell: true, value: script },
      environment: { PATH: '/bin' },
      sandbox: await dirs.make(),
      resources: resources({ cpus: 0.5, mem: 64 }),
      image: IMAGE,
      ...overrides,
    };
    return spec;
  }

  /** Runs a build's script to its end: its termination and its output (stdout and stderr). */
  async function build(
    script: string,
    overrides: Partial<ContainerSpec> = {},
  ): Promise<{ termination: Termination; output: string; spec: ContainerSpec }> {
    const spec = await specOf(`exec 2>&1; ${script}`, overrides);
    expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    const termination = await containerizer.wait(spec.containerId);
    if (termination === undefined) throw new Error(`${spec.containerId} is unknown`);
    const output = (await readIfExists(join(spec.sandbox, 'stdout'))) ?? '';
    return { termination, output, spec };
  }

  it("cannot read the agent's or the server's data directory", async () => {
    const dataDir = await dirs.make('kiln-data-');
    await writeFile(join(dataDir, 'secret.key'), 'host-secret-value\n');
    const { output } = await build(`cat ${dataDir}/secret.key; ls ${dataDir}`);
    expect(output).toContain('No such file or directory');
    expect(output).not.toContain('host-secret-value');
  });

  it("cannot read another running task's environment", async () => {
    const other = await specOf('echo up > ready; sleep 1000', {
      environment: { PATH: '/bin', OTHER_SECRET: 'other-task-secret-value' },
    });
    expect(await containerizer.launch(other)).toEqual({ status: 'launched' });
    await eventually('the other task is up', () =>
      exists(join(workspaceOf(other.sandbox), 'ready')),
    );
    const { output } = await build(
      "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done; ls /proc | grep -c '^[0-9]'",
    );
    expect(output).not.toContain('other-task-secret-value');
  });

  it('cannot reach the Docker socket', async () => {
    const { output } = await build(
      'for s in /var/run/docker.sock /run/docker.sock; do ls -l $s; done; ' +
        'find / -xdev -type s 2>/dev/null | grep -c docker',
    );
    expect(output).not.toMatch(/^s.*docker\.sock/m);
    expect(output.match(/No such file or directory/g)).toHaveLength(2);
    expect(output.trim().split('\n').at(-1)).toBe('0');
  });

  describe('with a TCP server on the host loopback', () => {
    let server: Server;
    let port: number;
    let connections = 0;

    beforeAll(async () => {
      server = createServer((socket) => {
        connections += 1;
        socket.end('hello-from-the-host\n');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      port = address.port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("cannot connect to it, directly or through the gateway: a task has no network of the host's", async () => {
      const { output } = await build(
        `for h in 127.0.0.1 10.0.2.2; do nc -w 2 $h ${port} </dev/null && echo connected || echo "refused $h"; done; ` +
          "ip -o link | cut -d: -f2 | tr -d ' '",
      );
      expect(output).toContain('refused 127.0.0.1');
      // slirp4netns's gateway, which is the host's loopback unless disabled.
      expect(output).toContain('refused 10.0.2.2');
      expect(output).not.toContain('hello-from-the-host');
      // Its own loopback and slirp4netns's tap device: no interface of the host's.
      expect(output).toMatch(/^lo\ntap0\n$/m);
      expect(connections).toBe(0);
    });
  });

  // The holder runs the task's image, whose /bin/sh is the build's to choose: it runs from the
  // holder's start, before the task does.
  it("cannot reach the host's loopback from its image's own code in its network holder", async () => {
    const received: string[] = [];
    const listener = createSocket('udp4', (message) => received.push(message.toString()));
    await new Promise<void>((resolve) => listener.bind(0, '127.0.0.1', resolve));
    const dir = await dirs.make('holder-probe-');
    const tag = `kiln-test/holder-probe:${randomUUID()}`;
    try {
      await run('gcc', [
        '-static',
        '-O1',
        '-o',
        join(dir, 'sh'),
        join(__dirname, 'testing', 'holder-probe.c'),
      ]);
      await writeFile(
        join(dir, 'Dockerfile'),
        `FROM ${IMAGE}\nRUN rm /bin/sh\nCOPY sh /bin/sh\nENV PROBE_PORT=${listener.address().port}\n`,
      );
      await run('docker', ['build', '-q', '-t', tag, dir]);
      const { termination } = await build('echo ran', { image: tag });
      expect(termination).toMatchObject({ state: 'TASK_FINISHED' });
      expect(received).toEqual([]);
    } finally {
      listener.close();
      await docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  it('cannot mount, chroot, nsenter or unshare its way to the host', async () => {
    const { output } = await build(
      'mkdir -p /tmp/m; mount -t tmpfs none /tmp/m; echo "mount=$?"; ' +
        'mount -t proc proc /tmp/m; echo "proc=$?"; ' +
        'chroot / true; echo "chroot=$?"; ' +
        'nsenter -t 1 -m -p true; echo "nsenter=$?"; ' +
        'unshare -m -U true; echo "unshare=$?"',
    );
    for (const attempt of ['mount', 'proc', 'chroot', 'nsenter', 'unshare']) {
      expect(output).toMatch(new RegExp(`^${attempt}=[1-9]`, 'm'));
    }
    expect(output).toMatch(/Operation not permitted|Permission denied/);
  });

  it('cannot raise its own cgroup limits', async () => {
    const { output } = await build(
      'for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max ' +
        '/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do ' +
        '[ -e $f ] && { echo max > $f && echo "raised $f"; }; done; echo tried',
    );
    expect(output).toContain('Read-only file system');
    expect(output).not.toContain('raised');
  });

  it("cannot read the host's /etc/shadow", async () => {
    const hostShadow = await readFile('/etc/shadow', 'utf8');
    const rootLine = hostShadow.split('\n').find((line) => line.startsWith('root:'));
    expect(rootLine).toBeDefined();
    const { output } = await build('cat /etc/shadow; ls /root');
    expect(output).not.toContain(rootLine);
  });

  it("leaves no file in the host's /dev/shm", async () => {
    const name = `kiln-hostile-${randomUUID()}`;
    try {
      const { output } = await build(
        `dd if=/dev/zero of=/dev/shm/${name} bs=1024 count=1024 2>/dev/null && echo written`,
      );
      expect(output).toContain('written');
      expect(await exists(join('/dev/shm', name))).toBe(false);
    } finally {
      await rm(join('/dev/shm', name), { force: true });
    }
  });

  it('cannot change its image for later tasks: the root filesystem is read-only', async () => {
    const { output } = await build(
      'touch /bin/planted; echo "root=$?"; echo ok > /tmp/scratch && echo "tmp=$?"; ' +
        'echo ok > /dev/shm/scratch && echo "shm=$?"; echo ok > here && echo "workspace=$?"',
    );
    expect(output).toContain('Read-only file system');
    expect(output).toMatch(/^root=1$/m);
    expect(output).toMatch(/^tmp=0$/m);
    expect(output).toMatch(/^shm=0$/m);
    expect(output).toMatch(/^workspace=0$/m);
  });

  it('gains no privileges from a setuid binary (no-new-privileges)', async () => {
    const spec = await specOf('');
    // A static program that does not drop privileges itself (busybox would): the files it
    // writes are owned by whoever it runs as. Debian's ldconfig is a static PIE.
    await mkdir(workspaceOf(spec.sandbox));
    await copyFile('/sbin/ldconfig', join(workspaceOf(spec.sandbox), 'ldconfig'));
    const { output } = await build(
      'chmod 4755 ldconfig && mkdir -m 777 out && : > empty.conf && ' +
        'su -s /bin/sh nobody -c "./ldconfig -C out/cache -f empty.conf; stat -c owner=%u out/cache"',
      { sandbox: spec.sandbox },
    );
    expect(output).toMatch(/^owner=65534$/m);
  });

  it('ends a fork bomb promptly with CONTAINER_LIMITATION_PIDS', async () => {
    const { termination, output } = await build(
      'echo bombing; f() { f | f & }; f; while :; do sleep 1; done',
      // Were the bomb left to its timeout, the reason would say TIMEOUT.
      { maxCompletionTimeMs: 20_000 },
    );
    expect(termination).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'CONTAINER_LIMITATION_PIDS',
    });
    expect(termination.message).toContain('128 processes');
    expect(output).toContain('bombing');
  });

  it('ends a memory hog with CONTAINER_LIMITATION_MEMORY, even one that outlives its OOM kill', async () => {
    const { termination, output } = await build(
      // The OOM killer ends each `tail`, never the shell: the build itself would go on forever.
      'echo hogging; while :; do tail /dev/zero; done',
      // Were the hog left to its timeout, the reason would say TIMEOUT.
      { resources: resources({ cpus: 0.5, mem: 32 }), maxCompletionTimeMs: 20_000 },
    );
    expect(termination).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'CONTAINER_LIMITATION_MEMORY',
    });
    expect(termination.message).toContain('32 MiB');
    expect(output).toContain('hogging');
  });
});
