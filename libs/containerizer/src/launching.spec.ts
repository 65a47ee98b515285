import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { resources } from '@kiln/contracts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContainerLaunchError, type ContainerSpec } from './containerizer';
import { assertValidSpec, openOutputs, prepareWorkspace } from './launching';

describe(assertValidSpec.name, () => {
  const spec: ContainerSpec = {
    containerId: 'task-1',
    command: { shell: true, value: 'make' },
    environment: {},
    sandbox: '/sandbox',
    resources: resources({ cpus: 1, mem: 64 }),
    ready: Promise.resolve(),
  };

  it('refuses a checkout of anything but a commit id, which git could take for an option', () => {
    for (const commit of ['--orphan=x', 'main', 'A'.repeat(40), 'a'.repeat(39)]) {
      const refused = (() => {
        try {
          assertValidSpec({ ...spec, checkout: { commit } });
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(refused).toBeInstanceOf(ContainerLaunchError);
      expect(refused).toMatchObject({ reason: 'TASK_INVALID' });
      expect(String(refused)).toContain('is not a commit id to check out');
    }
    expect(() => assertValidSpec({ ...spec, checkout: { commit: 'a'.repeat(64) } })).not.toThrow();
  });

  it('refuses a checkout before a command without a shell, which the shell would run', () => {
    const command = { shell: false as const, value: 'make', arguments: [] };
    expect(() =>
      assertValidSpec({ ...spec, command, checkout: { commit: 'a'.repeat(40) } }),
    ).toThrow(/a checkout needs a shell command/);
  });

  it('refuses a checkout in a workspace it is not told is ready', () => {
    const unready: ContainerSpec = { ...spec, checkout: { commit: 'a'.repeat(40) } };
    delete unready.ready;
    expect(() => assertValidSpec(unready)).toThrow(/a checkout needs a workspace made ready/);
  });
});

describe('launching', () => {
  let dir: string;
  let sandbox: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-launching-'));
    sandbox = join(dir, 'sandbox');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const spec = (): ContainerSpec => ({
    containerId: 'task-1',
    command: { shell: true, value: 'true' },
    environment: {},
    sandbox,
    resources: { cpus: 0.1, mem: 16, disk: 0, ports: [] },
  });

  describe(prepareWorkspace.name, () => {
    it('makes the workspace of a sandbox that has none', async () => {
      mkdirSync(sandbox);
      const workspace = await prepareWorkspace(spec());
      expect(workspace).toBe(join(sandbox, 'workspace'));
      expect(statSync(workspace).isDirectory()).toBe(true);
    });

    it('takes the workspace the agent made, with what was checked out into it', async () => {
      mkdirSync(join(sandbox, 'workspace'), { recursive: true });
      writeFileSync(join(sandbox, 'workspace', 'Makefile'), 'all:\n');
      const workspace = await prepareWorkspace(spec());
      expect(readFileSync(join(workspace, 'Makefile'), 'utf8')).toBe('all:\n');
    });

    it.each([
      ['is missing', () => undefined],
      ['is a file', () => writeFileSync(sandbox, '')],
    ])('refuses a sandbox that %s, naming it', async (_case, make) => {
      make();
      const refused = prepareWorkspace(spec());
      await expect(refused).rejects.toThrow(ContainerLaunchError);
      await expect(refused).rejects.toThrow(`the sandbox ${sandbox} is not an existing directory`);
    });

    it.each([
      ['a link to a directory elsewhere', () => symlinkSync(dir, join(sandbox, 'workspace'))],
      ['a dangling link', () => symlinkSync(join(dir, 'nowhere'), join(sandbox, 'workspace'))],
      ['a file', () => writeFileSync(join(sandbox, 'workspace'), '')],
    ])('refuses a workspace that is %s: the task would work elsewhere', async (_case, make) => {
      mkdirSync(sandbox);
      make();
      await expect(prepareWorkspace(spec())).rejects.toThrow(
        `the workspace ${join(sandbox, 'workspace')} is not a directory (a symbolic link?)`,
      );
    });
  });

  describe(openOutputs.name, () => {
    it("opens the sandbox's stdout and stderr for appending", async () => {
      mkdirSync(sandbox);
      writeFileSync(join(sandbox, 'stdout'), 'before\n');
      const outputs = await openOutputs(sandbox);
      writeSync(outputs.stdout, 'out\n');
      writeSync(outputs.stderr, 'err\n');
      outputs.close();
      expect(readFileSync(join(sandbox, 'stdout'), 'utf8')).toBe('before\nout\n');
      expect(readFileSync(join(sandbox, 'stderr'), 'utf8')).toBe('err\n');
    });

    it('refuses a link in place of either, and leaves the other closed', async () => {
      mkdirSync(sandbox);
      const elsewhere = join(dir, 'elsewhere');
      writeFileSync(elsewhere, '');
      symlinkSync(elsewhere, join(sandbox, 'stderr'));
      await expect(openOutputs(sandbox)).rejects.toMatchObject({ code: 'ELOOP' });
      expect(descriptorsOf(join(sandbox, 'stdout'))).toEqual([]);
      expect(readFileSync(elsewhere, 'utf8')).toBe('');
    });
  });
});

/** This process's descriptors open on `path`. */
function descriptorsOf(path: string): string[] {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile, as the one readdir used
    }
  });
}
