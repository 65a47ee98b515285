import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fenceHostLoopback, SLIRP4NETNS_OPTIONS } from '../network/user-mode';

/*
 * The user-mode network of a Docker task: a slirp4netns attached to the network namespace of the
 * task's holder container. slirp4netns runs on the host, detached from the agent, so that a task
 * keeps its network over an agent restart; it is found again by a marker in its environment
 * (`/proc/<pid>/environ`, readable by root only), so no state file is needed.
 *
 * The native containerizer starts its slirp4netns from a runc hook (cgroup/runc.ts) with the same
 * options; the two differ in how they are started and found again, not in the network they give.
 */

/** The environment variable that marks a slirp4netns as a Docker task's: `OWNER/CONTAINER_ID`. */
const MARKER = 'KILN_DOCKER_NETWORK';
const TOOL_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** slirp4netns's DNS forwarder, the address of every task's `nameserver`. */
export const USER_MODE_DNS = '10.0.2.3';

/** Where slirp4netns is installed (Debian package `slirp4netns`); `undefined` if nowhere. */
export async function findSlirp4netns(): Promise<string | undefined> {
  for (const dir of TOOL_DIRS) {
    const path = join(dir, 'slirp4netns');
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return path;
  }
  return undefined;
}

/**
 * Starts slirp4netns for the network namespace of host process `pid` and resolves with its pid
 * once it says the namespace is configured (tap0 10.0.2.100/24, default route through 10.0.2.2).
 * The options are the native containerizer's ({@link SLIRP4NETNS_OPTIONS}), and the host's
 * loopback is fenced off the task's tap device as there ({@link fenceHostLoopback}), before
 * slirp4netns starts. Its messages are dropped: the sandbox holds the task's output only.
 */
export async function startUserModeNetwork(plan: {
  slirp4netns: string;
  pid: number;
  owner: string;
  containerId: string;
  /** `nsenter` (util-linux), which runs `ip` in the task's namespace; found on PATH by default. */
  nsenter?: string;
}): Promise<number> {
  // Before slirp4netns attaches: the holder runs the task's image, whose own code runs from the
  // holder's start and would reach the host's loopback until the rules are there. `ip rule`
  // takes tap0 by name before the device exists.
  try {
    await fenceHostLoopback(plan.pid, plan.nsenter);
  } catch (error) {
    throw new Error(`cannot fence the host's loopback off the task's network: ${String(error)}`);
  }
  const child = spawn(
    plan.slirp4netns,
    [
      ...SLIRP4NETNS_OPTIONS,
      '--ready-fd=3',
      '--netns-type=path',
      `/proc/${plan.pid}/ns/net`,
      'tap0',
    ],
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { PATH: TOOL_DIRS.join(':'), [MARKER]: markerOf(plan.owner, plan.containerId) },
    },
  );
  const ready = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => reject(new Error(`slirp4netns ${why}`));
      const timer = setTimeout(() => fail('was not ready in time'), READY_TIMEOUT_MS);
      ready.once('data', (chunk: Buffer) => {
        clearTimeout(timer);
        if (chunk.toString().startsWith('1')) resolve();
        else fail('said it is not ready');
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        fail(`could not be started (${error.message})`);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(`ended before it was ready (${signal ?? `exit code ${code}`})`);
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    ready.destroy();
  }
  child.unref();
  if (child.pid === undefined) throw new Error('slirp4netns has no pid');
  return child.pid;
}

/**
 * The live slirp4netns processes of `owner`'s Docker tasks, by task container id. A process that
 * has ended but is not yet reaped (a zombie) is not live.
 */
export async function userModeNetworks(owner: string): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  const prefix = `${MARKER}=${owner}/`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() !== 'slirp4netns' || !(await isLive(pid))) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    const marker = environ.split('\0').find((variable) => variable.startsWith(prefix));
    if (marker === undefined) continue;
    const containerId = marker.slice(prefix.length);
    found.set(containerId, [...(found.get(containerId) ?? []), pid]);
  }
  return found;
}

/** Stops these slirp4netns processes and waits until they are gone; SIGKILL for a slow one. */
export async function stopUserModeNetworks(pids: readonly number[]): Promise<void> {
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Ended meanwhile.
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  for (const pid of pids) {
    while (await isLive(pid)) {
      if (Date.now() > deadline) {
        signal(pid, 'SIGKILL');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

function markerOf(owner: string, containerId: string): string {
  return `${owner}/${containerId}`;
}

/** Whether the host's process runs (exists and is not a zombie waiting for its parent). */
export async function isLive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // `pid (comm) state …`: comm may hold spaces and parentheses, the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z' && state !== 'X';
}
