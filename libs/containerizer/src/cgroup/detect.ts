import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupVersion, V1Hierarchy } from './cgroups';
import { CONTROLLER_NAMES, CONTROLLERS, type ControllerName } from './controllers';
import {
  DEFAULT_SECCOMP_PROFILE,
  loadDockerSeccompProfile,
  type DockerSeccompProfile,
} from './seccomp';

/** Where cgroup hierarchies are mounted on every mainstream distribution. */
export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * The programs the containerizer runs by absolute path: the OCI runtime, and the user-mode network
 * stack that gives a container outbound access without the host's loopback.
 */
export interface CgroupTools {
  runc: string;
  slirp4netns: string;
}

/** Whether this host can run the cgroup containerizer, and with what. */
export type CgroupDetection =
  | {
      supported: true;
      version: CgroupVersion;
      root: string;
      tools: CgroupTools;
      /** Docker's default seccomp profile, every task's filter (see seccomp.ts). */
      seccomp: DockerSeccompProfile;
    }
  | { supported: false; reason: string };

export interface DetectCgroupsOptions {
  /** Where the hierarchies are mounted; default {@link DEFAULT_CGROUP_ROOT}. */
  root?: string;
  /** The controllers needed; default all that the containerizer knows. */
  controllers?: readonly ControllerName[];
  /** Whether to require root; default true. Unit tests of a fake tree turn it off. */
  requireRoot?: boolean;
  /** Docker's default seccomp profile (its JSON file); default {@link DEFAULT_SECCOMP_PROFILE}. */
  seccompProfile?: string;
}

const TOOL_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/** The v1 hierarchies a task's cgroup is made in: those of its controllers, and the freezer. */
export function v1Hierarchies(controllers: readonly ControllerName[]): V1Hierarchy[] {
  const hierarchies = controllers.flatMap((name) => CONTROLLERS[name]('v1').hierarchies);
  return [...new Set<V1Hierarchy>([...hierarchies, 'freezer'])];
}

/**
 * Tells whether this host can run tasks in cgroups, and which version it has, or why not: what the
 * agent fingerprints with before it advertises the `cgroup` containerizer. A host is v2 when its
 * root is the unified hierarchy (`cgroup.controllers` there); a hybrid host, whose unified
 * hierarchy is mounted beside the v1 ones, is used as v1, since its controllers are all there.
 */
export async function detectCgroups(options: DetectCgroupsOptions = {}): Promise<CgroupDetection> {
  const root = options.root ?? DEFAULT_CGROUP_ROOT;
  const controllers = options.controllers ?? CONTROLLER_NAMES;
  const unsupported = (reason: string): CgroupDetection => ({ supported: false, reason });
  if ((options.requireRoot ?? true) && process.getuid?.() !== 0) {
    return unsupported('the cgroup containerizer needs root (to manage cgroups and namespaces)');
  }
  const tools = await findTools();
  if (typeof tools === 'string') return unsupported(tools);
  // No filter, no sandbox: a host without the profile does not offer the containerizer at all.
  const profilePath = options.seccompProfile ?? DEFAULT_SECCOMP_PROFILE;
  let seccomp: DockerSeccompProfile;
  try {
    seccomp = await loadDockerSeccompProfile(profilePath);
  } catch (error) {
    return unsupported(
      `${(error as Error).message}: it is Docker's default profile, profiles/seccomp/default.json ` +
        "in Debian's golang-github-docker-docker-dev (scripts/services.sh installs it), or set " +
        'KILN_AGENT_SECCOMP_PROFILE',
    );
  }

  const v2Controllers = await readFile(join(root, 'cgroup.controllers'), 'utf8').catch(
    () => undefined,
  );
  if (v2Controllers !== undefined) {
    const enabled = await readFile(join(root, 'cgroup.subtree_control'), 'utf8').catch(() => '');
    const missing = controllers.filter((name) => !enabled.split(/\s+/).includes(name));
    if (missing.length > 0) {
      return unsupported(
        `cgroup v2 at ${root} does not hand the ${missing.join(', ')} controller(s) down to its ` +
          'children (cgroup.subtree_control)',
      );
    }
    if (!(await writable(root))) return unsupported(`cgroup v2 at ${root} is not writable`);
    return { supported: true, version: 'v2', root, tools, seccomp };
  }

  for (const hierarchy of v1Hierarchies(controllers)) {
    const dir = join(root, hierarchy);
    if (!(await writable(join(dir, 'cgroup.procs'))) || !(await writable(dir))) {
      return unsupported(`the cgroup v1 hierarchy ${dir} is missing or not writable`);
    }
  }
  return { supported: true, version: 'v1', root, tools, seccomp };
}

async function writable(path: string): Promise<boolean> {
  return access(path, constants.W_OK).then(
    () => true,
    () => false,
  );
}

async function findTools(): Promise<CgroupTools | string> {
  const found: Partial<CgroupTools> = {};
  for (const name of ['runc', 'slirp4netns'] as const) {
    for (const dir of TOOL_DIRS) {
      const path = join(dir, name);
      if (
        await access(path, constants.X_OK).then(
          () => true,
          () => false,
        )
      ) {
        found[name] = path;
        break;
      }
    }
    if (found[name] === undefined)
      return `no ${name} program (Debian packages runc, slirp4netns) in ${TOOL_DIRS.join(':')}`;
  }
  return found as CgroupTools;
}
