import { gitEnv, sharedLauncher } from '@kiln/common';
import { chownTree, type WorkspaceOwnership } from '@kiln/containerizer';

const CHECKOUT = ['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach'];

/** How long a checkout by a task's user may take: past it, it is ended, and the task fails. */
export const OWNED_CHECKOUT_DEADLINE_MS = 10 * 60_000;

/**
 * Run as root in the checkout's new namespaces, in the workspace: shows the checkout's user the
 * workspace at `/tmp/workspace` (on a `/tmp` of its own), then runs git there as that user. The
 * user may not pass through the agent's data directory to the workspace, nor need it: git
 * resolves every path from `/` up, which that directory would refuse. `"."` is the shell's
 * working directory, the workspace, even once `/tmp` is covered.
 */
const OWNED_CHECKOUT_SCRIPT = [
  'set -e',
  'mount -t tmpfs -o size=64k,mode=0755,nosuid,nodev kiln-checkout /tmp',
  'mkdir /tmp/workspace',
  'mount --no-canonicalize --bind . /tmp/workspace',
  // The host's other directories anyone may write to: nothing the user writes outlives it.
  'for shared in /var/tmp /dev/shm; do',
  '  [ ! -d "$shared" ] || mount -t tmpfs -o size=1m,mode=1777,nosuid,nodev kiln-checkout "$shared"',
  'done',
  'cd /tmp/workspace',
  'user=$1',
  'shift',
  // Not exec'd: the shell stays the namespace's first process, as root, whose parent-death
  // signal (unshare's --kill-child) a change of user would clear. Its end ends the namespace.
  // At most 256 processes of the user's, files of 4 GiB, 16 GiB of address space each (by
  // util-linux's prlimit: shells' `ulimit` options differ).
  'prlimit --nproc=256 --fsize=4294967296 --as=17179869184 \\',
  '  setpriv --reuid="$user" --regid="$user" --clear-groups --no-new-privs -- git "$@"',
].join('\n');

/**
 * Who checks a commit out once the agent has put its objects into the workspace: a host user of
 * the task's ({@link WorkspaceOwnership}), or the task's container itself, before its command
 * (`'container'`: see `ContainerSpec.checkout`), which has the task's namespaces and limits and
 * starts no program but git. Without either, the agent, as itself.
 */
export type CheckoutBy = WorkspaceOwnership | 'container';

/**
 * Checks `sha` out of the repository in `workspace`, whose objects the agent has put there. This
 * is where git reads what a commit's author wrote (paths, links, `.gitattributes`) and writes
 * files after it, so with an ownership (`by`) it runs as a host user of the task's own
 * (`checkoutUser`), never as the agent's root:
 * - the workspace, holding only what the agent put there, is given to that user first;
 * - git runs in namespaces of its own: no network (what it needs is on disk), mounts of its own
 *   (a `/proc` of its pid namespace, a `/tmp` holding the workspace alone, a `/var/tmp` and
 *   `/dev/shm` of its own), and a pid namespace whose end ends everything it started, so no
 *   process of that user's is left to race the agent's later work on the workspace as root (its
 *   ownership walks, the inputs, the artifacts);
 * - with no new privileges (a setuid program gives none), no supplementary groups, bounded
 *   processes, file sizes and address space, and a deadline ({@link OWNED_CHECKOUT_DEADLINE_MS});
 *   a kill (`stop`) ends it at once.
 *
 * The workspace then goes to `owner` (the container's root) if that is another user. A commit that
 * took git over would hold a host user owning the task's files and nothing else, for as long as
 * the checkout lasts. Without an ownership (the `process` containerizer, whose task runs as the
 * agent's own user), git runs as the agent; with `'container'`, nothing runs here.
 */
export async function checkOutCommit(
  workspace: string,
  sha: string,
  by: CheckoutBy | undefined,
  /** Ends the checkout by the task's user (the task was killed); one as the agent runs on. */
  stop?: AbortSignal,
): Promise<void> {
  // Its container checks it out, from the objects put there (see SourceCache.dropPack).
  if (by === 'container') return;
  if (by === undefined) {
    await sharedLauncher().run('git', [...CHECKOUT, sha], { cwd: workspace, env: gitEnv() });
    return;
  }
  const { checkoutUser, owner } = by;
  await chownTree(workspace, checkoutUser);
  await sharedLauncher().run(
    'unshare',
    [
      ...['--pid', '--mount-proc', '--net', '--ipc', '--mount', '--fork', '--kill-child', '--'],
      ...['/bin/sh', '-c', OWNED_CHECKOUT_SCRIPT, 'kiln-checkout', String(checkoutUser)],
      ...[...CHECKOUT, sha],
    ],
    {
      cwd: workspace,
      // A home the user cannot read would have git warn of each file it looks for there.
      env: { ...gitEnv(), HOME: '/nonexistent' },
      timeoutMs: OWNED_CHECKOUT_DEADLINE_MS,
      // unshare holds SIGTERM back; SIGKILL ends it, and with it the namespace (`--kill-child`).
      killSignal: 'SIGKILL',
      ...(stop === undefined ? {} : { stop }),
    },
  );
  // Nothing of the checkout's user is left running: the walk races nothing.
  if (owner !== checkoutUser) await chownTree(workspace, owner);
}
