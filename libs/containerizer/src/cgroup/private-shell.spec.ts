import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  deliveredText,
  deliveredTextCommand,
  PRIVATE_SHELL,
  privateShellCommand,
} from './private-shell';

describe(privateShellCommand.name, () => {
  /** Runs the command as the container would, with the host's `/bin/sh` for the private shell. */
  function run(text: string, environment: Record<string, string>): string {
    const { argv, environment: env } = privateShellCommand(text, environment);
    expect(argv[0]).toBe(PRIVATE_SHELL);
    return execFileSync('/bin/sh', argv.slice(1), { env, encoding: 'utf8' });
  }

  it("starts the shell with none of the task's variables the loader or the shell could act on", () => {
    const { argv, environment } = privateShellCommand('make', {
      LD_PRELOAD: '/workspace/evil.so',
      SHELLOPTS: 'xtrace',
      PATH: '/usr/bin:/bin',
      IFS: ':',
      'not.a-shell-name': 'kept',
    });
    expect(argv.join(' ')).not.toContain('make');
    expect(Object.keys(environment).sort()).toEqual([
      'IFS',
      '__KILN_COMMAND_0',
      'not.a-shell-name',
    ]);
    expect(environment.__KILN_COMMAND_0).toContain("export LD_PRELOAD='/workspace/evil.so'");
  });

  it("gives the command and its processes the task's environment, as `sh -c` does", () => {
    const tricky = 'it\'s "quoted" $HOME `x` \\ é 😀\nand a second line';
    const environment = {
      TRICKY: tricky,
      PATH: '/usr/bin:/bin',
      IFS: ':',
      'dotted.name': 'as is',
    };
    const command = 'printf "%s|" "$TRICKY" "$#" "$0" "$IFS"; env | sort';
    const out = run(command, environment);
    expect(out.startsWith(`${tricky}|0|sh| \t\n|`)).toBe(true);
    expect(out).toBe(
      execFileSync('/bin/sh', ['-c', command, 'sh'], { env: environment, encoding: 'utf8' }),
    );
    expect(out).not.toContain('__KILN');
    expect(out).not.toContain('__kiln');
  });

  it('carries a text longer than one variable may hold, cut anywhere, whole', () => {
    // Past the kernel's 128 KiB for one string, and four-byte characters across the cuts.
    const long = '😀'.repeat(70_000);
    const { environment } = privateShellCommand('printf %s "$LONG"', { LONG: long });
    expect(Object.keys(environment).length).toBeGreaterThan(4);
    for (const piece of Object.values(environment)) {
      expect(Buffer.byteLength(piece)).toBeLessThan(128 * 1024);
    }
    expect(run('printf %s "$LONG"', { LONG: long })).toBe(long);
  });

  it('names the commit to check out last, after the count of text variables', () => {
    const commit = 'a'.repeat(40);
    const { argv } = privateShellCommand('make', {}, { commit });
    expect(argv.slice(-2)).toEqual(['1', commit]);
    expect(privateShellCommand('make', {}).argv.at(-1)).toBe('1');
  });
});

describe(deliveredText.name, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-delivered-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs the delivered-text shell as the container would, with the host's `/bin/sh` for the
   * private shell: `delivered` on its descriptor 4, a report file on its descriptor 3.
   */
  function run(
    delivered: string | undefined,
    cwd = dir,
    word = 'go\n',
  ): { status: number | null; out: string; report: string } {
    const { argv, environment } = deliveredTextCommand();
    expect(argv[0]).toBe(PRIVATE_SHELL);
    const textFile = join(dir, 'text');
    const reportFile = join(dir, 'report');
    writeFileSync(textFile, delivered ?? '');
    writeFileSync(reportFile, '');
    const wordFile = join(dir, 'word');
    writeFileSync(wordFile, word);
    const text = openSync(textFile, 'r');
    const report = openSync(reportFile, 'a');
    const said = openSync(wordFile, 'r');
    try {
      const result = spawnSync('/bin/sh', argv.slice(1), {
        cwd,
        env: environment,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe', report, text, said],
      });
      return {
        status: result.status,
        out: result.stdout + result.stderr,
        report: readFileSync(reportFile, 'utf8'),
      };
    } finally {
      closeSync(text);
      closeSync(report);
      closeSync(said);
    }
  }

  it('starts the same for every task, with no variables: the task is known only from what is delivered', () => {
    expect(deliveredTextCommand()).toEqual(deliveredTextCommand());
    expect(deliveredTextCommand().environment).toEqual({});
    expect(deliveredTextCommand().argv.join(' ')).not.toContain('make');
  });

  it("gives the command and its processes the task's environment, as `sh -c` does", () => {
    const tricky = 'it\'s "quoted" $HOME `x` \\ é 😀\nand a second line\n\n';
    const environment = { TRICKY: tricky, PATH: '/usr/bin:/bin' };
    const command = 'printf "%s|" "$TRICKY" "$#" "$0"; env | sort';
    const { status, out } = run(deliveredText(command, environment));
    expect(status).toBe(0);
    expect(out).toBe(
      execFileSync('/bin/sh', ['-c', command, 'sh'], {
        cwd: dir,
        env: environment,
        encoding: 'utf8',
      }),
    );
    expect(out).not.toContain('__kiln');
  });

  it('carries a text of any length whole', () => {
    // Past the kernel's 128 KiB for one string of a program's environment.
    const long = '😀'.repeat(70_000);
    expect(run(deliveredText('printf %s "$LONG"', { LONG: long })).out).toBe(long);
  });

  it('runs the command without the descriptors the text and the report came on', () => {
    const command =
      'for fd in 3 4 5; do if { true >&$fd; } 2>/dev/null; then echo "$fd open"; else echo "$fd closed"; fi; done';
    expect(run(deliveredText(command, {})).out).toBe('3 closed\n4 closed\n5 closed\n');
  });

  it('runs nothing, and fails, when no text was delivered', () => {
    for (const nothing of [undefined, 'echo ran']) {
      const { status, out } = run(nothing);
      expect(status).toBe(125);
      expect(out).not.toContain('ran');
      expect(out).toContain('no command was delivered');
    }
  });

  it('checks the commit its first line names out before the command, and reports it', () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=k', '-c', 'user.email=k@k', ...args], {
        cwd: dir,
        encoding: 'utf8',
      }).trim();
    git('init', '-q', 'repo');
    writeFileSync(join(dir, 'repo', 'version.txt'), 'v1\n');
    git('-C', 'repo', 'add', 'version.txt');
    git('-C', 'repo', 'commit', '-qm', 'one');
    const commit = git('-C', 'repo', 'rev-parse', 'HEAD');
    // What the agent leaves: the commit's objects, no files, no index.
    rmSync(join(dir, 'repo', 'version.txt'));
    rmSync(join(dir, 'repo', '.git', 'index'));
    const { status, out, report } = run(
      deliveredText('cat version.txt', {}, { commit }),
      join(dir, 'repo'),
    );
    expect({ status, out, report }).toEqual({ status: 0, out: 'v1\n', report: 'checked-out\n' });
  });

  it('reports a checkout that failed, and never starts the command', () => {
    const { status, out, report } = run(deliveredText('echo ran', {}, { commit: 'b'.repeat(40) }));
    expect(status).not.toBe(0);
    expect(out).not.toContain('ran');
    expect(report).toMatch(/^failed \d+\n$/);
  });

  it('cannot be given a variable no shell can export: such a task is run from its command', () => {
    expect(deliveredText('make', { 'dotted.name': 'x' })).toBeUndefined();
    expect(deliveredText('make', { IFS: ':' })).toBeUndefined();
    expect(deliveredText('make', { PATH: '/bin' })).toBe("kiln-text -\nexport PATH='/bin'\nmake");
  });
});
