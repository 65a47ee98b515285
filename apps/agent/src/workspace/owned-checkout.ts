import { gitEnv, sharedLauncher } from '@kiln/common';
import { chownTree } from '@kiln/containerizer';

const CHECKOUT = ['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach'];

/**
 * Run as root in the checkout's new namespaces, in the workspace: shows the owner the workspace
 * at `/tmp/workspace` (on a `/tmp` of its own), then becomes the owner and runs git there. The
 * owner may not pass through the agent's data directory to the workspace, nor need it: git
 * resolves every path from `/` up, which that directory would refuse. `"."` is the shell's
 * working directory, the workspace, even once `/tmp` is covered.
 */
const OWNED_CHECKOUT_SCRIPT = [
  'set -e',
  'mount -t tmpfs -o size=64k,mode=0755,nosuid,nodev kiln-checkout /tmp',
  'mkdir /tmp/workspace',
  'mount --no-canonicalize --bind . /tmp/workspace',
  'cd /tmp/workspace',
  'owner=$1',
  'shift',
  'exec setpriv --reuid="$owner" --regid="$owner" --clear-groups --no-new-privs -- git "$@"',
].join('\n');

/**
 * Checks `sha` out of the repository in `workspace`, whose objects the agent has put there. This
 * is where git reads what a commit's author wrote (paths, links, `.gitattributes`) and writes
 * files after it, so with `ownerId` (the host id of the task's container's root) it runs as that
 * host user, never as the agent's root:
 * - the workspace, holding only what the agent put there, is given to the owner first;
 * - git runs in namespaces of its own: no network (what it needs is on disk), mounts of its own,
 *   and a pid namespace whose end ends everything it started, so no process of the owner's is
 *   left to race the agent's later work on the workspace as root (its ownership walk, the inputs,
 *   the artifacts);
 * - with no new privileges (a setuid program gives none) and no supplementary groups.
 *
 * A commit that took git over would hold a host user owning the task's files and nothing else,
 * for as long as the checkout lasts. Without `ownerId`, the task runs as the agent's own user or
 * as the host's root (the `process` and `docker` containerizers), and so does its checkout.
 */
export async function checkOutCommit(
  workspace: string,
  sha: string,
  ownerId: number | undefined,
): Promise<void> {
  if (ownerId === undefined) {
    await sharedLauncher().run('git', [...CHECKOUT, sha], { cwd: workspace, env: gitEnv() });
    return;
  }
  await chownTree(workspace, ownerId);
  await sharedLauncher().run(
    'unshare',
    [
      ...['--pid', '--net', '--ipc', '--mount', '--fork', '--kill-child', '--'],
      ...['/bin/sh', '-c', OWNED_CHECKOUT_SCRIPT, 'kiln-checkout', String(ownerId)],
      ...[...CHECKOUT, sha],
    ],
    // A home the owner cannot read would have git warn of each file it looks for there.
    { cwd: workspace, env: { ...gitEnv(), HOME: '/nonexistent' } },
  );
}
