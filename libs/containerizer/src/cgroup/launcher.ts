import type { CgroupTools } from './detect';

/**
 * The `/bin/sh` program that starts every cgroup container. It joins the task's cgroup in every
 * hierarchy by writing its own pid (`$$`) into each `cgroup.procs`, and only then `exec`s
 * `unshare`, so the task's first instruction already runs in the cgroup and every process it
 * forks inherits it: there is no moment to escape a limit in, as moving a running process in
 * afterwards would leave. Like the wrapper it sets no variable (the environment is the task's) and
 * takes everything as arguments: `PROCS_FILE... -- UNSHARE_ARGV...`.
 */
const LAUNCHER = [
  'kiln_join() { while [ "$1" != -- ]; do printf \'%s\\n\' "$$" > "$1" || { echo "kiln: cannot join the cgroup ($1)" >&2; exit 125; }; shift; done; }',
  'kiln_exec() { while [ "$1" != -- ]; do shift; done; shift; exec "$@"; }',
  'kiln_join "$@"',
  'kiln_exec "$@"',
].join('\n');

/**
 * Runs first inside the new namespaces, as their pid 1, before it `exec`s the wrapper: it gives
 * the task a private `/tmp`, and when the sandbox lies under `/tmp` binds it back in at its own
 * path so that the task (and the wrapper's exit-code file) still find it there. `unshare --mount`
 * has made every mount private, so none of this reaches the host. The process runs in the
 * sandbox's workspace, so the bind's source is `..`, the sandbox that holds the workspace though
 * the tmpfs now hides it, which `mount -c` (no canonicalizing) passes to the kernel as it is.
 * Arguments: `MOUNT MKDIR TMPFS_OPTIONS SANDBOX_OR_EMPTY WRAPPER_ARGS...`.
 */
const NAMESPACE_SETUP = [
  '"$1" -t tmpfs -o "$3" tmpfs /tmp || exit 125',
  'if [ -n "$4" ]; then "$2" -p "$4" && "$1" -c --bind .. "$4" || exit 125; fi',
  'shift 4',
  'exec /bin/sh "$@"',
].join('\n');

export interface LaunchPlan {
  tools: CgroupTools;
  /** The `cgroup.procs` file of the task's cgroup in every hierarchy. */
  procsFiles: readonly string[];
  network: 'host' | 'none';
  /** The task's sandbox; the launcher is started in its workspace, `<sandbox>/workspace`. */
  sandbox: string;
  /** The size of the private `/tmp`, in MiB. */
  tmpSizeMiB: number;
  /** The arguments of `/bin/sh` that run the task's command under the exit-code wrapper. */
  wrapperArguments: readonly string[];
}

/** The arguments of the `/bin/sh` that launches a container: see {@link LAUNCHER}. */
export function launcherArguments(plan: LaunchPlan): string[] {
  const namespaces = [
    '--pid',
    '--fork',
    '--mount-proc',
    '--mount',
    '--uts',
    '--ipc',
    // A new network namespace has nothing but a loopback, which is what `none` promises.
    ...(plan.network === 'none' ? ['--net'] : []),
  ];
  const underTmp = plan.sandbox === '/tmp' || plan.sandbox.startsWith('/tmp/');
  return [
    '-c',
    LAUNCHER,
    'kiln-launch',
    ...plan.procsFiles,
    '--',
    plan.tools.unshare,
    ...namespaces,
    '--',
    '/bin/sh',
    '-c',
    NAMESPACE_SETUP,
    'kiln-namespace',
    plan.tools.mount,
    plan.tools.mkdir,
    `size=${Math.max(1, Math.round(plan.tmpSizeMiB))}m,mode=1777`,
    underTmp ? plan.sandbox : '',
    ...plan.wrapperArguments,
  ];
}
