import { constants as fsConstants } from 'node:fs';
import { access, lstat, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import {
  ContainerLaunchError,
  OUTPUT_FILE_MODE,
  workspaceOf,
  type ContainerSpec,
} from './containerizer';

/*
 * What every containerizer that runs a command on the agent's own filesystem (process, cgroup)
 * needs to check and prepare before it starts one.
 */

/** The file in the sandbox where the wrapper leaves the command's exit code. */
export const EXIT_CODE_FILE = '.exit_code';

/** The `PATH` a task gets when its environment has none: what Mesos gives its tasks. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The environment a task's command runs with: its own, with {@link DEFAULT_PATH} if it has none. */
export function taskEnvironment(spec: Pick<ContainerSpec, 'environment'>): Record<string, string> {
  return { PATH: DEFAULT_PATH, ...spec.environment };
}

/** A commit's id: SHA-1's or SHA-256's, in hexadecimal. */
const COMMIT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function assertValidSpec(spec: ContainerSpec): void {
  const invalid = (why: string) =>
    new ContainerLaunchError('TASK_INVALID', `invalid container spec ${spec.containerId}: ${why}`);
  if (!isAbsolute(spec.sandbox)) throw invalid(`the sandbox ${spec.sandbox} is not absolute`);
  if (spec.command.value === '') throw invalid('the command is empty');
  const strings = spec.command.shell ? [] : spec.command.arguments;
  if ([spec.command.value, ...strings].some((s) => s.includes('\0'))) {
    throw invalid('the command contains a NUL character');
  }
  for (const [name, value] of Object.entries(spec.environment)) {
    if (name === '' || name.includes('=') || name.includes('\0') || value.includes('\0')) {
      throw invalid(`${JSON.stringify(name)} cannot be an environment variable`);
    }
  }
  if (spec.checkout !== undefined) {
    // An argument of git's: an id, never something it could take for an option.
    if (!COMMIT_ID.test(spec.checkout.commit)) {
      throw invalid(`${JSON.stringify(spec.checkout.commit)} is not a commit id to check out`);
    }
    if (spec.ready === undefined) throw invalid('a checkout needs a workspace made ready');
    // Run by the shell that then runs the command, which would pass a command without one
    // another environment than the task's (only names a shell can export).
    if (!spec.command.shell) throw invalid('a checkout needs a shell command');
  }
  const timeout = spec.maxCompletionTimeMs;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw invalid(`maxCompletionTimeMs must be a positive number of milliseconds, got ${timeout}`);
  }
}

/**
 * The workspace of the spec's sandbox, which the task runs in: made (empty) when the agent has not
 * made it. It must be a real directory: a link there would give the task (or, with Docker, the
 * engine's bind mount) some other directory of the host.
 *
 * One file system call where it can be, as each is a round trip through libuv's pool that a
 * launch waits for: a directory `mkdir` has just made is a real one, in a sandbox that is a
 * directory (`mkdir` never follows a link in the place it makes). Only one that was there already
 * is looked at.
 */
export async function prepareWorkspace(spec: Pick<ContainerSpec, 'sandbox'>): Promise<string> {
  const failed = (why: string) => new ContainerLaunchError('CONTAINER_LAUNCH_FAILED', why);
  const workspace = workspaceOf(spec.sandbox);
  try {
    await mkdir(workspace);
    return workspace;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw failed(`the sandbox ${spec.sandbox} is not an existing directory`);
    }
    if (code !== 'EEXIST') throw error;
  }
  if (!(await lstat(workspace)).isDirectory()) {
    throw failed(`the workspace ${workspace} is not a directory (a symbolic link?)`);
  }
  return workspace;
}

/**
 * Looks `command` up as `execvp` would, on the task's own `PATH` and relative to its working
 * directory, so that a missing program fails the launch with a message rather than the task with
 * exit code 127.
 */
export async function findExecutable(
  command: string,
  path: string,
  workingDirectory: string,
): Promise<string> {
  const candidates = command.includes('/')
    ? [resolve(workingDirectory, command)]
    : path.split(delimiter).map((dir) => resolve(workingDirectory, dir, command));
  for (const candidate of candidates) {
    const isFile = await stat(candidate).then(
      (s) => s.isFile(),
      () => false,
    );
    if (
      isFile &&
      (await access(candidate, fsConstants.X_OK).then(
        () => true,
        () => false,
      ))
    ) {
      return candidate;
    }
  }
  throw new ContainerLaunchError(
    'CONTAINER_LAUNCH_FAILED',
    command.includes('/')
      ? `cannot run ${JSON.stringify(command)}: no executable file there`
      : `cannot run ${JSON.stringify(command)}: no executable of that name on the task's PATH (${path})`,
  );
}

/** The sandbox's output files, open for a child process to inherit. */
export interface Outputs {
  stdout: number;
  stderr: number;
  /**
   * Closes the agent's copies once the child has its own. Nothing need wait for that, so it
   * returns at once: a launch awaits nothing between its spawn and its first read of the child.
   */
  close(): void;
}

/**
 * Opens the sandbox's `stdout` and `stderr` for appending, refusing symlinks. The task works in
 * the workspace, away from these files, but should a link get here anyway, it must not make the
 * agent append to a file elsewhere.
 */
export async function openOutputs(sandbox: string): Promise<Outputs> {
  // Both at once: a launch waits for one round trip through libuv's pool, not two.
  const [opened, alsoOpened] = await Promise.allSettled([
    openOutput(join(sandbox, 'stdout')),
    openOutput(join(sandbox, 'stderr')),
  ]);
  if (opened.status === 'rejected' || alsoOpened.status === 'rejected') {
    for (const result of [opened, alsoOpened]) {
      if (result.status === 'fulfilled') await result.value.close();
    }
    throw opened.status === 'rejected'
      ? opened.reason
      : (alsoOpened as PromiseRejectedResult).reason;
  }
  const stdout = opened.value;
  const stderr = alsoOpened.value;
  return {
    stdout: stdout.fd,
    stderr: stderr.fd,
    close: () => {
      for (const file of [stdout, stderr]) void file.close().catch(() => undefined);
    },
  };
}

function openOutput(path: string): Promise<FileHandle> {
  // Without waiting: a FIFO in its place would hold a thread of libuv's pool until something read
  // it. The launcher refuses anything but a regular file (see launcher.ts).
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, OUTPUT_FILE_MODE);
}

/**
 * The start (at most `maxBytes`) of a small file of the sandbox's own, e.g. the exit code: never
 * through a symbolic link, and only from a regular file (a FIFO would block the read forever).
 */
export async function readSandboxFile(path: string, maxBytes: number): Promise<string> {
  const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
  const file = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    if (!(await file.stat()).isFile()) throw new Error(`${path} is not a regular file`);
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await file.read(buffer, 0, maxBytes, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await file.close();
  }
}
