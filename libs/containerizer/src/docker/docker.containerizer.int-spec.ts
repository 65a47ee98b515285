import { withTimeout } from '@kiln/common';
import { resources } from '@kiln/contracts';
import {
  describeContainerizerContract,
  eventually,
  exists,
  readIfExists,
  TempDirs,
  uniqueContainerId,
} from '@kiln/containerizer/testing';
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { workspaceOf, type ContainerSpec, type LaunchResult } from '../containerizer';
import { DockerContainerizer, LABELS, WORKSPACE_MOUNT_PATH } from './docker.containerizer';
import { IdPool } from '../cgroup/id-pool';
import { TASK_ROLE } from './checkpoint';
import { startStalledRegistry } from './testing/stalled-registry';
import { stopUserModeNetworks, userModeNetworks } from './user-mode-network';

const IMAGE = 'kiln-test/busybox:latest';
/** Pushed there by `scripts/services.sh` (ensure_registry). */
const REGISTRY_IMAGE = '127.0.0.1:5000/kiln-test/busybox:latest';
const ENVIRONMENT = { PATH: '/bin' };
const ROOT = resolve(__dirname, '../../../..');

const docker = new Docker();
/** This run's containers only: other agents or test runs may share the engine. */
const OWNER = `test-${randomUUID()}`;

async function ownContainers(): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.managed}=true`, `${LABELS.owner}=${OWNER}`] },
  });
}

/** The pids of the live slirp4netns giving this run's task `containerId` its network. */
async function networkOf(containerId: string): Promise<number[]> {
  return (await userModeNetworks(OWNER)).get(containerId) ?? [];
}

afterAll(async () => {
  // Stopped whatever happened, like the containers below.
  const networks = await userModeNetworks(OWNER);
  await stopUserModeNetworks([...networks.values()].flat());
  expect([...networks.keys()]).toEqual([]);
  const left = await ownContainers();
  // Removed whatever happened, so a failure here does not leak containers into the next run.
  await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  expect(left.map((c) => c.Names)).toEqual([]);
});

describeContainerizerContract(DockerContainerizer.name, {
  setup() {
    return Promise.resolve({
      containerizer: new DockerContainerizer({ owner: OWNER }),
      teardown: async () => expect(await ownContainers()).toEqual([]),
    });
  },
  spec: { image: IMAGE },
  // slirp4netns tells the agent it is ready on a pipe, which the launcher cannot hand over.
  forksTheAgentFor: ['slirp4netns'],
});

describe(DockerContainerizer.name, () => {
  const dirs = new TempDirs();
  const containerizers: DockerContainerizer[] = [];
  const launched: string[] = [];

  afterEach(async () => {
    try {
      const ids = launched.splice(0);
      const destroyed = containerizers.splice(0).flatMap((c) => ids.map((id) => c.destroy(id)));
      await withTimeout(Promise.all(destroyed), 20_000);
      expect(await ownContainers()).toEqual([]);
    } finally {
      await dirs.removeAll();
    }
  });

  function newContainerizer(
    options: { hostNetwork?: boolean; docker?: Docker } = {},
  ): DockerContainerizer {
    const containerizer = new DockerContainerizer({ owner: OWNER, ...options });
    containerizers.push(containerizer);
    return containerizer;
  }

  async function specOf(
    command: string | ContainerSpec['command'],
    overrides: Partial<ContainerSpec> = {},
  ): Promise<ContainerSpec> {
    const containerId = uniqueContainerId('docker');
    launched.push(containerId);
    return {
      containerId,
      command: typeof command === 'string' ? { shell: true, value: command } : command,
      environment: ENVIRONMENT,
      sandbox: await dirs.make(),
      resources: resources({ cpus: 0.5, mem: 64 }),
      image: IMAGE,
      ...overrides,
    };
  }

  async function start(containerizer: DockerContainerizer, spec: ContainerSpec) {
    expect(await containerizer.launch(spec)).toEqual({ status: 'launched' });
  }

  function dockerIdOf(containerizer: DockerContainerizer, spec: ContainerSpec): string {
    const dockerId = containerizer.checkpoint(spec.containerId)?.dockerId;
    if (typeof dockerId !== 'string') throw new Error(`no dockerId for ${spec.containerId}`);
    return dockerId;
  }

  /** A file of the sandbox's own: the output. */
  const read = (spec: ContainerSpec, file: string) => readIfExists(join(spec.sandbox, file));
  const ready = (spec: ContainerSpec, file = 'ready') =>
    eventually(`${file} written by the task`, () => exists(join(workspaceOf(spec.sandbox), file)));

  it('detects the engine, and says why when it does not answer', async () => {
    expect(await DockerContainerizer.detect(docker)).toEqual({ available: true });
    const nowhere = new Docker({ socketPath: join(await dirs.make(), 'no.sock') });
    expect(await DockerContainerizer.detect(nowhere)).toMatchObject({
      available: false,
      reason: expect.stringContaining('does not answer') as unknown,
    });
  });

  it('propagates the exit code', async () => {
    const containerizer = newContainerizer();
    const spec = await specOf({ shell: false, value: 'sh', arguments: ['-c', 'exit 42'] });
    await start(containerizer, spec);
    expect(await containerizer.wait(spec.containerId)).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'COMMAND_EXITED_NONZERO',
      exitCode: 42,
    });
  });

  it('fails a task that outgrows its memory with CONTAINER_LIMITATION_MEMORY', async () => {
    const containerizer = newContainerizer();
    // tail buffers a line that never ends: it grows until the limit stops it.
    const spec = await specOf('tail /dev/zero', { resources: resources({ cpus: 0.5, mem: 32 }) });
    await start(containerizer, spec);
    const termination = await containerizer.wait(spec.containerId);
    expect(termination).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'CONTAINER_LIMITATION_MEMORY',
    });
    expect(termination?.message).toContain('32 MiB');
  });

  it('confines the container: unprivileged, few capabilities, only the workspace mounted', async () => {
    const containerizer = newContainerizer();
    const spec = await specOf('echo up > ready; sleep 1000', {
      network: 'none',
      resources: resources({ cpus: 0.25, mem: 48 }),
    });
    await start(containerizer, spec);
    await ready(spec);
    const info = await docker.getContainer(dockerIdOf(containerizer, spec)).inspect();
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.CapAdd).not.toContain('SYS_ADMIN');
    expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.IpcMode).toBe('private');
    expect(Object.keys(info.HostConfig.Tmpfs ?? {})).toEqual(['/tmp']);
    expect(info.HostConfig.NanoCpus).toBe(0.25e9);
    expect(info.HostConfig.Memory).toBe(48 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(48 * 1024 * 1024);
    expect(info.HostConfig.PidsLimit).toBe(1024);
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    expect(
      info.Mounts.map((m) => ({ type: m.Type, source: m.Source, target: m.Destination })),
    ).toEqual([{ type: 'bind', source: workspaceOf(spec.sandbox), target: WORKSPACE_MOUNT_PATH }]);
    expect(info.Config.Labels).toMatchObject({
      [LABELS.managed]: 'true',
      [LABELS.containerId]: spec.containerId,
    });
    expect(info.Config.WorkingDir).toBe(WORKSPACE_MOUNT_PATH);
  });

  it('gives a task no network of the host unless the agent opted in', async () => {
    const isolated = newContainerizer();
    const spec = await specOf('true');
    await start(isolated, spec);
    const info = await docker.getContainer(dockerIdOf(isolated, spec)).inspect();
    // The namespace of its network holder, with slirp4netns's network: see the test below.
    expect(info.HostConfig.NetworkMode).toMatch(/^container:[0-9a-f]{64}$/);
    const asked = await specOf('true', { network: 'host' });
    expect(await isolated.launch(asked)).toMatchObject({
      status: 'not-supported',
      reason: expect.stringContaining('KILN_AGENT_HOST_NETWORK') as unknown,
    });

    const trusting = newContainerizer({ hostNetwork: true });
    const shared = await specOf('true');
    await start(trusting, shared);
    const sharedInfo = await docker.getContainer(dockerIdOf(trusting, shared)).inspect();
    expect(sharedInfo.HostConfig.NetworkMode).toBe('host');
  });

  describe('the user-mode network', () => {
    it('gives a task a network of its own through slirp4netns before its first instruction, gone on destroy', async () => {
      const containerizer = newContainerizer();
      // The first instructions: the network is there before the command starts.
      const spec = await specOf(
        'ip -o -4 addr show tap0 > addresses; cat /proc/net/route > routes; ' +
          'cat /etc/resolv.conf > resolv.conf; ip rule > rules; ' +
          'echo up > ready; sleep 1000',
      );
      await start(containerizer, spec);
      await ready(spec);
      const inWorkspace = (file: string) => readIfExists(join(workspaceOf(spec.sandbox), file));
      expect(await inWorkspace('addresses')).toContain('inet 10.0.2.100/24');
      // The default route (destination 0.0.0.0) through slirp4netns's gateway 10.0.2.2.
      expect(await inWorkspace('routes')).toMatch(/^tap0\t00000000\t0202000A\t/m);
      expect(await inWorkspace('resolv.conf')).toMatch(/^nameserver 10\.0\.2\.3$/m);
      expect((await inWorkspace('resolv.conf'))?.match(/^nameserver/gm)).toHaveLength(1);
      // slirp4netns connects from the host: the host's loopback is fenced off tap0.
      expect(await inWorkspace('rules')).toMatch(/to 127\.0\.0\.0\/8 .*prohibit/);
      expect(await inWorkspace('rules')).toMatch(/to 0\.0\.0\.0\/8 .*prohibit/);
      // That the host's loopback stays out of reach, also through 10.0.2.2: docker.hostile.int-spec.ts.
      expect(await networkOf(spec.containerId)).toHaveLength(1);

      await containerizer.destroy(spec.containerId);
      expect(await networkOf(spec.containerId)).toEqual([]);
      expect(await ownContainers()).toEqual([]);
    });

    it("leaves a task of network 'none' only its loopback, and no slirp4netns", async () => {
      const containerizer = newContainerizer();
      const spec = await specOf(
        "ip -o link | cut -d: -f2 | tr -d ' ' > interfaces; echo up > ready; sleep 1000",
        {
          network: 'none',
        },
      );
      await start(containerizer, spec);
      await ready(spec);
      expect(await readIfExists(join(workspaceOf(spec.sandbox), 'interfaces'))).toBe('lo\n');
      expect(await networkOf(spec.containerId)).toEqual([]);
      expect(await ownContainers()).toHaveLength(1);
    });

    it('stops slirp4netns and removes the holder when the task ends by itself', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf('true');
      await start(containerizer, spec);
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_FINISHED' });
      expect(await networkOf(spec.containerId)).toEqual([]);
      const left = await ownContainers();
      expect(left.map((c) => c.Labels[LABELS.role])).toEqual([TASK_ROLE]);
    });

    /**
     * The engine itself, but the first `times` holders end between the task's create and its
     * start, as one did in CI: the engine then cannot join the namespace, and nothing of the task
     * ran. `engine`: ended through the engine, which knows it by the start (409). `process`: its
     * process SIGKILLed and gone, which the engine may not know yet (runc fails on the namespace's
     * path, as in CI). Returns the ids of the holders it ended, and of every holder made.
     */
    function endingHolders(times: number, how: 'engine' | 'process') {
      const ended: string[] = [];
      const holders: string[] = [];
      const engine = new Docker();
      const create = engine.createContainer.bind(engine);
      engine.createContainer = async (options: Docker.ContainerCreateOptions) => {
        const created = await create(options);
        if (options.Labels?.[LABELS.role] === 'network') holders.push(created.id);
        const holderId = /^container:(.+)$/.exec(options.HostConfig?.NetworkMode ?? '')?.[1];
        if (holderId !== undefined && ended.length < times) {
          ended.push(holderId);
          const holder = engine.getContainer(holderId);
          if (how === 'engine') {
            await holder.kill();
            await holder.wait();
          } else {
            const { State } = await holder.inspect();
            process.kill(State.Pid, 'SIGKILL');
            await eventually(
              'the holder reaped',
              async () => !(await exists(`/proc/${State.Pid}`)),
            );
          }
        }
        return created;
      };
      return { engine, ended, holders };
    }

    it.each(['engine', 'process'] as const)(
      'starts the task afresh on a new network when its holder ended before the task joined it (ended through the %s)',
      async (how) => {
        const { engine, ended } = endingHolders(1, how);
        const containerizer = newContainerizer({ docker: engine });
        const spec = await specOf(
          'ip -o -4 addr show tap0 > addresses; echo up > ready; sleep 1000',
        );
        await start(containerizer, spec);
        await ready(spec);
        expect(ended).toHaveLength(1);
        expect(await readIfExists(join(workspaceOf(spec.sandbox), 'addresses'))).toContain(
          'inet 10.0.2.100/24',
        );
        expect(await networkOf(spec.containerId)).toHaveLength(1);
        // The task and its new holder; the ended holder is gone.
        const left = await ownContainers();
        expect(left.map((c) => c.Labels[LABELS.role] ?? 'task').sort()).toEqual([
          'network',
          'task',
        ]);
        expect(left.map((c) => c.Id)).not.toContain(ended[0]);
      },
    );

    it('fails the launch, naming the ended holder, when every holder ends before the task joins it', async () => {
      const { engine, ended, holders } = endingHolders(Infinity, 'engine');
      const containerizer = newContainerizer({ docker: engine });
      const spec = await specOf('echo ran > ran');
      await expect(containerizer.launch(spec)).rejects.toMatchObject({
        name: 'ContainerLaunchError',
        reason: 'CONTAINER_LAUNCH_FAILED',
        message: expect.stringMatching(
          /network holder ended before the task joined it \(exit code \d+\)/,
        ) as unknown,
      });
      // Three tries, each with a holder of its own. A loaded engine may also refuse a holder's
      // own start (seen in CI: "cannot start a stopped process"), which is a try like the others,
      // its holder ended before any task could join it.
      expect(holders).toHaveLength(3);
      expect(ended.length).toBeGreaterThan(0);
      expect(holders).toEqual(expect.arrayContaining(ended));
      expect(await exists(join(workspaceOf(spec.sandbox), 'ran'))).toBe(false);
      expect(await networkOf(spec.containerId)).toEqual([]);
      expect(await ownContainers()).toEqual([]);
    });

    it('fails the launch of an image without /bin/sh for its holder, leaving nothing behind', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf('true', { image: IMAGE, environment: ENVIRONMENT });
      // An image of one file, without /bin/sh (imported: never a change to the shared test image).
      const root = await dirs.make();
      await writeFile(join(root, 'only-file'), 'x\n');
      const archive = join(await dirs.make(), 'root.tar');
      await promisify(execFile)('tar', ['-C', root, '-cf', archive, '.']);
      const tag = `kiln-test/no-shell-${randomUUID()}`;
      const imported = await docker.importImage(archive, { repo: tag, tag: 'latest' });
      await new Promise((resolve, reject) =>
        docker.modem.followProgress(imported, (error: Error | null) =>
          error ? reject(error) : resolve(undefined),
        ),
      );
      try {
        await expect(
          containerizer.launch({ ...spec, image: `${tag}:latest` }),
        ).rejects.toMatchObject({
          name: 'ContainerLaunchError',
          reason: 'CONTAINER_LAUNCH_FAILED',
          message: expect.stringContaining('/bin/sh') as unknown,
        });
        expect(await networkOf(spec.containerId)).toEqual([]);
        expect(await ownContainers()).toEqual([]);
      } finally {
        await docker.getImage(`${tag}:latest`).remove({ force: true });
      }
    });
  });

  it('fails the launch of an image reference that is not one, naming it, and lives on', async () => {
    // Each of these crashed the agent's process on an unhandled error before it was checked.
    for (const image of ['a/../b', '::::/../etc/passwd@@']) {
      const containerizer = newContainerizer();
      const spec = await specOf('true', { image });
      await expect(containerizer.launch(spec)).rejects.toMatchObject({
        name: 'ContainerLaunchError',
        reason: 'CONTAINER_LAUNCH_FAILED',
        message: expect.stringContaining(JSON.stringify(image)) as unknown,
      });
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
    }
    // An unhandled error surfaces in the next ticks: give it a chance to, and Vitest fails the run.
    await new Promise((resolve) => setTimeout(resolve, 500));
  });

  it('pulls an absent image from a registry', async () => {
    await docker
      .getImage(REGISTRY_IMAGE)
      .remove()
      .catch(() => undefined);
    await expect(docker.getImage(REGISTRY_IMAGE).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
    const containerizer = newContainerizer();
    const spec = await specOf('echo pulled', { image: REGISTRY_IMAGE });
    await start(containerizer, spec);
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_FINISHED' });
    expect(await read(spec, 'stdout')).toBe('pulled\n');
    expect((await docker.getImage(REGISTRY_IMAGE).inspect()).RepoTags).toContain(REGISTRY_IMAGE);
  });

  it('runs the image a build names, never one the engine holds by a prefix of its id', async () => {
    const containerizer = newContainerizer();
    const { Id } = await docker.getImage(IMAGE).inspect();
    const prefix = Id.replace(/^sha256:/, '').slice(0, 1);
    const spec = await specOf('echo ran', { image: prefix });
    // Docker Hub has no such image, or cannot be reached from here: either way, nothing runs.
    await expect(containerizer.launch(spec)).rejects.toMatchObject({
      name: 'ContainerLaunchError',
      message: expect.stringContaining(`docker.io/library/${prefix}:latest`) as unknown,
    });
    expect(await read(spec, 'stdout')).not.toBe('ran\n');
  });

  it('fails the launch of an image that cannot be pulled, naming it', async () => {
    const containerizer = newContainerizer();
    const image = `127.0.0.1:5000/kiln-test/no-such-image-${randomUUID()}:latest`;
    const spec = await specOf('true', { image });
    await expect(containerizer.launch(spec)).rejects.toMatchObject({
      name: 'ContainerLaunchError',
      reason: 'CONTAINER_LAUNCH_FAILED',
      message: expect.stringContaining(image) as unknown,
    });
    expect(await containerizer.wait(spec.containerId)).toBeUndefined();
  });

  it("gives a task's checkout a host user of the agent's pool, and the workspace to root", async () => {
    const idPool = new IdPool({ firstHostId: 2_000_000_000, size: 65_536, count: 2 });
    const containerizer = new DockerContainerizer({ owner: OWNER, idPool });
    containerizers.push(containerizer);
    const spec = await specOf('true');
    // Without a pool the agent checks out as itself: a containerizer of no owners.
    expect(newContainerizer().workspaceOwner).toBeUndefined();
    expect(containerizer.workspaceOwner?.(spec.containerId)).toBeUndefined();
    const launch = containerizer.launch(spec);
    const ownership = containerizer.workspaceOwner?.(spec.containerId);
    expect(ownership).toEqual({ checkoutUser: 2_000_000_000, owner: 0 });
    expect(await launch).toEqual({ status: 'launched' });
    // Held while the container lives, whoever else launches.
    expect(idPool.take('another')).toMatchObject({ hostId: 2_000_065_536 });
    idPool.free('another');
    await containerizer.wait(spec.containerId);
    await containerizer.destroy(spec.containerId);
    expect(idPool.take('after')).toMatchObject({ hostId: 2_000_000_000 });
  });

  it('stops a launch waiting on a stalled pull when its task is killed, as killed', async () => {
    const registry = await startStalledRegistry();
    try {
      const containerizer = newContainerizer();
      const spec = await specOf('echo ran', { image: registry.image });
      const launch = containerizer.launch(spec);
      await registry.asked;
      // Without the kill, the launch would wait for the pull's 60 s deadline.
      await withTimeout(containerizer.kill(spec.containerId, { gracePeriodMs: 0 }), 10_000);
      expect(await launch).toEqual({
        status: 'killed',
        reason: 'KILLED_BY_FRAMEWORK',
        message: 'killed at the request of the framework before its command started',
      });
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
      expect(await read(spec, 'stdout')).not.toBe('ran\n');
    } finally {
      await registry.close();
    }
  });

  it('leaves no container behind when a task with a background child is cancelled', async () => {
    const containerizer = newContainerizer();
    const spec = await specOf('sleep 1000 & echo up > ready; wait');
    await start(containerizer, spec);
    await ready(spec);
    const dockerId = dockerIdOf(containerizer, spec);
    await containerizer.kill(spec.containerId, { gracePeriodMs: 0 });
    expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_KILLED' });
    await containerizer.destroy(spec.containerId);
    await expect(docker.getContainer(dockerId).inspect()).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('reports the peak memory with the termination', async () => {
    const containerizer = newContainerizer();
    const spec = await specOf('echo up > ready; while [ ! -e go ]; do sleep 0.02; done');
    await start(containerizer, spec);
    await ready(spec);
    await eventually('the task has been measured', async () => {
      const usage = await containerizer.usage(spec.containerId);
      return (usage?.memPeakBytes ?? 0) > 0;
    });
    await writeFile(join(workspaceOf(spec.sandbox), 'go'), '');
    const termination = await containerizer.wait(spec.containerId);
    expect(termination?.usage?.memPeakBytes).toBeGreaterThan(0);
    expect(termination?.usage?.memBytes).toBe(0);
  });

  describe('recover', () => {
    /** Launches `spec` from an agent process that then exits, leaving the container running. */
    async function launchedByDeadAgent(spec: ContainerSpec) {
      const script = resolve(__dirname, 'dying-docker-agent.ts');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', script, OWNER, JSON.stringify(spec)],
        { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
      );
      const { result, checkpoint } = JSON.parse(stdout) as {
        result: LaunchResult;
        checkpoint: Record<string, unknown>;
      };
      expect(result).toEqual({ status: 'launched' });
      return { containerId: spec.containerId, sandbox: spec.sandbox, checkpoint };
    }

    it('re-attaches to a running container, resuming its output and its end', async () => {
      const spec = await specOf(
        'echo before; echo up > ready; while [ ! -e release ]; do sleep 0.02; done; ' +
          'echo after; echo oops >&2; exit 7',
      );
      await writeFile(join(spec.sandbox, 'stdout'), 'from before\n');
      const known = await launchedByDeadAgent(spec);
      await ready(spec);

      const containerizer = newContainerizer();
      expect(await containerizer.recover([known])).toEqual([spec.containerId]);
      expect(containerizer.checkpoint(spec.containerId)).toEqual(known.checkpoint);
      const ending = containerizer.wait(spec.containerId);
      await writeFile(join(workspaceOf(spec.sandbox), 'release'), '');
      expect(await ending).toMatchObject({
        state: 'TASK_FAILED',
        reason: 'COMMAND_EXITED_NONZERO',
        exitCode: 7,
      });
      expect(await networkOf(spec.containerId)).toEqual([]);
      expect(await read(spec, 'stdout')).toBe('from before\nbefore\nafter\n');
      expect(await read(spec, 'stderr')).toBe('oops\n');
    });

    it('re-attaches without a checkpoint, by label, and can kill', async () => {
      const spec = await specOf('echo up > ready; sleep 1000');
      const known = await launchedByDeadAgent(spec);
      await ready(spec);
      const containerizer = newContainerizer();
      const withoutCheckpoint = { containerId: known.containerId, sandbox: known.sandbox };
      expect(await containerizer.recover([withoutCheckpoint])).toEqual([spec.containerId]);
      expect(containerizer.checkpoint(spec.containerId)).toEqual(known.checkpoint);
      await containerizer.kill(spec.containerId, { gracePeriodMs: 0 });
      expect(await containerizer.wait(spec.containerId)).toMatchObject({ state: 'TASK_KILLED' });
    });

    it("keeps a recovered task's network, and gives it a new one when its slirp4netns is gone", async () => {
      const spec = await specOf(
        'echo up > ready; while [ ! -e release ]; do sleep 0.02; done; ' +
          'ip -o -4 addr show tap0 > addresses; exit 1',
      );
      const known = await launchedByDeadAgent(spec);
      await ready(spec);
      const [survivor] = await networkOf(spec.containerId);
      expect(survivor).toBeDefined();

      expect(await newContainerizer().recover([known])).toEqual([spec.containerId]);
      expect(await networkOf(spec.containerId)).toEqual([survivor]);

      // Its slirp4netns ended while no agent was there: the next agent gives the task another.
      await stopUserModeNetworks([survivor!]);
      const containerizer = newContainerizer();
      expect(await containerizer.recover([known])).toEqual([spec.containerId]);
      const regained = await networkOf(spec.containerId);
      expect(regained).toHaveLength(1);
      expect(regained).not.toEqual([survivor]);
      await writeFile(join(workspaceOf(spec.sandbox), 'release'), '');
      expect(await containerizer.wait(spec.containerId)).toMatchObject({
        state: 'TASK_FAILED',
        exitCode: 1,
      });
      expect(await readIfExists(join(workspaceOf(spec.sandbox), 'addresses'))).toContain(
        'inet 10.0.2.100/24',
      );
      expect(await networkOf(spec.containerId)).toEqual([]);
    });

    it('removes the labelled containers the agent does not know of, and their networks', async () => {
      const spec = await specOf('echo up > ready; sleep 1000');
      await launchedByDeadAgent(spec);
      await ready(spec);
      // The task's container and its network holder.
      expect(await ownContainers()).toHaveLength(2);
      expect(await networkOf(spec.containerId)).toHaveLength(1);

      const containerizer = newContainerizer();
      expect(await containerizer.recover([])).toEqual([]);
      expect(await ownContainers()).toEqual([]);
      expect(await networkOf(spec.containerId)).toEqual([]);
      expect(await containerizer.wait(spec.containerId)).toBeUndefined();
    });

    it('recognizes nothing that is not its own', async () => {
      const containerizer = newContainerizer();
      const spec = await specOf('true');
      const unknown = [
        { containerId: spec.containerId, sandbox: spec.sandbox },
        { containerId: uniqueContainerId(), sandbox: spec.sandbox, checkpoint: { pid: 1 } },
      ];
      expect(await containerizer.recover(unknown)).toEqual([]);
    });
  });
});
