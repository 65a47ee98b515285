import { cfsQuotaUs, CFS_PERIOD_US } from './controllers';

/*
 * The OCI runtime configuration (`config.json` of a bundle) that `runc` runs one task with: a pure
 * function of the plan, so that every isolation decision can be read, and tested, in one place.
 */

/** Where the sandbox's workspace appears inside the container, the task's working directory. */
export const CONTAINER_WORKSPACE = '/workspace';

/**
 * Docker's default capability set: what a package manager or `chown` inside the container needs,
 * and nothing that administers the kernel (no CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_PTRACE…). All
 * of them are held inside the task's user namespace only, over the task's own files.
 */
export const DEFAULT_CAPABILITIES = [
  'CAP_AUDIT_WRITE',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
] as const;

/** The `/proc` and `/sys` paths runtimes hide (masked) or freeze (read-only): runc's defaults. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
] as const;
export const READONLY_PATHS = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
] as const;

/** A range of host ids the container's ids 0… map to; none of them may be a real host user's. */
export interface IdRange {
  hostId: number;
  size: number;
}

export interface BundlePlan {
  /** What the container's first process executes, resolved inside the container. */
  argv: readonly string[];
  environment: Readonly<Record<string, string>>;
  /** The container's root: an empty directory holding only the mount points, read-only. */
  rootfs: string;
  /** The generated `/etc` (passwd, group, hosts, resolv.conf…), bound read-only. */
  etc: string;
  /** Host directories bound read-only at the same path: the toolchains (`/usr`, `/lib`…). */
  systemDirs: readonly string[];
  /** Host files or directories bound read-only at the same path (CA certificates). */
  systemFiles: readonly string[];
  /** The sandbox's workspace on the host, the one writable place, at {@link CONTAINER_WORKSPACE}. */
  workspace: string;
  /**
   * `private`: a network namespace of its own, given outbound access by the `createRuntime` hook
   * (slirp4netns); `none`: a namespace with only a loopback; `host`: the agent's network (only
   * for installations that trust every build).
   */
  network: 'private' | 'none' | 'host';
  /**
   * What takes the container's output pipes back from it, run first (see `OUTPUT_HOOK`). Kiln's
   * containers always have it; none only for the plain runc benchmarks compare with.
   */
  outputHook?: { path: string; args: readonly string[] };
  /** What starts the user-mode network for the container's pid; for `private` only. */
  networkHook?: { path: string; args: readonly string[] };
  /**
   * What holds the container's process until its workspace is ready, run after the network hook;
   * none: the process starts as soon as the container exists.
   */
  gateHook?: { path: string; args: readonly string[] };
  ids: IdRange;
  /** The container's cgroup, absolute from the hierarchies' roots: `/<parent>/<containerId>`. */
  cgroupsPath: string;
  limits: { cpus?: number; memMiB?: number; pidsMax?: number };
  /** The size of each of the private `/tmp` and `/dev/shm`, in MiB. */
  tmpSizeMiB: number;
  hostname: string;
  /** The `linux.seccomp` filter: Docker's default profile for these capabilities (seccomp.ts). */
  seccomp: Record<string, unknown>;
}

const MIB = 1024 * 1024;

/**
 * The hooks runc runs on the host before the process starts: the output's, the network, then the
 * gate.
 */
function createRuntimeHooks(plan: BundlePlan): { hooks?: { createRuntime: unknown[] } } {
  const hooks = [
    ...(plan.outputHook === undefined ? [] : [plan.outputHook]),
    ...(plan.network === 'private' && plan.networkHook !== undefined ? [plan.networkHook] : []),
    ...(plan.gateHook === undefined ? [] : [plan.gateHook]),
  ].map((hook) => ({ ...hook, args: [...hook.args] }));
  return hooks.length === 0 ? {} : { hooks: { createRuntime: hooks } };
}

/** The OCI runtime configuration of one task's container. */
export function ociConfig(plan: BundlePlan): Record<string, unknown> {
  const tmpfs = (destination: string, options: string[]) => ({
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'nodev', ...options],
  });
  const readOnlyBind = (path: string, destination = path) => ({
    destination,
    type: 'bind',
    source: path,
    options: ['rbind', 'ro', 'nosuid', 'nodev'],
  });
  const tmpSize = `size=${Math.max(1, Math.round(plan.tmpSizeMiB))}m`;
  const namespaces = ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user'];
  if (plan.network !== 'host') namespaces.push('network');
  const { cpus, memMiB, pidsMax } = plan.limits;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...plan.argv],
      env: Object.entries(plan.environment).map(([name, value]) => `${name}=${value}`),
      cwd: CONTAINER_WORKSPACE,
      capabilities: Object.fromEntries(
        ['bounding', 'effective', 'permitted'].map((set) => [set, [...DEFAULT_CAPABILITIES]]),
      ),
      noNewPrivileges: true,
    },
    root: { path: plan.rootfs, readonly: true },
    hostname: plan.hostname,
    mounts: [
      {
        destination: '/proc',
        type: 'proc',
        source: 'proc',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      tmpfs('/dev', ['strictatime', 'mode=755', 'size=65536k']),
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      tmpfs('/dev/shm', ['noexec', 'mode=1777', tmpSize]),
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      // sysfs can only be mounted in a network namespace of the container's own.
      plan.network === 'host'
        ? readOnlyBind('/sys')
        : {
            destination: '/sys',
            type: 'sysfs',
            source: 'sysfs',
            options: ['nosuid', 'noexec', 'nodev', 'ro'],
          },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
      ...plan.systemDirs.map((dir) => readOnlyBind(dir)),
      readOnlyBind(plan.etc, '/etc'),
      ...plan.systemFiles.map((path) => readOnlyBind(path)),
      tmpfs('/tmp', ['mode=1777', tmpSize]),
      // root's home: empty and private, never the host's.
      tmpfs('/root', ['mode=700', 'size=16m']),
      {
        destination: CONTAINER_WORKSPACE,
        type: 'bind',
        source: plan.workspace,
        options: ['rbind', 'rw', 'nosuid', 'nodev'],
      },
    ],
    ...createRuntimeHooks(plan),
    linux: {
      namespaces: namespaces.map((type) => ({ type })),
      // Without CAP_NET_RAW (it let a task hand-craft frames that slirp4netns carried to the
      // host's loopback), `ping` works through unprivileged ICMP sockets, as under Docker: for
      // every group the container has (the range must lie within its user namespace's map).
      ...(plan.network === 'host'
        ? {}
        : { sysctl: { 'net.ipv4.ping_group_range': `0 ${plan.ids.size - 1}` } }),
      uidMappings: [{ containerID: 0, hostID: plan.ids.hostId, size: plan.ids.size }],
      gidMappings: [{ containerID: 0, hostID: plan.ids.hostId, size: plan.ids.size }],
      cgroupsPath: plan.cgroupsPath,
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        ...(cpus !== undefined && cpus > 0
          ? { cpu: { quota: cfsQuotaUs(cpus), period: CFS_PERIOD_US } }
          : {}),
        ...(memMiB !== undefined && memMiB > 0
          ? { memory: { limit: Math.round(memMiB * MIB), swap: Math.round(memMiB * MIB) } }
          : {}),
        ...(pidsMax !== undefined && pidsMax > 0 ? { pids: { limit: Math.floor(pidsMax) } } : {}),
      },
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      seccomp: plan.seccomp,
    },
  };
}
