import { describe, expect, it } from 'vitest';
import { launcherArguments, type LaunchPlan } from './launcher';

const plan: LaunchPlan = {
  tools: { unshare: '/usr/bin/unshare', mount: '/usr/bin/mount', mkdir: '/usr/bin/mkdir' },
  procsFiles: ['/cg/memory/kiln/t/cgroup.procs', '/cg/freezer/kiln/t/cgroup.procs'],
  network: 'host',
  sandbox: '/var/lib/kiln/sandboxes/t',
  tmpSizeMiB: 32,
  wrapperArguments: ['-c', 'WRAPPER', 'kiln-container', '/sandbox/.exit_code', '--', 'true'],
};

describe('launcherArguments', () => {
  it('joins every cgroup, then unshares all namespaces but the network, then wraps', () => {
    const args = launcherArguments(plan);
    expect(args.slice(2, 6)).toEqual(['kiln-launch', ...plan.procsFiles, '--']);
    const unshare = args.indexOf('/usr/bin/unshare');
    expect(args.slice(unshare + 1, args.indexOf('--', unshare))).toEqual([
      '--pid',
      '--fork',
      '--mount-proc',
      '--mount',
      '--uts',
      '--ipc',
    ]);
    expect(args.slice(-plan.wrapperArguments.length)).toEqual(plan.wrapperArguments);
    expect(args).toContain('size=32m,mode=1777');
  });

  it("adds a network namespace for network 'none'", () => {
    expect(launcherArguments({ ...plan, network: 'none' })).toContain('--net');
    expect(launcherArguments(plan)).not.toContain('--net');
  });

  it('binds a sandbox under /tmp back into the private /tmp, and no other', () => {
    const wrapperStart = (args: string[]) => args.length - plan.wrapperArguments.length;
    const outside = launcherArguments(plan);
    expect(outside[wrapperStart(outside) - 1]).toBe('');
    const inside = launcherArguments({ ...plan, sandbox: '/tmp/kiln-sandbox-1' });
    expect(inside[wrapperStart(inside) - 1]).toBe('/tmp/kiln-sandbox-1');
    const lookalike = launcherArguments({ ...plan, sandbox: '/tmpfoo/x' });
    expect(lookalike[wrapperStart(lookalike) - 1]).toBe('');
  });
});
