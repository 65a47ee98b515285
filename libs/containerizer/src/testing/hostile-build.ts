import { withTimeout } from '@kiln/common';
import { resources } from '@kiln/contracts';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Containerizer, ContainerSpec, Termination } from '../containerizer';
import { workspaceOf } from '../containerizer';
import { eventually, exists, readIfExists, TempDirs, uniqueContainerId } from './helpers';

export interface HostileBuildOptions {
  /** A fresh containerizer for one test, and what undoes everything `setup` made. */
  setup(): Promise<{ containerizer: Containerizer; teardown: () => Promise<void> }>;
  /** Merged into every spec: e.g. the image docker runs the commands in. */
  spec?: Partial<ContainerSpec>;
}

/** Secrets of the fake server and agent data directories: a build must never print them. */
const SERVER_SECRET = `server-secret-${randomUUID()}`;
const AGENT_SECRET = `agent-task-token-${randomUUID()}`;
const OTHER_TASK_SECRET = `other-repository-secret-${randomUUID()}`;
const HOST_SERVICE_BANNER = `host-loopback-service-${randomUUID()}`;
const SOCKET_BANNER = `host-unix-socket-${randomUUID()}`;

/** Tasks run as shell with the tools of a Debian host: bash, curl, setpriv, util-linux. */
const ENVIRONMENT = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' };

/**
 * What an untrusted build tries in order to leave its container, as tests that every
 * containerizer claiming to isolate builds runs in its own `*.int-spec.ts`, as root:
 * `describeHostileBuilds('docker', { setup, spec: { image } })`. Each test launches one shell
 * command that attempts an escape and prints what it got, then asserts that the attempt failed,
 * from the task's output (the secrets it must not print) and its termination. The host side is
 * set up by the suite: fake server and agent data directories (in `/var/tmp` and in the host's
 * `/tmp`), a TCP service on 127.0.0.1 and a unix socket beside Docker's.
 */
export function describeHostileBuilds(title: string, options: HostileBuildOptions): void {
  describe(`${title} contains a hostile build`, () => {
    const dirs = new TempDirs();
    const launched: string[] = [];
    const id = randomUUID();
    const serverDir = join('/var/tmp', `kiln-hostile-${id}`, 'server');
    const agentDir = join(tmpdir(), `kiln-hostile-${id}`, 'agent');
    const unixSocket = join('/run', `kiln-hostile-${id}.sock`);
    const servers: Server[] = [];
    let tcpPort = 0;
    let containerizer: Containerizer;
    let teardown: () => Promise<void>;

    beforeAll(async () => {
      await mkdir(serverDir, { recursive: true, mode: 0o700 });
      await writeFile(join(serverDir, 'secret.key'), `${SERVER_SECRET}\n`, { mode: 0o600 });
      await writeFile(join(serverDir, 'api-token'), `${SERVER_SECRET}\n`, { mode: 0o600 });
      await mkdir(join(agentDir, 'meta', 'tasks'), { recursive: true, mode: 0o700 });
      await writeFile(
        join(agentDir, 'meta', 'tasks', 'task-1.json'),
        JSON.stringify({ environment: { KILN_TASK_TOKEN: AGENT_SECRET } }),
        { mode: 0o600 },
      );
      const tcp = createServer((socket) => socket.end(`${HOST_SERVICE_BANNER}\n`));
      const unix = createServer((socket) =>
        socket.end(
          `HTTP/1.0 200 OK\r\nContent-Length: ${SOCKET_BANNER.length}\r\n\r\n${SOCKET_BANNER}`,
        ),
      );
      servers.push(tcp, unix);
      await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => unix.listen(unixSocket, resolve));
      const address = tcp.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP port');
      tcpPort = address.port;
    });
    afterAll(async () => {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      await rm(join(serverDir, '..'), { recursive: true, force: true });
      await rm(join(agentDir, '..'), { recursive: true, force: true });
      await rm(unixSocket, { force: true });
    });
    beforeEach(async () => {
      ({ containerizer, teardown } = await options.setup());
    });
    afterEach(async () => {
      try {
        const ids = launched.splice(0);
        await withTimeout(Promise.all(ids.map((c) => containerizer.destroy(c))), 20_000);
      } finally {
        await teardown();
        await dirs.removeAll();
      }
    });

    async function specOf(
      command: string,
      overrides: Partial<ContainerSpec> = {},
    ): Promise<ContainerSpec> {
      const containerId = uniqueContainerId('hostile');
      launched.push(containerId);
      return {
        containerId,
        command: { shell: true, value: command },
        environment: ENVIRONMENT,
        sandbox: await dirs.make(),
        resources: resources({ cpus: 1, mem: 128 }),
        // A limit must end a bomb long before this: TIMEOUT would mean it did not.
        maxCompletionTimeMs: 120_000,
        ...options.spec,
        ...overrides,
      };
    }

    /** Runs the hostile command to its end: its termination and what it printed. */
    async function attempt(
      command: string,
      overrides: Partial<ContainerSpec> = {},
    ): Promise<{ termination: Termination; stdout: string; spec: ContainerSpec }> {
      const spec = await specOf(command, overrides);
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
      const termination = await containerizer.wait(spec.containerId);
      if (termination === undefined) throw new Error(`wait(${spec.containerId}) said unknown`);
      const stdout = (await readIfExists(join(spec.sandbox, 'stdout'))) ?? '';
      return { termination, stdout, spec };
    }

    it("cannot read the server's data directory, nor write beside it", async () => {
      const planted = join(serverDir, `planted-${randomUUID()}`);
      const { stdout } = await attempt(
        `cat '${serverDir}/secret.key' '${serverDir}/api-token'; ls '${serverDir}'; ` +
          `echo planted > '${planted}' && echo WROTE; echo done`,
      );
      expect(stdout).not.toContain(SERVER_SECRET);
      expect(stdout).not.toContain('WROTE');
      expect(stdout).toContain('done');
      expect(await exists(planted)).toBe(false);
    });

    it("cannot read the agent's data directory, not even after unmounting its /tmp", async () => {
      const { stdout } = await attempt(
        `cat '${agentDir}'/meta/tasks/*.json; umount -l /tmp; umount /tmp; ` +
          `cat '${agentDir}'/meta/tasks/*.json; echo done`,
      );
      expect(stdout).not.toContain(AGENT_SECRET);
      expect(stdout).toContain('done');
    });

    it("cannot read another running task's environment", async () => {
      const other = await specOf('echo up > ready; sleep 1000', {
        environment: { ...ENVIRONMENT, REPOSITORY_SECRET: OTHER_TASK_SECRET },
      });
      expect(await containerizer.launch(other)).toEqual({ status: 'launched' });
      await eventually('the other task runs', () =>
        exists(join(workspaceOf(other.sandbox), 'ready')),
      );
      const { stdout } = await attempt(
        // Under its own /proc may lie the host's.
        `umount -l /proc; cat /proc/[0-9]*/environ | tr '\\0' '\\n' | grep REPOSITORY_SECRET; ` +
          `cat '${other.sandbox}'/.* '${other.sandbox}'/*/* 2>/dev/null; echo done`,
      );
      expect(stdout).not.toContain(OTHER_TASK_SECRET);
      expect(stdout).toContain('done');
    });

    it('cannot raise its own cgroup limits nor leave its cgroup', async () => {
      // v1 (each controller its own hierarchy) and v2 (one): the task's own cgroup, then the
      // root; only where a cgroup filesystem is (a file made in a tmpfs raises nothing).
      const { stdout } = await attempt(
        [
          'for c in pids memory ""; do',
          '  path=$(sed -n "s/^[0-9]*:$c:\\(.*\\)/\\1/p" /proc/self/cgroup | head -n 1)',
          '  dir=/sys/fs/cgroup/$c$path; root=/sys/fs/cgroup/$c',
          '  [ -e "$dir/cgroup.procs" ] || continue',
          '  echo TRIED $dir',
          '  echo max 2>/dev/null > "$dir/pids.max" && echo RAISED pids.max',
          '  echo -1 2>/dev/null > "$dir/memory.limit_in_bytes" && echo RAISED memory.limit_in_bytes',
          '  echo max 2>/dev/null > "$dir/memory.max" && echo RAISED memory.max',
          '  [ -e "$root/cgroup.procs" ] && echo $$ 2>/dev/null > "$root/cgroup.procs" && echo LEFT to $root',
          'done',
          'echo done',
        ].join('\n'),
      );
      expect(stdout).toContain('TRIED');
      expect(stdout).not.toContain('RAISED');
      expect(stdout).not.toContain('LEFT');
      expect(stdout).toContain('done');
    });

    it("cannot reach the Docker socket or any of the host's unix sockets", async () => {
      const { stdout } = await attempt(
        `curl -s --max-time 5 --unix-socket /var/run/docker.sock http://docker/version; ` +
          `curl -s --max-time 5 --unix-socket '${unixSocket}' http://host/; echo; echo done`,
      );
      expect(stdout).not.toContain('ApiVersion');
      expect(stdout).not.toContain(SOCKET_BANNER);
      expect(stdout).toContain('done');
    });

    it('cannot mount, chroot or nsenter its way to the host', async () => {
      const { stdout } = await attempt(
        [
          'mkdir -p m',
          'mount -t tmpfs none m 2>/dev/null && echo MOUNTED tmpfs',
          'mount --bind / m 2>/dev/null && echo MOUNTED root',
          `nsenter -t 1 -m -u -i -n -p cat '${serverDir}/secret.key'`,
          `nsenter --all -t 1 cat '${serverDir}/secret.key'`,
          `chroot /proc/1/root cat '${serverDir}/secret.key'`,
          `unshare -m -U -r sh -c "mount -t tmpfs none /tmp && echo MOUNTED in a new namespace"`,
          'echo done',
        ].join('\n'),
      );
      expect(stdout).not.toContain(SERVER_SECRET);
      expect(stdout).not.toContain('MOUNTED');
      expect(stdout).toContain('done');
    });

    it("cannot connect to a service on the host's 127.0.0.1, directly or through the gateway", async () => {
      const { stdout } = await attempt(
        `for h in 127.0.0.1 10.0.2.2; do timeout 5 bash -c "exec 3<>/dev/tcp/$h/${tcpPort}; cat <&3"; done; echo done`,
      );
      expect(stdout).not.toContain(HOST_SERVICE_BANNER);
      expect(stdout).toContain('done');
    });

    it("cannot read the host's /etc/shadow or /root", async () => {
      const { stdout } = await attempt('cat /etc/shadow; echo; ls -A /root; echo done');
      expect(stdout).not.toMatch(/^root:/m);
      expect(stdout.trim()).toBe('done');
    });

    it("cannot leave a file in the host's /dev/shm, /etc or /var/tmp", async () => {
      const name = `kiln-hostile-${randomUUID()}`;
      await attempt(
        `echo x > /dev/shm/${name}; echo x > /etc/${name}; echo x > /var/tmp/${name}; true`,
      );
      for (const dir of ['/dev/shm', '/etc', '/var/tmp']) {
        expect(await exists(join(dir, name))).toBe(false);
      }
    });

    it('gains nothing from a setuid binary', async () => {
      // Root in its container makes a setuid-root copy of `id`, then runs it as nobody.
      const { stdout } = await attempt(
        'cp "$(command -v id)" ./id-setuid && chmod 4755 ./id-setuid; ' +
          'setpriv --reuid=65534 --regid=65534 --clear-groups ./id-setuid -u',
      );
      expect(stdout).toBe('65534\n');
    });

    it('ends a fork bomb within seconds with CONTAINER_LIMITATION_PIDS', async () => {
      const { termination } = await attempt('bomb() { bomb | bomb & }; bomb; sleep 1000');
      expect(termination).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'CONTAINER_LIMITATION_PIDS',
      });
    });

    it('ends a memory hog within seconds with CONTAINER_LIMITATION_MEMORY', async () => {
      // tail keeps its last line, and /dev/zero has none: it holds all it reads. The script goes
      // on after the OOM killer ended tail: only the containerizer can end it in time.
      const { termination } = await attempt('head -c 1G /dev/zero | tail; sleep 1000', {
        resources: resources({ cpus: 1, mem: 64 }),
      });
      expect(termination).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'CONTAINER_LIMITATION_MEMORY',
      });
    });
  });
}
