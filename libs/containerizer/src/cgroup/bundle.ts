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

/**
 * The shell a task's shell command runs in: a copy of the host's `/bin/sh` in the root filesystem
 * (see `rootfs.ts`) that the task may execute but not read, being the host root's with mode 0111,
 * and no id of the task's user namespace maps the host's root. The kernel makes a process that
 * executes a file it cannot read non-dumpable, owned by the namespace the file's owner is mapped
 * in, the host's: then only CAP_SYS_PTRACE there, which no task holds, reads its memory,
 * environment and descriptors, through `/proc` or `ptrace`. Its command line stays readable to
 * all, so the command's text never goes there.
 *
 * This is what keeps a build's step markers (see the server's `build-task.ts`) to the script that
 * prints them: the steps it runs execute the ordinary `/bin/sh`, as the same user, and cannot read
 * the nonce the markers carry. What the command runs otherwise is the task's as before.
 */
export const PRIVATE_SHELL = '/.kiln/sh';

/** The variables a shell command's text reaches {@link PRIVATE_SHELL} in: `…_0`, `…_1`, … */
const TEXT_VARIABLE = '__KILN_COMMAND_';

/**
 * The most UTF-16 code units of text per variable: at most 4 bytes of UTF-8 each, under the
 * kernel's 128 KiB for one string of a new program's environment.
 */
const TEXT_PER_VARIABLE = 30_000;

/** A name the shell can export: the others it passes on from its environment as they are. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What the shell sets for itself at its start, whatever its environment says (dash's). */
const SET_BY_THE_SHELL = new Set(['IFS', 'OPTIND', 'PPID', 'PWD']);

/** What a container's checkout tells on its descriptor 3 ({@link CHECKOUT_REPORT_FD}) once done. */
export const CHECKED_OUT = 'checked-out';

/**
 * The descriptor on which the first process of a container that checks out reports it: the first
 * that runc's `--preserve-fds` passes on (see the shim).
 */
const CHECKOUT_REPORT_FD = 3;

/**
 * Run by {@link PRIVATE_SHELL} with the number of text variables as `$1`: joins them, unsets them
 * (the command's processes do not inherit them), and evaluates the text. Builtins only, but for
 * the checkout.
 *
 * With a commit as `$2`, the commit is checked out in the workspace first (whose repository holds
 * its objects and no files yet), as the container's own user, by the host's git (under `/usr`,
 * which the container sees read-only): with none of the task's variables (their exports are in
 * the text, not yet evaluated) and no configuration but the repository's own. How it went is
 * told on descriptor 3, which runc was given for it, and which nothing after it holds: git, then
 * the command, run without it, so only this shell's word is ever written there. A checkout that
 * fails ends the container with git's exit code before the command starts.
 */
const RUN_PRIVATE_TEXT = [
  '__kiln_n=$1; shift; __kiln_text=; __kiln_i=0',
  'while [ "$__kiln_i" -lt "$__kiln_n" ]; do',
  `  eval "__kiln_text=\\$__kiln_text\\$${TEXT_VARIABLE}$__kiln_i; unset ${TEXT_VARIABLE}$__kiln_i"`,
  '  __kiln_i=$((__kiln_i + 1))',
  'done',
  'unset __kiln_n __kiln_i',
  'if [ "$#" -gt 0 ]; then',
  '  HOME=/nonexistent GIT_CONFIG_NOSYSTEM=1 PATH=/usr/local/bin:/usr/bin:/bin \\',
  `    git -c advice.detachedHead=false checkout -q --detach "$1" ${CHECKOUT_REPORT_FD}>&- ||`,
  `    { __kiln_i=$?; echo "failed $__kiln_i" >&${CHECKOUT_REPORT_FD}; exit "$__kiln_i"; }`,
  `  echo ${CHECKED_OUT} >&${CHECKOUT_REPORT_FD}`,
  `  exec ${CHECKOUT_REPORT_FD}>&-`,
  '  shift',
  'fi',
  'eval "unset __kiln_text; $__kiln_text"',
].join('\n');

/**
 * How the container's first process runs a shell command with the task's environment, so that
 * nothing the task chose acts on {@link PRIVATE_SHELL} before the command's text is out of its
 * environment: the dynamic loader reads `LD_PRELOAD` and the like as the shell starts (a library
 * of the checkout's, loaded into it, would read the text), and a shell may read `SHELLOPTS`. So the
 * shell starts with none of the task's variables but those it sets itself and those it could not
 * export; the text it evaluates exports the others first, as they are, then runs the command.
 * What the command and its processes see is the task's environment, as from `sh -c`.
 */
export function privateShellCommand(
  text: string,
  environment: Readonly<Record<string, string>>,
  /** Checked out before the text runs, its outcome told on descriptor 3 (see RUN_PRIVATE_TEXT). */
  checkout?: { commit: string },
): { argv: string[]; environment: Record<string, string> } {
  const direct: Record<string, string> = {};
  // Not `exports`: compiled to CommonJS, a local of that name hides the module's own.
  const exportLines: string[] = [];
  for (const [name, value] of Object.entries(environment)) {
    if (SHELL_NAME.test(name) && !SET_BY_THE_SHELL.has(name)) {
      exportLines.push(`export ${name}=${singleQuoted(value)}`);
    } else {
      direct[name] = value;
    }
  }
  const pieces = piecesOf([...exportLines, text].join('\n'), TEXT_PER_VARIABLE);
  pieces.forEach((piece, index) => (direct[`${TEXT_VARIABLE}${index}`] = piece));
  return {
    argv: [
      PRIVATE_SHELL,
      '-c',
      RUN_PRIVATE_TEXT,
      'sh',
      String(pieces.length),
      ...(checkout === undefined ? [] : [checkout.commit]),
    ],
    environment: direct,
  };
}

/** `word` as one word of the shell, as it is. */
function singleQuoted(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** `text` in pieces of at most `size` code units, never between the two halves of a pair. */
function piecesOf(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + size);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

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
