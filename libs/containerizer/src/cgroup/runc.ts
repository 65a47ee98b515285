import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fenceArguments, HOST_LOOPBACK_RANGES, SLIRP4NETNS_OPTIONS } from '../network/user-mode';

const run = promisify(execFile);

/*
 * How the native containerizer drives `runc`: the shim that runs a container and records how it
 * ended, the hook that gives it a network, and the few `runc` commands it calls.
 */

/**
 * The `/bin/sh` program that runs one container: the agent's detached child, outside the
 * container, so that the exit code it writes is out of the task's reach (the task sees only its
 * workspace) and survives an agent restart. `runc run --keep` runs the container in the
 * foreground and keeps it (its cgroup, with the counters that say which limit ended it) until the
 * agent deletes it; the shim then stops the container's user-mode network and writes the code.
 * Arguments: `RUNC STATE_DIR BUNDLE CONTAINER_ID EXIT_FILE NETWORK_PID_FILE`.
 */
export const SHIM = [
  '"$1" --root "$2" run --keep --bundle "$3" --pid-file "$3/pid" "$4" </dev/null',
  'code=$?',
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

/** The arguments of `/bin/sh` that run the {@link SHIM}. */
export function shimArguments(plan: {
  runc: string;
  stateDir: string;
  bundle: string;
  containerId: string;
  exitFile: string;
  networkPidFile: string;
}): string[] {
  return [
    '-c',
    SHIM,
    'kiln-shim',
    plan.runc,
    plan.stateDir,
    plan.bundle,
    plan.containerId,
    plan.exitFile,
    plan.networkPidFile,
  ];
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
  `pid=$(sed -n 's/.*"pid": *\\([0-9][0-9]*\\).*/\\1/p')`,
  '[ -n "$pid" ] || { echo "kiln: no pid in the container state" >&2; exit 1; }',
  `ready=$( { "$1" ${SLIRP4NETNS_OPTIONS.join(' ')} --ready-fd=3 "$pid" tap0 3>&1 >/dev/null 2>>"$3" </dev/null & echo "$!" > "$2"; } | head -c 1 )`,
  '[ "$ready" = 1 ] || { echo "kiln: slirp4netns did not start, see $3" >&2; exit 1; }',
  // The host's loopback fenced off tap0 (see HOST_LOOPBACK_RANGES); the task's own lo untouched.
  ...HOST_LOOPBACK_RANGES.map(
    (range) =>
      `"$4" --net="/proc/$pid/ns/net" ip ${fenceArguments(range).join(' ')} ||` +
      ` { echo "kiln: cannot fence ${range} off the task's network" >&2; exit 1; }`,
  ),
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

/** `runc` of one state directory: the agent's own, root-only. */
export class Runc {
  constructor(
    readonly path: string,
    readonly stateDir: string,
  ) {}

  /** The ids of the containers runc knows in the state directory. */
  async list(): Promise<string[]> {
    const { stdout } = await run(this.path, ['--root', this.stateDir, 'list', '--format', 'json']);
    const parsed = JSON.parse(stdout.trim() === '' ? 'null' : stdout) as { id: string }[] | null;
    return (parsed ?? []).map((container) => container.id);
  }

  /** Kills whatever is left of the container and removes it (its cgroup and state); idempotent. */
  async delete(containerId: string): Promise<void> {
    try {
      await run(this.path, ['--root', this.stateDir, 'delete', '--force', containerId]);
    } catch (error) {
      const { stderr } = error as { stderr?: unknown };
      if (typeof stderr !== 'string') throw error;
      if (!/does not exist|not exist/.test(stderr)) throw error;
    }
  }
}
