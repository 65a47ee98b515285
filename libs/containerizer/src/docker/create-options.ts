import type Docker from 'dockerode';
import type { ContainerSpec } from '../containerizer';
import { LABELS, NETWORK_ROLE, TASK_ROLE, type DockerCheckpoint } from './checkpoint';
import { USER_MODE_DNS } from './user-mode-network';

/* How the engine is asked to run a task: its container's configuration and its network holder's. */

/**
 * Where the sandbox's workspace appears inside the container, the task's working directory. The
 * sandbox itself, with the output files the agent reads back, is not mounted.
 */
export const WORKSPACE_MOUNT_PATH = '/workspace';

/**
 * The capabilities a task keeps out of Docker's default set (all others are dropped): what a
 * build running as root in its image ordinarily needs, and nothing that reaches beyond the
 * container (no NET_RAW, NET_ADMIN, SYS_*, MKNOD, AUDIT_WRITE, SETFCAP, NET_BIND_SERVICE).
 */
export const CAPABILITIES = [
  // Package managers and `tar -x` give the files they unpack their owners.
  'CHOWN',
  // Root reading and writing files it does not own, e.g. a checkout's in the workspace.
  'DAC_OVERRIDE',
  // chmod/utime on files root does not own, e.g. files of the image's layers.
  'FOWNER',
  // Dropping from root to an unprivileged user (`su`, `gosu`, test suites refusing to run as
  // root); `no-new-privileges` still stops gaining privileges back through setuid binaries.
  'SETGID',
  'SETUID',
  // Signalling processes of another user inside the container, e.g. after such a drop.
  'KILL',
] as const;

/** Where a task without `HOME` gets one: its root filesystem is read-only, `/tmp` is not. */
const DEFAULT_HOME = '/tmp';

/**
 * What a network holder runs: a shell builtin that waits on a standard input the engine keeps
 * open, forever and without a cycle of CPU. The holder runs the task's image, which has the
 * `/bin/sh` a task's script runs in.
 */
const HOLDER_COMMAND = ['/bin/sh', '-c', 'read -r _'];
/** The holder's memory: a shell waiting on a read. */
const HOLDER_MEMORY_BYTES = 16 * 1024 * 1024;
/**
 * The holder's CPU, a tenth of one: a shell waiting on a read needs none, but the holder runs the
 * task's image, whose `/bin/sh` is the build's to choose, for as long as the task runs.
 */
const HOLDER_NANO_CPUS = 100_000_000;

/** The engine's configuration of a task's container: see {@link DockerContainerizer}. */
export function taskContainerOptions(
  spec: ContainerSpec & { image: string },
  workspace: string,
  checkpoint: Omit<DockerCheckpoint, 'dockerId'>,
  networkMode: string,
  agent: { owner: string; pidsLimit: number },
): Docker.ContainerCreateOptions {
  const argv = spec.command.shell
    ? ['/bin/sh', '-c', spec.command.value]
    : [spec.command.value, ...spec.command.arguments];
  const timed = checkpoint.maxCompletionTimeMs !== undefined && checkpoint.deadline !== undefined;
  // Every label the agent reads back, set here: the engine gives a container its image's labels
  // too, and a build's image must not say what its container is (a holder), nor its deadline.
  const labels: Record<(typeof LABELS)[keyof typeof LABELS], string> = {
    [LABELS.managed]: 'true',
    [LABELS.containerId]: spec.containerId,
    [LABELS.owner]: agent.owner,
    [LABELS.role]: TASK_ROLE,
    [LABELS.stdoutOffset]: String(checkpoint.stdoutOffset),
    [LABELS.stderrOffset]: String(checkpoint.stderrOffset),
    [LABELS.maxCompletionTimeMs]: timed ? String(checkpoint.maxCompletionTimeMs) : '',
    [LABELS.deadline]: timed ? String(checkpoint.deadline) : '',
  };
  const { cpus, mem } = spec.resources;
  const memBytes = Math.round(mem * 1024 * 1024);
  const environment: Record<string, string> = { HOME: DEFAULT_HOME, ...spec.environment };
  // tini signals the command's process group, not the command alone: see the class comment.
  environment.TINI_KILL_PROCESS_GROUP = '1';
  return {
    // Named after the task so that a second launch of the id anywhere on the engine collides.
    name: `kiln-${spec.containerId}`,
    Image: spec.image,
    // The command replaces the image's entrypoint too: the spec says exactly what runs.
    Entrypoint: argv,
    Env: Object.entries(environment).map(([name, value]) => `${name}=${value}`),
    WorkingDir: WORKSPACE_MOUNT_PATH,
    Labels: labels,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: false,
    Tty: false,
    HostConfig: {
      // tini as PID 1: forwards SIGTERM to the command's group and reaps what it orphans.
      Init: true,
      Privileged: false,
      CapDrop: ['ALL'],
      CapAdd: [...CAPABILITIES],
      // Only this: the engine's default seccomp profile and AppArmor profile stay in force.
      SecurityOpt: ['no-new-privileges'],
      // `container:<holder>`: the holder's namespace, networked before the command's start.
      NetworkMode: networkMode,
      IpcMode: 'private',
      // The image cannot be changed under later tasks, nor a tool planted in it for them:
      // writes go to the workspace and the tmpfs below (and `/dev/shm`, the engine's tmpfs).
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,nosuid,nodev,exec,mode=1777' },
      ...(cpus > 0 ? { NanoCpus: Math.round(cpus * 1e9) } : {}),
      // Swap equal to memory: no swap, so the limit is the task's real memory.
      ...(memBytes > 0 ? { Memory: memBytes, MemorySwap: memBytes } : {}),
      PidsLimit: agent.pidsLimit,
      // Never a socket or anything else of the host, not even the sandbox's own files: the
      // workspace is the only mount.
      Mounts: [{ Type: 'bind', Source: workspace, Target: WORKSPACE_MOUNT_PATH }],
      // The engine's log is what a recovering agent replays: pinned to a driver that keeps it.
      LogConfig: { Type: 'json-file', Config: {} },
      RestartPolicy: { Name: 'no' },
      AutoRemove: false,
      // Its own view of the cgroup tree (not in dockerode's types, known to engines >= 20.10).
      ...({ CgroupnsMode: 'private' } as Docker.HostConfig),
    },
  };
}

/**
 * The engine's configuration of a task's network holder: the task's image, waiting on a read,
 * with nothing of the task's privileges and no network but the namespace it holds.
 */
export function holderOptions(
  spec: ContainerSpec & { image: string },
  owner: string,
): Docker.ContainerCreateOptions {
  return {
    name: `kiln-${spec.containerId}-network`,
    Image: spec.image,
    Entrypoint: HOLDER_COMMAND,
    Labels: {
      [LABELS.managed]: 'true',
      [LABELS.containerId]: spec.containerId,
      [LABELS.owner]: owner,
      [LABELS.role]: NETWORK_ROLE,
    },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    // Kept open by the engine, never written: the holder's read waits forever.
    OpenStdin: true,
    StdinOnce: false,
    Tty: false,
    HostConfig: {
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      NetworkMode: 'none',
      Dns: [USER_MODE_DNS],
      IpcMode: 'private',
      ReadonlyRootfs: true,
      Memory: HOLDER_MEMORY_BYTES,
      MemorySwap: HOLDER_MEMORY_BYTES,
      NanoCpus: HOLDER_NANO_CPUS,
      PidsLimit: 4,
      LogConfig: { Type: 'none', Config: {} },
      RestartPolicy: { Name: 'no' },
      AutoRemove: false,
    },
  };
}
