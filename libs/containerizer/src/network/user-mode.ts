import { runProgram } from '@kiln/common';

/*
 * What every task's user-mode network (slirp4netns) is started with, for the native and the
 * Docker containerizer alike: one definition of the network a build gets.
 */

/**
 * slirp4netns's options. `--disable-host-loopback` refuses the gateway alias 10.0.2.2, and
 * `--enable-seccomp` confines slirp4netns itself, which parses the task's packets as host root.
 * Not `--enable-sandbox`: slirp4netns 1.2's sandbox made concurrent container starts on the same
 * host fail ("exec: /bin/sh: no such file or directory", a few in a hundred under Docker).
 */
export const SLIRP4NETNS_OPTIONS = [
  '--configure',
  '--mtu=65520',
  '--disable-host-loopback',
  '--enable-seccomp',
] as const;

/**
 * The destinations fenced off a task's tap device. slirp4netns opens its connections from the
 * host's network namespace to whatever address a packet names: a socket bound to tap0
 * (SO_BINDTODEVICE needs no capability) could name the host's 127.0.0.1 or 0.0.0.0, which
 * `--disable-host-loopback` does not refuse.
 */
export const HOST_LOOPBACK_RANGES = ['127.0.0.0/8', '0.0.0.0/8'] as const;

/** The `ip` arguments that fence `range` off tap0; the task cannot undo them (no CAP_NET_ADMIN). */
export function fenceArguments(range: string): string[] {
  return ['rule', 'add', 'pref', '1', 'oif', 'tap0', 'to', range, 'prohibit'];
}

/**
 * Fences the host's loopback off the tap device of host process `pid`'s network namespace.
 * Idempotent: a namespace fenced before (a network given again after an agent restart) keeps its
 * rules.
 */
export async function fenceHostLoopback(pid: number, nsenter = 'nsenter'): Promise<void> {
  // Both at once: the rules are independent, and a launch waits for them.
  await Promise.all(
    HOST_LOOPBACK_RANGES.map(async (range) => {
      try {
        await runProgram(nsenter, [`--net=/proc/${pid}/ns/net`, 'ip', ...fenceArguments(range)], {
          PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        });
      } catch (error) {
        const { stderr } = error as { stderr?: unknown };
        if (typeof stderr === 'string' && stderr.includes('File exists')) return;
        throw error;
      }
    }),
  );
}
