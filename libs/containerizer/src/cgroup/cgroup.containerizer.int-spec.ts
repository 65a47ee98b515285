import { deferred, withTimeout } from '@kiln/common';
import { resources } from '@kiln/contracts';
import {
  describeContainerizerContract,
  eventually,
  exists,
  expectNoMoreWrites,
  isAlive,
  readIfExists,
  TempDirs,
  uniqueContainerId,
} from '@kiln/containerizer/testing';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { workspaceOf, type ContainerSpec, type LaunchResult } from '../containerizer';
import { EXIT_CODE_FILE } from '../launching';
import { killEarlierShim } from './shim';
import { CgroupContainerizer, type CgroupContainerizerOptions } from './cgroup.containerizer';
import { detectCgroups, v1Hierarchies } from './detect';
import { CONTROLLER_NAMES } from './controllers';
import { CGROUP_ROOT, testCgroupParent } from './test-parent.fixture';

const ROOT = resolve(__dirname, '../../../..');

const TEST_PARENT = testCgroupParent();
const PARENT = TEST_PARENT.parent;
const HIERARCHIES = v1Hierarchies(CONTROLLER_NAMES);

/** These tests need root and cgroup v1, as on the CI hosts; {@link detectCgroups} says more. */

/** The directories of a cgroup under the test parent in every v1 hierarchy. */
function cgroupDirs(name?: string): string[] {
  return HIERARCHIES.map((h) =>
    join(CGROUP_ROOT, h, PARENT, ...(name === undefined ? [] : [name])),
  );
}

async function anyExists(paths: readonly string[]): Promise<boolean> {
  return (await Promise.all(paths.map(exists))).some(Boolean);
}

/** The pids in a container's cgroup, as the host sees them. */
async function cgroupPids(containerId: string): Promise<number[]> {
  const text = await readIfExists(
    join(CGROUP_ROOT, 'freezer', PARENT, containerId, 'cgroup.procs'),
  );
  return (text ?? '')
    .split('\n')
    .filter((line) => line !== '')
    .map(Number);
}

afterAll(() => TEST_PARENT.remove());

describe('cgroup containerizer on this host', () => {
  // These tests need root and cgroup v1 hierarchies (Kiln's test machines): a host without them
  // fails here, naming why, rather than skipping.
  beforeAll(async () => {
    const detection = await detectCgroups();
    if (!detection.supported)
      throw new Error(`cannot test the cgroup containerizer: ${detection.reason}`);
  });

  describeContainerizerContract(CgroupContainerizer.name, {
    setup() {
      return Promise.resolve({
        containerizer: new CgroupContainerizer({ parent: PARENT, defaultGracePeriodMs: 1_000 }),
        teardown: () => Promise.resolve(),
      });
    },
  });

  describe(CgroupContainerizer.name, () => {
    const dirs = new TempDirs();
    const containerizers: CgroupContainerizer[] = [];
    const launched: string[] = [];

    afterEach(async () => {
      try {
        const ids = launched.splice(0);
        const destroyed = containerizers.splice(0).flatMap((c) => ids.map((id) => c.destroy(id)));
        await withTimeout(Promise.all(destroyed), 20_000);
        // Whatever a failed test left: an orphan hunt of a fresh containerizer removes it.
        await new CgroupContainerizer({ parent: PARENT }).recover([]);
      } finally {
        await dirs.removeAll();
      }
    });

    function newContainerizer(options: CgroupContainerizerOptions = {}): CgroupContainerizer {
      const containerizer = new CgroupContainerizer({
        parent: PARENT,
        defaultGracePeriodMs: 500,
        ...options,
      });
      containerizers.push(containerizer);
      return containerizer;
    }

    async function specOf(
      command: string | ContainerSpec['command'],
      overrides: Partial<ContainerSpec> = {},
    ): Promise<ContainerSpec> {
      const containerId = uniqueContainerId('cgroup');
      launched.push(containerId);
      return {
        containerId,
        command: typeof command === 'string' ? { shell: true, value: command } : command,
        environment: { PATH: '/usr/bin:/bin' },
        sandbox: await dirs.make(),
        resources: resources({ cpus: 0.5, mem: 64 }),
        ...overrides,
      };
    }

    async function start(containerizer: CgroupContainerizer, spec: ContainerSpec) {
      expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
    }

    /** A file the task wrote where it works. */
    const written = (spec: ContainerSpec, file: string) =>
      readIfExists(join(workspaceOf(spec.sandbox), file));
    const ready = (spec: ContainerSpec, file = 'ready') =>
      eventually(`${file} written by the task`, () =>
        exists(join(workspaceOf(spec.sandbox), file)),
      );

    it('is detected as runnable here, with cgroup v1', async () => {
      expect(await CgroupContainerizer.detect()).toMatchObject({ supported: true, version: 'v1' });
    });

    it('cannot run images, and says so', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf('true', { image: 'busybox' });
      expect(await containerizer.launch(spec)).toEqual({
        status: 'not-supported',
        reason: 'the cgroup containerizer cannot run images; docker is needed',
      });
    });

    it('fails a task over its memory limit with CONTAINER_LIMITATION_MEMORY', async () => {
      const containerizer = newContainerizer();
      // tail keeps the last line, and /dev/zero has no line ends: it holds all 200 MiB.
      const spec = await specOf('head -c 200m /dev/zero | tail', {
        resources: resources({ cpus: 1, mem: 32 }),
      });
      await start(containerizer, spec);
      const termination = await containerizer.wait(spec.containerId);
      expect(termination).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'CONTAINER_LIMITATION_MEMORY',
      });
      expect(termination?.message).toContain('32 MiB');
      await containerizer.destroy(spec.containerId);
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
    });

    it('ends a fork bomb at its pids limit with CONTAINER_LIMITATION_PIDS, leaving nothing', async () => {
      const containerizer = newContainerizer({ pidsMax: 64 });
      // Far longer than the test may take: only the pids limit can end the task in time.
      const spec = await specOf('bomb() { bomb | bomb & }; bomb; sleep 1000', {
        maxCompletionTimeMs: 600_000,
      });
      await start(containerizer, spec);
      const pidsDir = join(CGROUP_ROOT, 'pids', PARENT, spec.containerId);
      await eventually('the bomb hits the pids limit', async () => {
        const events = await readIfExists(join(pidsDir, 'pids.events'));
        return /^max [1-9]/m.test(events ?? '');
      });
      expect(await readIfExists(join(pidsDir, 'pids.max'))).toBe('64\n');
      const pids = await cgroupPids(spec.containerId);
      // The agent stays healthy: it can still start processes of its own.
      await promisify(execFile)('/bin/true');
      const termination = await containerizer.wait(spec.containerId);
      expect(termination).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'CONTAINER_LIMITATION_PIDS',
      });
      expect(termination?.message).toContain('64 processes');
      await containerizer.destroy(spec.containerId);
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
      for (const pid of pids) expect(await isAlive(pid)).toBe(false);
    });

    it('makes the container while the workspace is prepared, and gives what is put there to its root', async () => {
      const containerizer = newContainerizer();
      const workspaceReady = deferred();
      const spec = await specOf("stat -c '%u %g' checked-out; cat checked-out", {
        ready: workspaceReady.promise,
      });
      const launch = containerizer.launch(spec);
      // runc has made the container (its cgroup) and holds it at the gate: the checkout runs now.
      await eventually('the container made', () => anyExists(cgroupDirs(spec.containerId)));
      await writeFile(join(workspaceOf(spec.sandbox), 'checked-out'), 'source\n');
      workspaceReady.resolve();
      expect(await launch).toEqual({ status: 'launched' });
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ exitCode: 0 });
      // The container's root owns it (a host root's file would show as the overflow id).
      expect(await readFile(join(spec.sandbox, 'stdout'), 'utf8')).toBe('0 0\nsource\n');
    });

    it('never starts a container made before its workspace failed, and leaves nothing of it', async () => {
      const containerizer = newContainerizer();
      const workspaceReady = deferred();
      const spec = await specOf('echo ran > ran', { ready: workspaceReady.promise });
      const launch = containerizer.launch(spec);
      // Its user-mode network runs: runc has made it up to the gate.
      const network = join('/run/kiln/cgroup', PARENT, 'network', `${spec.containerId}.pid`);
      let helper = 0;
      await eventually('the network helper started', async () => {
        helper = Number((await readIfExists(network))?.trim());
        return helper > 0 && (await isAlive(helper));
      });
      workspaceReady.reject(new Error('the checkout failed'));
      await expect(launch).rejects.toThrow(/not started.*the checkout failed/);
      expect(await written(spec, 'ran')).toBeUndefined();
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
      expect(await exists(join('/run/kiln/cgroup', PARENT, 'runc', spec.containerId))).toBe(false);
      // It is sent SIGTERM, which it takes a moment to act on: it goes, it is not waited for.
      await eventually('the network helper gone', async () => !(await isAlive(helper)));
    });

    it('never starts a container whose launcher was lost at its gate, and ends the launch', async () => {
      const containerizer = newContainerizer();
      const workspaceReady = deferred();
      const spec = await specOf('echo ran > ran', { ready: workspaceReady.promise });
      const launch = containerizer.launch(spec);
      await eventually('the container made', () => anyExists(cgroupDirs(spec.containerId)));
      // The launcher that started the shim (its parent) dies alone; the agent lives on.
      const shim = await shimOf(spec.containerId);
      process.kill(shim.ppid, 'SIGKILL');
      workspaceReady.resolve();
      // Told, not waited for forever: the shim is watched from outside once nobody reaps it.
      await expect(withTimeout(launch, 30_000)).rejects.toThrow(/runc could not start/);
      expect(await written(spec, 'ran')).toBeUndefined();
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
    });

    it('never starts the command of a container killed while it waits for its workspace', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf('echo ran > ran', { ready: deferred().promise });
      const launch = containerizer.launch(spec);
      await eventually('the container made', () => anyExists(cgroupDirs(spec.containerId)));
      await containerizer.kill(spec.containerId);
      expect(await launch).toMatchObject({ status: 'killed', reason: 'KILLED_BY_FRAMEWORK' });
      expect(await written(spec, 'ran')).toBeUndefined();
      // Its shim removes what runc kept of a container that ran nothing.
      await eventually(
        'the container gone',
        async () => !(await anyExists(cgroupDirs(spec.containerId))),
      );
    });

    it('removes, rather than recovers, a container its agent left at the gate', async () => {
      const held = newContainerizer();
      const workspaceReady = deferred();
      const spec = await specOf('echo ran > ran', { ready: workspaceReady.promise });
      // Its failure is awaited at the end, but may come as soon as recovery stops its shim: taken
      // now, or it would be an unhandled rejection meanwhile.
      const launch = held.launch(spec);
      const launchFailed = expect(launch).rejects.toThrow();
      await eventually('the container made', () => anyExists(cgroupDirs(spec.containerId)));
      // The agent restarted: its task's checkpoint names no container, as the launch never ended.
      const restarted = newContainerizer();
      const recovered = await restarted.recover([
        { containerId: spec.containerId, sandbox: spec.sandbox },
      ]);
      expect(recovered).toEqual([]);
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
      expect(await exists(join('/run/kiln/cgroup', PARENT, 'runc', spec.containerId))).toBe(false);
      workspaceReady.reject(new Error('the agent died'));
      await launchFailed;
      expect(await written(spec, 'ran')).toBeUndefined();
    });

    it('gives the task its own PID namespace, whose pid 1 is its init', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf(
        "ls /proc | grep -E '^[0-9]+$' | sort -n > pids; ps -e -o pid=,comm= > ps",
      );
      await start(containerizer, spec);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FINISHED',
      });
      const pids = (await written(spec, 'pids'))!.trim().split('\n');
      expect(pids[0]).toBe('1');
      // The command's shell, ls, grep and sort: nothing of the host.
      expect(pids.length).toBeLessThan(10);
      const ps = (await written(spec, 'ps'))!.trim().split('\n');
      expect(ps[0]?.trim()).toMatch(/^1 sh$/);
      expect(ps.length).toBeLessThan(10);
    });

    it('runs each task at once as host users of its own, apart from every other task', async () => {
      const containerizer = newContainerizer();
      const specs = await Promise.all(
        [1, 2, 3].map(() => specOf('cat /proc/self/uid_map > map; echo up > ready; sleep 1000')),
      );
      for (const spec of specs) await start(containerizer, spec);
      for (const spec of specs) await ready(spec);

      const hostIds = await Promise.all(
        specs.map(async (spec) => Number((await written(spec, 'map'))?.trim().split(/\s+/)[1])),
      );
      expect(new Set(hostIds).size).toBe(3);
      // Above every range `useradd` hands out in /etc/subuid: no host user can map them.
      for (const hostId of hostIds) expect(hostId).toBeGreaterThan(600_100_000);
      // The workspace is given to the task's own root, not to a range every task shares.
      const owners = await Promise.all(specs.map((s) => stat(workspaceOf(s.sandbox))));
      expect(owners.map((owner) => owner.uid)).toEqual(hostIds);
    });

    it("filters system calls with Docker's default profile: what it does not allow fails", async () => {
      // process_vm_readv reads another process's memory; Docker allows it only with
      // CAP_SYS_PTRACE, which no task holds (the earlier denylist let it through). A read of
      // nothing from itself shows the call's verdict without touching anything.
      const containerizer = newContainerizer();
      const probe = [
        'import ctypes, os',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'r = libc.process_vm_readv(os.getpid(), None, 0, None, 0, 0)',
        'print("process_vm_readv", r, os.strerror(ctypes.get_errno()) if r < 0 else "ok")',
        'r = libc.unshare(0x04000000)', // CLONE_NEWUTS: needs CAP_SYS_ADMIN in Docker's profile
        'print("unshare", r, os.strerror(ctypes.get_errno()) if r < 0 else "ok")',
      ].join('; ');
      const spec = await specOf(`python3 -c ${JSON.stringify(probe)} > verdicts`);
      await start(containerizer, spec);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FINISHED',
      });
      expect(await written(spec, 'verdicts')).toBe(
        'process_vm_readv -1 Operation not permitted\nunshare -1 Operation not permitted\n',
      );
    });

    it('keeps the text of a shell command, and what it prints, from the processes it starts', async () => {
      // The build's step markers live in the text of its command, with a nonce the build's steps
      // must not learn: they run as the same user as the command's shell, its pid 1. A step tries
      // every way to that text it has, and writes what it found to descriptor 3.
      const containerizer = newContainerizer();
      const secret = `kiln-private-${randomUUID()}`;
      const probe = [
        // Its output, opened again for reading through its own descriptor: a pipe, which would
        // take the command's next lines from runc.
        'timeout 5 cat /proc/self/fd/4',
        "tr '\\0' ' ' < /proc/1/cmdline",
        "tr '\\0' ' ' < /proc/1/environ",
        "tr '\\0' ' ' < /proc/1/task/1/environ",
        'env',
        'cat /proc/1/maps',
        'ls -l /proc/1/fd/',
        'cat /proc/1/fd/1',
        'timeout 10 gdb -q -p 1 -batch -ex "generate-core-file core"',
        'grep -a -o "kiln-private-[0-9a-f-]*" core',
        'echo probe-done',
      ].join('\n');
      const spec = await specOf(
        `printf '%s\\n' "marker ${secret}"; sh -c "$PROBE" 3>found || true; ` +
          `echo through-dev-stdout > /dev/stdout; printf '%s\\n' "${secret} end"`,
        { environment: { PATH: '/usr/bin:/bin', PROBE: `exec 4>&1 2>&3; {\n${probe}\n} >&3` } },
      );
      await start(containerizer, spec);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FINISHED',
      });
      const found = (await written(spec, 'found')) ?? '';
      expect(found).toContain('probe-done');
      expect(found).not.toContain(secret);
      // The command itself ran and printed it, and what it wrote to /dev/stdout is there too.
      expect(await readFile(join(spec.sandbox, 'stdout'), 'utf8')).toBe(
        `marker ${secret}\nthrough-dev-stdout\n${secret} end\n`,
      );
    });

    it("gives its first process none of the task's variables before the command's text is gone", async () => {
      // The checkout's own library, preloaded by the job's environment into every process that
      // starts, the task's first one included, writes down each one's environment.
      const containerizer = newContainerizer();
      const secret = `kiln-private-${randomUUID()}`;
      const spec = await specOf(`: ${secret}; sh -c 'echo step'`, {
        environment: { PATH: '/usr/bin:/bin', LD_PRELOAD: '/workspace/steal.so' },
      });
      const workspace = workspaceOf(spec.sandbox);
      await mkdir(workspace, { recursive: true });
      await writeFile(
        join(workspace, 'steal.c'),
        [
          '#include <stdio.h>',
          '#include <unistd.h>',
          'extern char **environ;',
          '__attribute__((constructor)) static void steal(void) {',
          '  char path[64]; snprintf(path, sizeof path, "/workspace/stolen-%d", getpid());',
          '  FILE *f = fopen(path, "w"); if (!f) return;',
          '  for (char **e = environ; *e; e++) fprintf(f, "%s\\n", *e);',
          '  fclose(f);',
          '}',
        ].join('\n'),
      );
      await promisify(execFile)('gcc', [
        '-shared',
        '-fPIC',
        '-o',
        join(workspace, 'steal.so'),
        join(workspace, 'steal.c'),
      ]);
      await start(containerizer, spec);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FINISHED',
      });
      const stolen = (await readdir(workspace)).filter((name) => name.startsWith('stolen-'));
      // The step's shell and echo's at least: the library was loaded where it could be.
      expect(stolen.length).toBeGreaterThan(0);
      for (const name of stolen) {
        const text = await readFile(join(workspace, name), 'utf8');
        expect(text).not.toContain(secret);
        expect(text).toContain('LD_PRELOAD=/workspace/steal.so');
      }
      expect(await readFile(join(spec.sandbox, 'stdout'), 'utf8')).toBe('step\n');
    });

    it('kills a background child along with the task, and removes the cgroups', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf('sleep 1000 & echo up > ready; wait');
      await start(containerizer, spec);
      await ready(spec);
      const pids = await cgroupPids(spec.containerId);
      // The command's shell and its sleep: the shim and runc stay outside the container.
      expect(pids.length).toBeGreaterThanOrEqual(2);
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(true);
      await containerizer.kill(spec.containerId);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_KILLED' });
      for (const pid of pids) expect(await isAlive(pid)).toBe(false);
      await containerizer.destroy(spec.containerId);
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
      // Nor in the hierarchies runc made it in besides those the containerizer reads.
      expect(await exists(join(CGROUP_ROOT, 'devices', PARENT, spec.containerId))).toBe(false);
      await containerizer.destroy(spec.containerId);
      expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
    });

    it("leaves a task of network 'none' only a loopback, and gives the others their own", async () => {
      const containerizer = newContainerizer();
      const interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > interfaces";
      const none = await specOf(interfaces, { network: 'none' });
      const own = await specOf(interfaces);
      await start(containerizer, none);
      await start(containerizer, own);
      await containerizer.wait(none.containerId);
      await containerizer.wait(own.containerId);
      expect(await written(none, 'interfaces')).toBe('lo\n');
      // slirp4netns's tap device: outbound access, from a namespace of the task's own.
      expect(await written(own, 'interfaces')).toBe('lo\ntap0\n');
    });

    it("shares the agent's network only when the agent opts in", async () => {
      const containerizer = newContainerizer({ hostNetwork: true });
      const spec = await specOf("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > interfaces");
      await start(containerizer, spec);
      await containerizer.wait(spec.containerId);
      const hostInterfaces = await readFile('/proc/net/dev', 'utf8');
      const seen = (await written(spec, 'interfaces'))!.trim().split('\n');
      expect(seen.length).toBeGreaterThan(0);
      for (const name of seen) expect(hostInterfaces).toContain(`${name}:`);
    });

    it('gives the task a private /tmp, and its workspace at /workspace', async () => {
      const containerizer = newContainerizer();
      const name = `kiln-private-${randomUUID()}`;
      const spec = await specOf(
        `echo secret > /tmp/${name}; ls -A /tmp > listing; echo there > /workspace/marker; pwd > pwd`,
      );
      await start(containerizer, spec);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FINISHED',
      });
      expect(await exists(join('/tmp', name))).toBe(false);
      expect(await written(spec, 'marker')).toBe('there\n');
      expect(await written(spec, 'pwd')).toBe('/workspace\n');
      // The shim recorded the exit code beside the workspace, out of the task's sight.
      expect(await readIfExists(join(spec.sandbox, '.exit_code'))).toBe('0\n');
      // Only its own file: nothing of the host's /tmp.
      expect(await written(spec, 'listing')).toBe(`${name}\n`);
    });

    describe('checking the commit out in the container', () => {
      /**
       * A commit of a new repository, its objects (and nothing else) in the spec's workspace, as
       * the agent leaves them for a container that checks out; and what a git taken over by the
       * commit would run there, as a `post-checkout` hook (which no commit can bring: the agent
       * made the repository).
       */
      async function objectsOf(
        spec: ContainerSpec,
        files: Record<string, string>,
        hook?: string,
      ): Promise<string> {
        const source = await dirs.make();
        const git = (cwd: string, ...args: string[]) =>
          promisify(execFile)('git', args, { cwd }).then(({ stdout }) => stdout.trim());
        await git(source, 'init', '-q');
        for (const [name, text] of Object.entries(files)) await writeFile(join(source, name), text);
        await git(source, 'add', '.');
        await git(
          source,
          '-c',
          'user.name=k',
          '-c',
          'user.email=k@example.com',
          'commit',
          '-qm',
          'x',
        );
        const sha = await git(source, 'rev-parse', 'HEAD');
        const workspace = workspaceOf(spec.sandbox);
        await mkdir(workspace, { recursive: true });
        await git(workspace, 'init', '-q', '--template=');
        await git(workspace, 'fetch', '-q', '--no-write-fetch-head', source, sha);
        if (hook !== undefined) {
          await mkdir(join(workspace, '.git', 'hooks'));
          await writeFile(
            join(workspace, '.git', 'hooks', 'post-checkout'),
            `#!/bin/sh\n${hook}\n`,
            {
              mode: 0o755,
            },
          );
        }
        return sha;
      }

      it("checks out as the container's root, in its cgroup and namespaces, before the command", async () => {
        const containerizer = newContainerizer();
        const workspaceReady = deferred();
        const spec = await specOf(
          "stat -c '%u %g' . version.txt .git/index | sort -u; cat version.txt; git rev-parse HEAD; " +
            // Failing, for the checkout's report to be read: a forged one would turn it into a
            // failed checkout's.
            'git status --porcelain; exit 4',
          { ready: workspaceReady.promise },
        );
        const sha = await objectsOf(
          spec,
          { 'version.txt': 'one\n' },
          // What a git the commit took over could do: it tries to tell the agent the checkout
          // failed, and to keep a process running past the checkout.
          'cat /proc/self/uid_map > .git/hook-uid-map; cat /proc/self/cgroup > .git/hook-cgroup; ' +
            'for fd in /proc/$PPID/fd/3 /proc/1/fd/3; do echo "failed 9" > $fd; done 2>/dev/null; ' +
            'echo "failed 9" >&3 2>/dev/null; true',
        );
        const launch = containerizer.launch({ ...spec, checkout: { commit: sha } });
        workspaceReady.resolve();
        expect(await launch).toEqual({ status: 'launched' });
        const termination = await containerizer.wait(spec.containerId);
        const stderr = await readIfExists(join(spec.sandbox, 'stderr'));
        expect(termination, stderr).toMatchObject({
          state: 'TASK_FAILED',
          reason: 'COMMAND_EXITED_NONZERO',
          exitCode: 4,
        });
        // The container's root owns what git wrote (a host root's file shows as the overflow id).
        expect(await readFile(join(spec.sandbox, 'stdout'), 'utf8')).toBe(`0 0\none\n${sha}\n`);
        const uidMap = (await written(spec, '.git/hook-uid-map'))!.trim().split(/\s+/);
        expect(uidMap[0]).toBe('0');
        expect(Number(uidMap[1])).toBeGreaterThan(0);
        // In the container's cgroup: the root of its cgroup namespace, in every hierarchy (a
        // process of the host's shows its whole path there).
        const cgroups = (await written(spec, '.git/hook-cgroup'))!.trim().split('\n');
        expect(cgroups.length).toBeGreaterThan(0);
        for (const line of cgroups) expect(line).toMatch(/:\/$/);
      });

      it('fails a task whose commit does not check out for that, its command never started', async () => {
        const containerizer = newContainerizer();
        const workspaceReady = deferred();
        const spec = await specOf('echo ran > ran', { ready: workspaceReady.promise });
        await objectsOf(spec, { 'version.txt': 'one\n' });
        const launch = containerizer.launch({ ...spec, checkout: { commit: 'f'.repeat(40) } });
        workspaceReady.resolve();
        expect(await launch).toEqual({ status: 'launched' });
        const termination = await containerizer.wait(spec.containerId);
        expect(termination).toMatchObject({
          state: 'TASK_FAILED',
          reason: 'SOURCE_CHECKOUT_FAILED',
          exitCode: 128,
        });
        expect(termination?.message).toMatch(/^the checkout failed: git exited with code 128/);
        expect(await written(spec, 'ran')).toBeUndefined();
        // git's own words are the task's to read.
        expect(await readIfExists(join(spec.sandbox, 'stderr'))).toContain('f'.repeat(40));
      });

      it("takes a command's failure for its own, whatever it writes where the checkout reports", async () => {
        const containerizer = newContainerizer();
        const workspaceReady = deferred();
        const spec = await specOf(
          'echo "failed 3" >&3; echo "failed 3" > /proc/1/fd/3; cat version.txt; exit 3',
          { ready: workspaceReady.promise },
        );
        const sha = await objectsOf(spec, { 'version.txt': 'one\n' });
        const launch = containerizer.launch({ ...spec, checkout: { commit: sha } });
        workspaceReady.resolve();
        expect(await launch).toEqual({ status: 'launched' });
        expect(await containerizer.wait(spec.containerId)).toMatchObject({
          state: 'TASK_FAILED',
          reason: 'COMMAND_EXITED_NONZERO',
          exitCode: 3,
        });
        expect(await readIfExists(join(spec.sandbox, 'stdout'))).toBe('one\n');
      });

      it('says a task its time ran out for while it checked out never started its command', async () => {
        const containerizer = newContainerizer();
        const workspaceReady = deferred();
        const spec = await specOf('echo ran > ran', {
          ready: workspaceReady.promise,
          maxCompletionTimeMs: 1_000,
        });
        // A checkout slower than the task's time: it counts against it, as the command does.
        const sha = await objectsOf(spec, { 'version.txt': 'one\n' }, 'sleep 30');
        const launch = containerizer.launch({ ...spec, checkout: { commit: sha } });
        workspaceReady.resolve();
        expect(await launch).toEqual({ status: 'launched' });
        const termination = await containerizer.wait(spec.containerId);
        expect(termination).toMatchObject({ state: 'TASK_KILLED', reason: 'TIMEOUT' });
        expect(termination?.message).toMatch(/, during the checkout: the command never started$/);
        expect(await written(spec, 'ran')).toBeUndefined();
      });
    });

    describe("the host's toolchains", () => {
      it('builds a C project with make and gcc, and runs node and git', async () => {
        const containerizer = newContainerizer();
        const spec = await specOf(
          [
            'printf \'#include <stdio.h>\\nint main(void) { puts("built"); return 0; }\\n\' > hello.c',
            "printf 'hello: hello.c\\n\\tcc -O2 -o hello hello.c\\n' > Makefile",
            'make >&2 && ./hello',
            'node -e \'console.log(process.version.startsWith("v") ? "node runs" : "")\'',
            'git init -q repo && git -C repo -c user.name=k -c user.email=k@example.com commit -q --allow-empty -m x && echo git works',
          ].join('\n'),
          { resources: resources({ cpus: 1, mem: 512 }) },
        );
        await start(containerizer, spec);
        const termination = await containerizer.wait(spec.containerId);
        const stderr = await readIfExists(join(spec.sandbox, 'stderr'));
        expect(termination, stderr).toMatchObject({ state: 'TASK_FINISHED' });
        expect(await readIfExists(join(spec.sandbox, 'stdout'))).toBe(
          'built\nnode runs\ngit works\n',
        );
      });

      it('installs an npm project with npm ci from the registry, through slirp4netns', async () => {
        const containerizer = newContainerizer();
        const spec = await specOf(
          [
            'echo \'{"name":"p","version":"1.0.0","dependencies":{"is-number":"7.0.0"}}\' > package.json',
            'npm install --package-lock-only --ignore-scripts --no-audit --no-fund >&2',
            'npm ci --ignore-scripts --no-audit --no-fund >&2',
            'node -e \'console.log(require("is-number")(5))\'',
          ].join(' && '),
          {
            environment: {
              PATH: '/usr/bin:/bin',
              HOME: '/root',
              // The host's CA certificates are the container's: a proxy's CA is trusted there too.
              NPM_CONFIG_CAFILE: '/etc/ssl/certs/ca-certificates.crt',
            },
            resources: resources({ cpus: 1, mem: 512 }),
          },
        );
        await start(containerizer, spec);
        const termination = await containerizer.wait(spec.containerId);
        const stderr = await readIfExists(join(spec.sandbox, 'stderr'));
        expect(termination, stderr).toMatchObject({ state: 'TASK_FINISHED' });
        expect(await readIfExists(join(spec.sandbox, 'stdout'))).toBe('true\n');
      });
    });

    describe('kill grace', () => {
      /**
       * Long enough for a loop of 50 ms sleeps to write after the TERM on a loaded host: the
       * tests prove the SIGKILL comes after the grace, not how short a grace can be.
       */
      const GRACE_MS = 3_000;
      /**
       * Handles TERM without exiting, and proves it lived on after it: only SIGKILL ends it. The
       * proof is renamed into place whole: written in place, a SIGKILL between the truncation and
       * the write left it empty (seen once under load).
       */
      const STUBBORN =
        "trap 'echo got TERM; touch termed' TERM; echo up > ready; " +
        'while :; do if [ -e termed ]; then echo alive > alive.tmp && mv alive.tmp after-term; fi; ' +
        'sleep 0.05; done';

      it('gives a cancelled task its TERM trap, then SIGKILLs it after the grace', async () => {
        const containerizer = newContainerizer();
        const spec = await specOf(STUBBORN);
        await start(containerizer, spec);
        await ready(spec);
        await containerizer.kill(spec.containerId, { gracePeriodMs: GRACE_MS });
        expect(await containerizer.wait(spec.containerId)).toMatchObject({
          state: 'TASK_KILLED',
          reason: 'KILLED_BY_FRAMEWORK',
        });
        expect(await readIfExists(join(spec.sandbox, 'stdout'))).toBe('got TERM\n');
        expect(await written(spec, 'after-term')).toBe('alive\n');
      });

      it('gives a task that times out its TERM trap, then SIGKILLs it after the grace', async () => {
        const containerizer = newContainerizer({ defaultGracePeriodMs: GRACE_MS });
        const spec = await specOf(STUBBORN, { maxCompletionTimeMs: 1_000 });
        await start(containerizer, spec);
        expect(await containerizer.wait(spec.containerId)).toMatchObject({
          state: 'TASK_KILLED',
          reason: 'TIMEOUT',
        });
        expect(await readIfExists(join(spec.sandbox, 'stdout'))).toBe('got TERM\n');
        expect(await written(spec, 'after-term')).toBe('alive\n');
      });
    });

    it('sets the CPU quota of its cpus, and measures CPU time and peak memory', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf('echo up > ready; while :; do :; done', {
        resources: resources({ cpus: 0.25, mem: 64 }),
      });
      await start(containerizer, spec);
      await ready(spec);
      const cpuDir = join(CGROUP_ROOT, 'cpu', PARENT, spec.containerId);
      expect(await readIfExists(join(cpuDir, 'cpu.cfs_quota_us'))).toBe('25000\n');
      expect(await readIfExists(join(cpuDir, 'cpu.cfs_period_us'))).toBe('100000\n');
      const memDir = join(CGROUP_ROOT, 'memory', PARENT, spec.containerId);
      expect(await readIfExists(join(memDir, 'memory.limit_in_bytes'))).toBe(
        `${64 * 1024 * 1024}\n`,
      );
      await eventually('the busy task has used CPU', async () => {
        const usage = await containerizer.usage(spec.containerId);
        return (usage?.cpuSeconds ?? 0) > 0;
      });
      const usage = await containerizer.usage(spec.containerId);
      expect(usage?.memPeakBytes).toBeGreaterThan(0);
      expect(usage?.memBytes).toBeGreaterThan(0);
      await containerizer.kill(spec.containerId, { gracePeriodMs: 0 });
      const termination = await containerizer.wait(spec.containerId);
      expect(termination?.usage?.cpuSeconds).toBeGreaterThan(0);
      expect(termination?.usage?.memPeakBytes).toBeGreaterThan(0);
      expect(termination?.usage?.memBytes).toBe(0);
    });

    it('sets the minimum quota of 1 ms for a tiny share of a CPU', async () => {
      const containerizer = newContainerizer();
      // Held at its gate and never started: its cgroup has its limits from runc's first steps,
      // while a container on a thousandth of a CPU can take long to start, or to die, on a busy
      // machine (this test timed out so in CI once, its container still starting).
      const workspaceReady = deferred();
      const spec = await specOf('true', {
        resources: resources({ cpus: 0.001, mem: 64 }),
        ready: workspaceReady.promise,
      });
      const launch = containerizer.launch(spec);
      const quota = join(CGROUP_ROOT, 'cpu', PARENT, spec.containerId, 'cpu.cfs_quota_us');
      let written: string | undefined;
      // Made, then limited: until then the quota reads -1, none.
      await eventually('the cgroup limited', async () => {
        written = await readIfExists(quota);
        return written !== undefined && written !== '-1\n';
      });
      workspaceReady.reject(new Error('not needed'));
      await expect(launch).rejects.toThrow(/not started/);

      expect(written).toBe('1000\n');
    });

    describe('recover', () => {
      /** Launches `spec` from another Node process that then exits, as a dying agent would. */
      async function launchFromAnotherAgent(
        spec: ContainerSpec,
      ): Promise<{ result: LaunchResult; checkpoint: Record<string, unknown> }> {
        const script = resolve(__dirname, 'agent-process.fixture.ts');
        const { stdout } = await promisify(execFile)(
          process.execPath,
          ['--import', 'tsx', script, JSON.stringify({ parent: PARENT }), JSON.stringify(spec)],
          // tsx reads tsconfig.json's paths from the working directory.
          { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
        );
        const launched = JSON.parse(stdout) as {
          result: LaunchResult;
          checkpoint?: Record<string, unknown>;
        };
        expect(launched.result).toEqual({ status: 'launched' });
        if (launched.checkpoint === undefined) throw new Error('no checkpoint');
        return { result: launched.result, checkpoint: launched.checkpoint };
      }

      it('re-attaches to a task an earlier agent launched, and reports its real exit code', async () => {
        const spec = await specOf(
          'echo up > ready; while [ ! -e go ]; do sleep 0.02; done; exit 5',
        );
        const { checkpoint } = await launchFromAnotherAgent(spec);
        expect(checkpoint).toMatchObject({ cgroup: `${PARENT}/${spec.containerId}` });
        await ready(spec);
        const containerizer = newContainerizer();
        expect(
          await containerizer.recover([
            { containerId: spec.containerId, sandbox: spec.sandbox, checkpoint },
          ]),
        ).toEqual([spec.containerId]);
        const ending = containerizer.wait(spec.containerId);
        expect((await containerizer.usage(spec.containerId))?.memBytes).toBeGreaterThan(0);
        await writeFile(join(workspaceOf(spec.sandbox), 'go'), '');
        expect(await ending).toMatchObject({ state: 'TASK_FAILED', exitCode: 5 });
        await containerizer.destroy(spec.containerId);
        expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
      });

      it("keeps a recovered task's host users its own: a new task is given others", async () => {
        const spec = await specOf('cat /proc/self/uid_map > map; echo up > ready; sleep 1000');
        const { checkpoint } = await launchFromAnotherAgent(spec);
        await ready(spec);
        const containerizer = newContainerizer();
        await containerizer.recover([
          { containerId: spec.containerId, sandbox: spec.sandbox, checkpoint },
        ]);

        const next = await specOf('cat /proc/self/uid_map > map; echo up > ready; sleep 1000');
        await start(containerizer, next);
        await ready(next);
        const hostIdOf = async (s: ContainerSpec) =>
          Number((await written(s, 'map'))?.trim().split(/\s+/)[1]);
        expect(checkpoint).toMatchObject({ hostId: await hostIdOf(spec) });
        expect(await hostIdOf(next)).not.toBe(await hostIdOf(spec));
      });

      it('can kill a recovered task, whole', async () => {
        const spec = await specOf(
          '(while :; do echo x >> tick; sleep 0.02; done) & echo up > ready; sleep 1000',
        );
        const { checkpoint } = await launchFromAnotherAgent(spec);
        await ready(spec);
        const containerizer = newContainerizer();
        await containerizer.recover([
          { containerId: spec.containerId, sandbox: spec.sandbox, checkpoint },
        ]);
        await containerizer.kill(spec.containerId);
        expect(await containerizer.wait(spec.containerId)).toMatchObject({
          state: 'TASK_KILLED',
        });
        await expectNoMoreWrites(join(workspaceOf(spec.sandbox), 'tick'));
        await containerizer.destroy(spec.containerId);
        expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
      });

      it('stops the network helper of a container an earlier agent left under the id it launches', async () => {
        const spec = await specOf('echo up > ready; sleep 1000');
        await launchFromAnotherAgent(spec);
        await ready(spec);
        const helper = await networkHelperOf(spec.containerId);
        await rm(join(workspaceOf(spec.sandbox), 'ready'));

        await start(newContainerizer(), spec);
        await ready(spec);

        await eventually('the earlier network helper gone', async () => !(await isAlive(helper)));
        expect(await networkHelperOf(spec.containerId)).not.toBe(helper);
      });

      it('finds the shim of a container an earlier agent left, and kills it, not the container', async () => {
        const spec = await specOf('echo up > ready; sleep 1000');
        await launchFromAnotherAgent(spec);
        await ready(spec);
        const shim = await shimOf(spec.containerId);
        const pids = await cgroupPids(spec.containerId);

        await killEarlierShim(join('/run/kiln/cgroup', PARENT, 'runc'), spec.containerId);

        await eventually('the shim gone', async () => !(await isAlive(shim.pid)));
        for (const pid of pids) expect(await isAlive(pid)).toBe(true);
        expect(await exists(join(spec.sandbox, EXIT_CODE_FILE))).toBe(false);
      });

      it('destroys the orphan cgroups it finds that the agent did not know of', async () => {
        const spec = await specOf(
          '(while :; do echo x >> tick; sleep 0.02; done) & echo up > ready; sleep 1000',
        );
        await launchFromAnotherAgent(spec);
        await ready(spec);
        const pids = await cgroupPids(spec.containerId);
        expect(pids.length).toBeGreaterThan(0);
        const containerizer = newContainerizer();
        expect(await containerizer.recover([])).toEqual([]);
        expect(await anyExists(cgroupDirs(spec.containerId))).toBe(false);
        for (const pid of pids) expect(await isAlive(pid)).toBe(false);
        await expectNoMoreWrites(join(workspaceOf(spec.sandbox), 'tick'));
        expect(await containerizer.wait(spec.containerId)).toBeUndefined();
      });
    });
  });
});

/** The slirp4netns giving a container its network, as its launch recorded it. */
async function networkHelperOf(containerId: string): Promise<number> {
  const pidFile = join('/run/kiln/cgroup', PARENT, 'network', `${containerId}.pid`);
  const pid = Number((await readIfExists(pidFile))?.trim());
  if (!(pid > 0) || !(await isAlive(pid)))
    throw new Error(`no network helper of ${containerId} runs`);
  return pid;
}

/** The shim of a container (the `/bin/sh` whose arguments name it), and its parent. */
async function shimOf(containerId: string): Promise<{ pid: number; ppid: number }> {
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = (await readFile(join('/proc', name, 'cmdline'), 'utf8').catch(() => '')).split(
      '\0',
    );
    if (argv[0] !== '/bin/sh' || !argv.includes(containerId)) continue;
    const stat = await readFile(join('/proc', name, 'stat'), 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { pid: Number(name), ppid };
  }
  throw new Error(`no shim of ${containerId} runs`);
}
