import { describe, expect, it } from 'vitest';
import { ociSeccomp, parseDockerSeccompProfile, type DockerSeccompProfile } from './seccomp';

/** The shape of Docker's default profile, cut to one rule of each kind it has. */
const PROFILE: DockerSeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  archMap: [
    { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
    { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
  ],
  syscalls: [
    { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], includes: {}, excludes: {} },
    { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
    { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
    {
      names: ['mount', 'unshare'],
      action: 'SCMP_ACT_ALLOW',
      includes: { caps: ['CAP_SYS_ADMIN'] },
    },
    { names: ['chroot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_CHROOT'] } },
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] },
    },
    {
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 38,
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    },
  ],
};

const TASK = {
  capabilities: ['CAP_CHOWN', 'CAP_SYS_CHROOT'],
  arch: 'x64',
  kernel: '6.1.0-18-amd64',
} as const;

const names = (filter: Record<string, unknown>): string[] =>
  (filter.syscalls as { names: string[] }[]).flatMap((rule) => rule.names);

describe(ociSeccomp.name, () => {
  it("keeps the rules of the capabilities the task holds, and refuses the rest by Docker's default", () => {
    const filter = ociSeccomp(PROFILE, TASK);
    expect(filter.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(names(filter)).toContain('chroot');
    // CAP_SYS_ADMIN is not the task's: mount and unshare fall to the default (refused) ...
    expect(names(filter)).not.toContain('mount');
    expect(names(filter)).not.toContain('unshare');
    // ... clone only without namespace flags, and clone3 answers ENOSYS so libc uses clone.
    expect(filter.syscalls).toContainEqual({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    expect(filter.syscalls).toContainEqual({
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 38,
    });
  });

  it('drops the rules of other architectures, and filters the sub-architectures too', () => {
    const x64 = ociSeccomp(PROFILE, TASK);
    expect(x64.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(names(x64)).toContain('arch_prctl');
    const arm = ociSeccomp(PROFILE, { ...TASK, arch: 'arm64' });
    expect(arm.architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(names(arm)).not.toContain('arch_prctl');
  });

  it('keeps a rule only on kernels at least as new as its minKernel', () => {
    expect(names(ociSeccomp(PROFILE, TASK))).toContain('ptrace');
    expect(names(ociSeccomp(PROFILE, { ...TASK, kernel: '4.4.0-210-generic' }))).not.toContain(
      'ptrace',
    );
  });

  it('refuses an architecture it has no seccomp name for', () => {
    expect(() => ociSeccomp(PROFILE, { ...TASK, arch: 'mips' })).toThrow(
      'no seccomp architecture is known for mips',
    );
  });
});

describe(parseDockerSeccompProfile.name, () => {
  it('names the file and what is wrong with it', () => {
    expect(() => parseDockerSeccompProfile('{', '/p.json')).toThrow(
      'the seccomp profile /p.json is not a Docker seccomp profile: not JSON',
    );
    expect(() => parseDockerSeccompProfile('{"syscalls":[]}', '/p.json')).toThrow(
      'no defaultAction',
    );
    expect(() =>
      parseDockerSeccompProfile(
        '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"x"}]}',
        '/p.json',
      ),
    ).toThrow('syscalls[0] has no names');
  });
});
