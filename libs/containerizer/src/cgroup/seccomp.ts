import { readFile } from 'node:fs/promises';

/*
 * The native containerizer's seccomp filter is Docker's default profile, read from the file Docker
 * ships it in (Debian: golang-github-docker-docker-dev), never a copy of our own: an allowlist,
 * with rules that apply only for some capabilities, architectures or kernels. This module turns
 * that file into the OCI `linux.seccomp` object for the capabilities a task holds, as Docker's
 * daemon does for each container.
 */

/** Where Kiln's agents look for Docker's default profile unless told otherwise. */
export const DEFAULT_SECCOMP_PROFILE = '/usr/local/share/kiln/seccomp/docker-default.json';

/** A seccomp argument comparison, as both formats write it. */
interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

interface Conditions {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

interface DockerSyscallRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: Conditions;
  excludes?: Conditions;
}

/** Docker's profile format (`profiles/seccomp/default.json`). */
export interface DockerSeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls: DockerSyscallRule[];
}

/** What a task's filter depends on. */
export interface SeccompTarget {
  /** The capabilities the task holds (`CAP_…`). */
  capabilities: readonly string[];
  /** Node's `process.arch`. */
  arch: NodeJS.Architecture;
  /** The running kernel's release, e.g. `6.1.0-18-amd64`. */
  kernel: string;
}

/** Node's architecture names as Go's (`runtime.GOARCH`), which the profile's `arches` use. */
const GO_ARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  s390x: 's390x',
  ppc64: 'ppc64le',
};
/** The native seccomp architecture, whose `archMap` entry lists the sub-architectures too. */
const SCMP_ARCH: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'SCMP_ARCH_X86_64',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
  ia32: 'SCMP_ARCH_X86',
  s390x: 'SCMP_ARCH_S390X',
  ppc64: 'SCMP_ARCH_PPC64LE',
};

/** Reads and checks a Docker-format profile; the error names the file and what is wrong. */
export async function loadDockerSeccompProfile(path: string): Promise<DockerSeccompProfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(
      `the seccomp profile ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  return parseDockerSeccompProfile(text, path);
}

export function parseDockerSeccompProfile(text: string, source: string): DockerSeccompProfile {
  const fail = (what: string): never => {
    throw new Error(`the seccomp profile ${source} is not a Docker seccomp profile: ${what}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const profile = value as Partial<DockerSeccompProfile>;
  if (typeof profile.defaultAction !== 'string') return fail('no defaultAction');
  if (!Array.isArray(profile.syscalls) || profile.syscalls.length === 0) return fail('no syscalls');
  for (const [i, rule] of profile.syscalls.entries()) {
    if (!Array.isArray(rule.names) || !rule.names.every((n) => typeof n === 'string')) {
      fail(`syscalls[${i}] has no names`);
    }
    if (typeof rule.action !== 'string') fail(`syscalls[${i}] has no action`);
  }
  return profile as DockerSeccompProfile;
}

/**
 * The OCI `linux.seccomp` of `profile` for `target`, as Docker's daemon builds it: a rule is kept
 * only if the task holds every capability it `includes` and none it `excludes`, the architecture
 * and kernel match; the filter covers the native architecture and its sub-architectures (a 32-bit
 * binary must meet the same filter).
 */
export function ociSeccomp(
  profile: DockerSeccompProfile,
  target: SeccompTarget,
): Record<string, unknown> {
  const arch = GO_ARCH[target.arch];
  const native = SCMP_ARCH[target.arch];
  if (arch === undefined || native === undefined) {
    throw new Error(`no seccomp architecture is known for ${target.arch}`);
  }
  const caps = new Set(target.capabilities);
  const kernel = kernelVersion(target.kernel);
  const applies = (rule: DockerSyscallRule): boolean => {
    const { includes = {}, excludes = {} } = rule;
    if (includes.arches?.length && !includes.arches.includes(arch)) return false;
    if (excludes.arches?.includes(arch)) return false;
    if (includes.caps?.some((cap) => !caps.has(cap))) return false;
    if (excludes.caps?.some((cap) => caps.has(cap))) return false;
    if (includes.minKernel !== undefined) {
      const min = kernelVersion(includes.minKernel);
      if (compareVersions(kernel, min) < 0) return false;
    }
    return true;
  };
  const mapped = profile.archMap?.find((entry) => entry.architecture === native);
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: profile.defaultErrnoRet }),
    architectures: mapped ? [mapped.architecture, ...(mapped.subArchitectures ?? [])] : [native],
    syscalls: profile.syscalls.filter(applies).map((rule) => ({
      names: [...rule.names],
      action: rule.action,
      ...(rule.errnoRet === undefined ? {} : { errnoRet: rule.errnoRet }),
      ...(rule.args?.length ? { args: rule.args.map((arg) => ({ ...arg })) } : {}),
    })),
  };
}

/** `major.minor` of a kernel release (`6.1.0-18-amd64` → [6, 1]). */
function kernelVersion(release: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (match === null) throw new Error(`cannot read the kernel version ${JSON.stringify(release)}`);
  return [Number(match[1]), Number(match[2])];
}

function compareVersions(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}
