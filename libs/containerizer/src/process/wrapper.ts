/**
 * The `/bin/sh` program that leads every process container. It exists for recovery: after an
 * agent restart the task is no longer the agent's child, so the agent can no longer learn its exit
 * code; the wrapper, which is the task's parent, writes it to a file before it exits.
 *
 * It runs as `/bin/sh -c WRAPPER kiln-container CONTAINER_ID FIX... -- COMMAND ARG...`, the command
 * passed as arguments and never pasted into the script, so no quoting can go wrong. It writes how
 * the command ended as the line `CONTAINER_ID PID CODE` to its descriptor 3, an exit file the agent
 * opened for appending (see `exit-journal.ts`); the command gets no descriptor 3. Its rules:
 * - It sets no variable: its environment is the task's, and a variable the task also has (`c`,
 *   `f`…) would be exported to the command changed. Positional parameters and functions only.
 * - A shell changes a few variables of its environment on its own (`PWD` always; `IFS`, `OPTIND`,
 *   `PPID` when given); the FIX arguments (`NAME=value` to restore, `-NAME` to remove) undo that.
 * - SIGTERM to the process group must reach the command, yet the wrapper must outlive it to write
 *   the exit code: it traps TERM with a no-op, which the command does not inherit (exec resets
 *   caught signals to their default); SIGKILL still ends both.
 * - It starts the command only once the agent has recorded it: it waits for the line `go` on its
 *   standard input, which the agent writes after the container's runtime record. An agent killed
 *   before its go closes the pipe by dying: the wrapper reads end-of-file, writes the line
 *   `CONTAINER_ID PID unstarted` and exits 125 without running anything. The restarted agent,
 *   finding no record (killed before it) or that line (killed between the record and the go),
 *   truthfully says the command never ran, and the task may be launched again without running
 *   twice. `local` keeps the line out of the command's environment, even one with a `go` variable.
 */

import { join } from 'node:path';
import { EXIT_CODE_FILE, readSandboxFile } from '../launching';

/** How the wrapper ends when its agent died before recording it: the command never started. */
export const UNRECORDED_EXIT_CODE = 125;

/** What the wrapper writes in its exit line instead of a code when its command never started. */
export const UNSTARTED = 'unstarted';

/** What the agent writes to the wrapper's standard input once the container is recorded. */
export const GO_LINE = 'go\n';
const WRAPPER = [
  'kiln_env() { shift; while [ "$1" != -- ]; do case $1 in -*) unset "${1#-}";; *) export "$1";; esac; shift; done; }',
  'kiln_run() { shift; while [ "$1" != -- ]; do shift; done; shift; "$@"; }',
  `kiln_exit() { printf '%s %s %s\\n' "$2" "$$" "$1" >&3 2>/dev/null; exit "$1"; }`,
  `kiln_unstarted() { printf '%s %s ${UNSTARTED}\\n' "$1" "$$" >&3 2>/dev/null; exit ${UNRECORDED_EXIT_CODE}; }`,
  'kiln_gate() { local go; read -r go && [ "$go" = go ]; }',
  'trap : TERM',
  'kiln_gate || kiln_unstarted "$1"',
  'exec </dev/null',
  'kiln_env "$@"',
  'kiln_run "$@" 3>&-',
  'kiln_exit "$?" "$1"',
].join('\n');

/** Variables `/bin/sh` sets itself at startup, whatever the environment said. */
const SHELL_MANAGED = ['PWD', 'IFS', 'OPTIND', 'PPID'] as const;

/**
 * The arguments of `/bin/sh` that run `argv` with exactly `environment`, recording its exit code
 * under `containerId` in the exit file given as descriptor 3.
 */
export function wrapperArguments(
  containerId: string,
  environment: Readonly<Record<string, string>>,
  argv: readonly string[],
): string[] {
  const fixes = SHELL_MANAGED.flatMap((name) => {
    const value = Object.hasOwn(environment, name) ? environment[name] : undefined;
    if (value !== undefined) return [`${name}=${value}`];
    // dash exports PWD even when it was not given; the others only when they were.
    return name === 'PWD' ? ['-PWD'] : [];
  });
  return ['-c', WRAPPER, 'kiln-container', containerId, ...fixes, '--', ...argv];
}

/**
 * Why `/bin/sh` cannot pass `environment` on exactly, if it cannot: a shell drops variables whose
 * names are not shell identifiers, and dash refuses to start with a non-numeric `OPTIND`.
 */
export function environmentProblem(
  environment: Readonly<Record<string, string>>,
  /** Who says so: the cgroup containerizer runs its tasks under the same wrapper. */
  containerizer: 'process' | 'cgroup' = 'process',
): string | undefined {
  for (const [name, value] of Object.entries(environment)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      return `the ${containerizer} containerizer can only pass environment variables named like shell identifiers, not ${JSON.stringify(name)}`;
    }
    if (name === 'OPTIND' && !/^\d+$/.test(value)) {
      return `the ${containerizer} containerizer runs tasks under /bin/sh, which refuses a non-numeric OPTIND (${JSON.stringify(value)})`;
    }
  }
  return undefined;
}

/** The exit code the wrapper recorded, or `undefined` if it left none (or half of one). */
export function parseExitCodeFile(text: string): number | undefined {
  const match = /^(\d{1,3})\n$/.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * How a command ended, from `<sandbox>/.exit_code`; undefined if unreadable, a symbolic link or
 * anything but a regular file. The cgroup containerizer's shim writes it, as the process
 * containerizer's wrapper did before its exit files.
 */
export async function readRecordedExit(sandbox: string): Promise<{ code: number } | undefined> {
  try {
    // One byte more than any exit code takes, so that a longer file does not parse.
    const code = parseExitCodeFile(await readSandboxFile(join(sandbox, EXIT_CODE_FILE), 5));
    return code === undefined ? undefined : { code };
  } catch {
    return undefined;
  }
}
