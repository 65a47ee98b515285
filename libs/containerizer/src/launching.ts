import { constants as fsConstants, openSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, resolve } from 'node:path';
import { ContainerLaunchError, type ContainerSpec } from './containerizer';

/*
 * What every containerizer that runs a command on the agent's own filesystem (process, cgroup)
 * needs to check and prepare before it starts one.
 */

/** The file in the sandbox where the wrapper leaves the command's exit code. */
export const EXIT_CODE_FILE = '.exit_code';

/** The `PATH` a task gets when its environment has none: what Mesos gives its tasks. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

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
  const timeout = spec.maxCompletionTimeMs;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    throw invalid(`maxCompletionTimeMs must be a positive number of milliseconds, got ${timeout}`);
  }
}

/**
 * Looks `command` up as `execvp` would, on the task's own `PATH` and relative to its sandbox, so
 * that a missing program fails the launch with a message rather than the task with exit code 127.
 */
export async function findExecutable(
  command: string,
  path: string,
  sandbox: string,
): Promise<string> {
  const candidates = command.includes('/')
    ? [resolve(sandbox, command)]
    : path.split(delimiter).map((dir) => resolve(sandbox, dir, command));
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

/**
 * Opens a sandbox output file for appending, refusing a symlink: the sandbox is the task's to
 * write in, and a link planted there must not make the agent append to a file elsewhere.
 */
export function openOutput(path: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW } = fsConstants;
  return openSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644);
}
