import { describe, expect, it } from 'vitest';
import {
  CONTAINER_WORKSPACE,
  DEFAULT_CAPABILITIES,
  MASKED_PATHS,
  ociConfig,
  READONLY_PATHS,
  type BundlePlan,
} from './bundle';

const PLAN: BundlePlan = {
  argv: ['/bin/sh', '-c', 'make'],
  environment: { PATH: '/usr/bin:/bin', TOKEN: 'a=b' },
  rootfs: '/run/kiln/root/rootfs',
  etc: '/run/kiln/root/etc',
  systemDirs: ['/usr'],
  systemFiles: ['/etc/ssl/certs'],
  workspace: '/var/lib/kiln/sandboxes/t1/workspace',
  network: 'private',
  outputHook: { path: '/bin/sh', args: ['sh', '-c', 'output', '100000'] },
  networkHook: { path: '/bin/sh', args: ['sh', '-c', 'hook'] },
  ids: { hostId: 100_000, size: 65_536 },
  cgroupsPath: '/kiln/agent-1/t1',
  limits: { cpus: 0.5, memMiB: 256, pidsMax: 1024 },
  tmpSizeMiB: 256,
  hostname: 'kiln',
  seccomp: {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }],
  },
};

/** Typed: vitest's asymmetric matchers are `any`. */
const arrayContaining = (items: string[]): unknown => expect.arrayContaining(items) as unknown;

interface Mount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

function configOf(plan: Partial<BundlePlan> = {}) {
  const config = ociConfig({ ...PLAN, ...plan }) as {
    process: Record<string, unknown> & { capabilities: Record<string, string[]> };
    root: { path: string; readonly: boolean };
    mounts: Mount[];
    hooks?: unknown;
    linux: Record<string, unknown> & {
      namespaces: { type: string }[];
      seccomp: { defaultAction: string; syscalls: { names: string[]; action: string }[] };
    };
  };
  const mount = (destination: string) => config.mounts.find((m) => m.destination === destination);
  return { config, mount };
}

describe(ociConfig.name, () => {
  it('isolates every namespace, the user namespace mapping root to the unprivileged range', () => {
    const { config } = configOf();
    expect(config.linux.namespaces.map((n) => n.type).sort()).toEqual(
      ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'].sort(),
    );
    expect(config.linux.uidMappings).toEqual([{ containerID: 0, hostID: 100_000, size: 65_536 }]);
    expect(config.linux.gidMappings).toEqual([{ containerID: 0, hostID: 100_000, size: 65_536 }]);
  });

  it("shares the host's network namespace only for network host", () => {
    const { config } = configOf({ network: 'host' });
    expect(config.linux.namespaces.map((n) => n.type)).not.toContain('network');
    const output = { path: '/bin/sh', args: ['sh', '-c', 'output', '100000'] };
    expect(config.hooks).toEqual({ createRuntime: [output] });
    expect(configOf({ network: 'none' }).config.hooks).toEqual({ createRuntime: [output] });
    expect(configOf().config.hooks).toEqual({
      createRuntime: [output, { path: '/bin/sh', args: ['sh', '-c', 'hook'] }],
    });
  });

  it("gives Docker's default capabilities only, no new privileges, and the plan's seccomp filter", () => {
    const { config } = configOf();
    for (const set of ['bounding', 'effective', 'permitted']) {
      expect(config.process.capabilities[set]).toEqual([...DEFAULT_CAPABILITIES]);
    }
    expect(DEFAULT_CAPABILITIES).not.toContain('CAP_SYS_ADMIN');
    expect(config.process.noNewPrivileges).toBe(true);
    expect(config.linux.seccomp).toEqual(PLAN.seccomp);
    expect(config.linux.maskedPaths).toEqual([...MASKED_PATHS]);
    expect(config.linux.readonlyPaths).toEqual([...READONLY_PATHS]);
  });

  it('mounts a read-only root, the toolchains and cgroups read-only, the workspace writable', () => {
    const { config, mount } = configOf();
    expect(config.root).toEqual({ path: PLAN.rootfs, readonly: true });
    expect(mount('/usr')).toMatchObject({
      source: '/usr',
      options: arrayContaining(['ro']),
    });
    expect(mount('/etc')).toMatchObject({
      source: PLAN.etc,
      options: arrayContaining(['ro']),
    });
    expect(mount('/etc/ssl/certs')?.options).toContain('ro');
    expect(mount('/sys/fs/cgroup')?.options).toContain('ro');
    expect(mount(CONTAINER_WORKSPACE)).toMatchObject({
      source: PLAN.workspace,
      options: arrayContaining(['rw']),
    });
    expect(mount('/tmp')).toMatchObject({
      type: 'tmpfs',
      options: arrayContaining(['size=256m']),
    });
    expect(mount('/dev/shm')?.type).toBe('tmpfs');
    expect(config.process.cwd).toBe(CONTAINER_WORKSPACE);
    // Nothing else of the host: the binds are exactly the plan's.
    const binds = config.mounts.filter((m) => m.type === 'bind').map((m) => m.source);
    expect(binds.sort()).toEqual(['/etc/ssl/certs', '/usr', PLAN.etc, PLAN.workspace].sort());
  });

  it('sets the limits through the runtime, in the cgroup under the agent parent', () => {
    const { config } = configOf();
    expect(config.linux.cgroupsPath).toBe('/kiln/agent-1/t1');
    expect(config.linux.resources).toMatchObject({
      cpu: { quota: 50_000, period: 100_000 },
      memory: { limit: 256 * 1024 * 1024 },
      pids: { limit: 1024 },
    });
  });

  it('passes the environment and arguments verbatim', () => {
    const { config } = configOf();
    expect(config.process.args).toEqual(['/bin/sh', '-c', 'make']);
    expect(config.process.env).toEqual(['PATH=/usr/bin:/bin', 'TOKEN=a=b']);
  });
});
