import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { runProgram } from '@kiln/common';
import { fenceArguments, HOST_LOOPBACK_RANGES, SLIRP4NETNS_OPTIONS } from '../network/user-mode';

/*
 * How the native containerizer drives `runc`: the shim that runs a container and records how it
 * ended, the hook that gives it a network, and the few `runc` commands it calls.
 */

/**
 * The `/bin/sh` program that runs one container: a detached process outside the container (the
 * agent's launcher starts it), so that the exit code it writes is out of the task's reach (the
 * task sees only its workspace) and survives an agent restart. `runc run --keep` runs the
 * container in the foreground and keeps it (its cgroup, with the counters that say which limit
 * ended it) until the agent deletes it; the shim then stops the container's user-mode network and
 * writes the code. Arguments: `RUNC STATE_DIR BUNDLE CONTAINER_ID EXIT_FILE NETWORK_PID_FILE
 * PID_FILE GATE CHECKOUT_REPORT TEXT`, the last three empty where there is none. The paths in the
 * sandbox (the shim's working directory) are given relative to it, and runc's pid file outside
 * it: a container made ahead of its task (a warm one) keeps running while its sandbox is renamed
 * to the task's.
 *
 * Whatever else, it waits for the agent's word on its standard input (its launcher's pipe) before
 * anything of the container runs: `go`, or end of file. A shim whose agent never heard back from
 * its spawn (the launcher lost meanwhile, or the agent dead) so starts nothing that nobody knows
 * of. Without GATE the word comes right after the spawn, and runc then makes and starts the
 * container at once.
 *
 * With GATE, a container made before its workspace is ready (see `ContainerSpec.ready`): the
 * shim makes GATE a FIFO, runs runc in the background, and waits for the agent's word on its
 * standard input: `go`, or end of file (the agent gave up on the task, or died). It passes the
 * word through the FIFO to the container's gate hook ({@link GATE_HOOK}), which runc runs before
 * the container's process starts, and which fails the start unless the word is `go`. (A hook gets
 * no descriptor of the shim's, and the agent's end of the shim's standard input is a socket,
 * which no path opens: hence the FIFO.) The shim holds the FIFO open for as long as runc runs: a
 * hook never waits on a FIFO nobody will write, unless the shim itself was killed. A container
 * whose word was not `go` ran nothing of its task, and the shim deletes it once runc has ended
 * (`--keep` would keep its cgroup for the agent, which may be gone).
 *
 * With CHECKOUT_REPORT, a file the agent made (root's alone), the container checks its commit out
 * before its command: runc passes the container's first process the file, opened for appending,
 * as its descriptor 3 (`--preserve-fds`), on which it reports the checkout (see the private
 * shell). A descriptor lets the container write there and nothing else: the file itself it can
 * neither open nor read. With TEXT too, a file the agent made (root's alone, and written before
 * its word `go`), it is passed opened for reading as descriptor 4, on which the private shell
 * reads the command's text (see `deliveredText`), and the word as descriptor 5: with GATE the
 * gate's FIFO, on which the private shell itself waits for it (such a container's process starts
 * at once, and waits there, with no gate hook), without it the word the shim got before it ran
 * runc. runc keeps them open while the container runs; the
 * hooks, which runc starts from Go, get none of its descriptors (the network hook's own 3 is
 * slirp4netns's ready pipe). A helper started from runc's process some other way would inherit
 * them.
 */
export const SHIM = [
  // The descriptors runc passes the container's first process: the report, then the text.
  'fds=',
  'if [ -n "${10}" ]; then fds="--preserve-fds 3"; elif [ -n "$9" ]; then fds="--preserve-fds 1"; fi',
  'if [ -n "$8" ]; then',
  // Opened for reading and writing, which never blocks: the word waits in the FIFO for the hook.
  '  mkfifo -m 600 "$8" && exec 3<>"$8" || exit 125',
  '  "$1" --root "$2" run --keep $fds --bundle "$3" --pid-file "$7" "$4" \\',
  '    </dev/null 5<&3 3>>"${9:-/dev/null}" 4<"${10:-/dev/null}" &',
  '  runc=$!',
  '  go=',
  '  read -r go',
  '  [ "$go" = go ] || go=no',
  // Recorded first, for a restarted agent to tell a container that never started (see GATE_WORD).
  `  printf '%s\\n' "$go" > "$8.word"`,
  `  printf '%s\\n' "$go" >&3`,
  '  wait "$runc"',
  '  code=$?',
  '  exec 3>&-',
  // A container told no ran nothing of its task: it goes, cgroup and all (runc keeps it).
  '  [ "$go" = go ] || "$1" --root "$2" delete --force "$4" >/dev/null 2>&1',
  'else',
  '  go=',
  '  read -r go',
  `  [ "$go" = go ] || { echo "the agent's word never came: not started" >&2; exit 125; }`,
  // The agent's word came before runc: a delivered command's shell is given it as it starts.
  '  "$1" --root "$2" run --keep $fds --bundle "$3" --pid-file "$7" "$4" \\',
  `    </dev/null 3>>"\${9:-/dev/null}" 4<"\${10:-/dev/null}" 5<<'WORD'`,
  'go',
  'WORD',
  '  code=$?',
  'fi',
  // Builtins only from here: every fork is time on each task's way out.
  'helper=; name=',
  '[ -f "$6" ] && read -r helper < "$6"',
  '[ -n "$helper" ] && [ -f "/proc/$helper/comm" ] && read -r name < "/proc/$helper/comm"',
  // A recorded pid may since be another process's: only slirp4netns is stopped.
  '[ "$name" = slirp4netns ] && kill "$helper"',
  // One write of a few bytes: a reader sees the whole code, or no code (then "unrecorded").
  `printf '%s\\n' "$code" > "$5"`,
  'exit "$code"',
].join('\n');

/** The shim's `$0`, which names it among the host's processes. */
export const SHIM_NAME = 'kiln-shim';

/** The arguments of `/bin/sh` that run the {@link SHIM}. */
export function shimArguments(plan: {
  runc: string;
  stateDir: string;
  /** The bundle, relative to the sandbox. */
  bundle: string;
  containerId: string;
  /** Where the exit code goes, relative to the sandbox. */
  exitFile: string;
  networkPidFile: string;
  /** Where runc writes the container's pid once its process runs: outside the sandbox. */
  pidFile: string;
  /** The FIFO of a gated container's word (see {@link SHIM}), relative to the sandbox; none: not gated. */
  gate?: string;
  /** Where a container that checks out reports it (see {@link SHIM}), relative to the sandbox. */
  checkoutReport?: string;
  /** Where a container's command is delivered (see {@link SHIM}), relative to the sandbox. */
  text?: string;
}): string[] {
  if (plan.text !== undefined && plan.checkoutReport === undefined) {
    throw new Error('a delivered text comes with a checkout report, on the descriptor before it');
  }
  return [
    '-c',
    SHIM,
    SHIM_NAME,
    plan.runc,
    plan.stateDir,
    plan.bundle,
    plan.containerId,
    plan.exitFile,
    plan.networkPidFile,
    plan.pidFile,
    plan.gate ?? '',
    plan.checkoutReport ?? '',
    plan.text ?? '',
  ];
}

/**
 * The lines of a hook that read the container state runc gives it on standard input and set `pid`
 * to its process's: by the shell itself, since each program started in a hook is a few
 * milliseconds more before the container's process can start.
 */
const READ_STATE_PID = [
  'state=',
  'while IFS= read -r line || [ -n "$line" ]; do state="$state$line"; line=; done',
  `pid=\${state#*'"pid":'}`,
  'pid=${pid#"${pid%%[! ]*}"}',
  'pid=${pid%%[!0-9]*}',
  '[ -n "$pid" ] || { echo "kiln: no pid in the container state" >&2; exit 1; }',
];

/**
 * The first `createRuntime` hook of every container: it takes the container's output back from
 * it. `runc run` in the foreground gives the container pipes for its standard output and error,
 * and makes them the container root's, which could then open them again for reading through
 * `/proc/self/fd` and take what the container's first process prints (a build's step markers)
 * before runc copies it to the sandbox. The hook gives both pipes to the host's root, writable by
 * the container's root group only (mode 0620): `/dev/stdout` still opens for writing, and nothing
 * in the container reads them, nor, not being their owner, changes that. It runs before the
 * container's process starts, so no process of the task ever held them otherwise.
 * Argument: `GID`, the host's id of the container's root group.
 */
export const OUTPUT_HOOK = [
  ...READ_STATE_PID,
  'out=/proc/$pid/fd/1 err=/proc/$pid/fd/2',
  '{ [ -p "$out" ] && [ -p "$err" ]; } || { echo "kiln: the container\'s output is no pipe" >&2; exit 1; }',
  'chown "0:$1" "$out" "$err" && chmod 620 "$out" "$err" ||',
  '  { echo "kiln: cannot take the container\'s output pipes back" >&2; exit 1; }',
].join('\n');

/** The hook that takes a container's output pipes back from it ({@link OUTPUT_HOOK}). */
export function outputHook(hostGid: number): { path: string; args: string[]; env: string[] } {
  return {
    path: '/bin/sh',
    args: ['sh', '-c', OUTPUT_HOOK, 'kiln-output', String(hostGid)],
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
  };
}

/**
 * The `createRuntime` hook that gives a container outbound network: runc runs it on the host once
 * the container's namespaces exist and before its process starts, with the container's state
 * (`"pid":N`) on standard input. It starts slirp4netns in the background for that pid, records
 * its pid for the shim to stop it, and returns once slirp4netns says the network is configured
 * (one byte on its ready pipe), failing the start otherwise. `--disable-host-loopback` keeps the
 * gateway 10.0.2.2 out of reach (see SLIRP4NETNS_OPTIONS).
 * slirp4netns itself connects from the host's network namespace to whatever address a packet
 * names, so the hook then fences 127.0.0.0/8 and 0.0.0.0/8 off the task's tap device (below).
 * Arguments: `SLIRP4NETNS PID_FILE LOG_FILE NSENTER`.
 */
export const NETWORK_HOOK = [
  ...READ_STATE_PID,
  `ready=$( { "$1" ${SLIRP4NETNS_OPTIONS.join(' ')} --ready-fd=3 "$pid" tap0 3>&1 >/dev/null 2>>"$3" </dev/null & echo "$!" > "$2"; } | head -c 1 )`,
  '[ "$ready" = 1 ] || { echo "kiln: slirp4netns did not start, see $3" >&2; exit 1; }',
  // The host's loopback fenced off tap0 (see HOST_LOOPBACK_RANGES), the task's own lo untouched:
  // every rule by one `ip`, which stops at the first that fails.
  `"$4" --net="/proc/$pid/ns/net" ip -batch - <<'FENCES' ||`,
  ...HOST_LOOPBACK_RANGES.map((range) => fenceArguments(range).join(' ')),
  'FENCES',
  `  { echo "kiln: cannot fence ${HOST_LOOPBACK_RANGES.join(', ')} off the task's network" >&2; exit 1; }`,
].join('\n');

export function networkHook(plan: {
  slirp4netns: string;
  pidFile: string;
  logFile: string;
  /** `nsenter` (util-linux), which runs `ip` (iproute2) in the task's network namespace. */
  nsenter?: string;
}): {
  path: string;
  args: string[];
  env: string[];
  timeout: number;
} {
  return {
    path: '/bin/sh',
    args: [
      'sh',
      '-c',
      NETWORK_HOOK,
      'kiln-network',
      plan.slirp4netns,
      plan.pidFile,
      plan.logFile,
      plan.nsenter ?? 'nsenter',
    ],
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
    timeout: 10,
  };
}

/**
 * The last `createRuntime` hook of a container made before its workspace is ready: runc runs it
 * on the host once the namespaces, mounts and network exist, and starts the container's process
 * only if it exits 0. It reads the container state runc gives it, then the shim's word from the
 * FIFO (see {@link SHIM}): `go` once the agent has the workspace ready, anything else if not.
 * Builtins only. Argument: `GATE`.
 */
export const GATE_HOOK = [
  'while read -r _; do :; done',
  'go=',
  'read -r go < "$1"',
  '[ "$go" = go ] || { echo "kiln: the workspace was not made ready: not started" >&2; exit 1; }',
].join('\n');

/** The hook that holds a container's process until its workspace is ready ({@link GATE_HOOK}). */
export function gateHook(gate: string): { path: string; args: string[]; env: string[] } {
  // No timeout: a checkout may take minutes, and the shim ends the wait either way.
  return {
    path: '/bin/sh',
    args: ['sh', '-c', GATE_HOOK, 'kiln-gate', gate],
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
  };
}

/**
 * Where the shim of a gated container records the agent's word (`GATE.word`): a container whose
 * word is not `go` (or not there yet, for an agent that died before the shim read its end) never
 * starts its command.
 */
export function gateWordFile(gate: string): string {
  return `${gate}.word`;
}

/** The line the agent writes to a gated shim's standard input to start its container. */
export const GATE_OPEN = 'go\n';

/**
 * Says no at a gate whose shim is gone. The shim holds the gate's FIFO open while runc runs, so
 * the hook's open never waits; but a shim killed before the hook opened it leaves no writer, and
 * the hook (with `runc run` above it) would wait in `open` for good. The FIFO is opened here for
 * reading and writing, which never blocks, and `no` is left in it for that hook to read; the
 * FIFO keeps it only while the returned handle is open, so close it once the container is
 * deleted. Undefined when there is no FIFO (the shim died before making it).
 */
export async function refuseAtGate(gate: string): Promise<FileHandle | undefined> {
  const fifo = await open(gate, constants.O_RDWR | constants.O_NONBLOCK).catch(() => undefined);
  if (fifo === undefined) return undefined;
  if (!(await fifo.stat()).isFIFO()) {
    await fifo.close();
    return undefined;
  }
  await fifo.write('no\n').catch(() => undefined);
  return fifo;
}

/** `runc` of one state directory: the agent's own, root-only. */
export class Runc {
  constructor(
    readonly path: string,
    readonly stateDir: string,
  ) {}

  /** The ids of the containers runc knows in the state directory. */
  async list(): Promise<string[]> {
    const { stdout } = await runProgram(this.path, [
      '--root',
      this.stateDir,
      'list',
      '--format',
      'json',
    ]);
    const parsed = JSON.parse(stdout.trim() === '' ? 'null' : stdout) as { id: string }[] | null;
    return (parsed ?? []).map((container) => container.id);
  }

  /** Kills whatever is left of the container and removes it (its cgroup and state); idempotent. */
  async delete(containerId: string): Promise<void> {
    // Without its state runc knows no such container: no program to start to hear it say so, at
    // the end of every task whose state went with its end.
    const known = await lstat(join(this.stateDir, containerId)).then(
      () => true,
      () => false,
    );
    if (!known) return;
    try {
      await runProgram(this.path, ['--root', this.stateDir, 'delete', '--force', containerId]);
    } catch (error) {
      const { stderr } = error as { stderr?: unknown };
      if (typeof stderr !== 'string') throw error;
      if (!/does not exist|not exist/.test(stderr)) throw error;
    }
  }
}
