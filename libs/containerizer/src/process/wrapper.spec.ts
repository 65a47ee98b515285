import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  environmentProblem,
  GO_LINE,
  parseExitCodeFile,
  readRecordedExit,
  UNRECORDED_EXIT_CODE,
  wrapperArguments,
} from './wrapper';

describe(wrapperArguments.name, () => {
  it('passes the command as arguments after the fixes for what the shell changes', () => {
    const args = wrapperArguments('/s/.exit_code', { IFS: ':', A: '1' }, ['/bin/echo', '$A']);
    expect(args.slice(0, 2)).toEqual(['-c', expect.any(String) as unknown]);
    expect(args.slice(2)).toEqual([
      'kiln-container',
      '/s/.exit_code',
      '-PWD',
      'IFS=:',
      '--',
      '/bin/echo',
      '$A',
    ]);
  });

  it('restores a given PWD instead of removing it', () => {
    expect(wrapperArguments('/e', { PWD: '/p' }, ['x']).slice(4, 5)).toEqual(['PWD=/p']);
  });

  describe('waiting for the agent to record the container', () => {
    let sandbox: string;

    beforeEach(() => {
      sandbox = mkdtempSync(join(tmpdir(), 'kiln-wrapper-gate-'));
    });
    afterEach(() => {
      rmSync(sandbox, { recursive: true, force: true });
    });

    /** Runs `touch ran` under the wrapper with `input` on its standard input. */
    function run(input: string, environment: Record<string, string> = {}) {
      const env = { PATH: '/usr/bin:/bin', ...environment };
      const result = spawnSync(
        '/bin/sh',
        wrapperArguments(join(sandbox, '.exit_code'), env, [
          '/bin/sh',
          '-c',
          'env > seen; touch ran',
        ]),
        { cwd: sandbox, env, input, encoding: 'utf8' },
      );
      return { status: result.status, ran: existsSync(join(sandbox, 'ran')) };
    }

    it('runs the command once it reads go', () => {
      expect(run(GO_LINE)).toEqual({ status: 0, ran: true });
      expect(readFileSync(join(sandbox, '.exit_code'), 'utf8')).toBe('0\n');
    });

    it('never runs the command when its agent died before the go (end of file)', () => {
      expect(run('')).toEqual({ status: UNRECORDED_EXIT_CODE, ran: false });
      expect(existsSync(join(sandbox, '.exit_code'))).toBe(false);
    });

    it('never runs the command on anything but go', () => {
      expect(run('gone\n')).toEqual({ status: UNRECORDED_EXIT_CODE, ran: false });
    });

    it('leaves a task variable named like its line as it was, and gives the command no stdin', () => {
      expect(run(GO_LINE, { go: 'stay' })).toEqual({ status: 0, ran: true });
      expect(readFileSync(join(sandbox, 'seen'), 'utf8').split('\n')).toContain('go=stay');
      const absent = run(GO_LINE);
      expect(absent.ran).toBe(true);
      expect(readFileSync(join(sandbox, 'seen'), 'utf8')).not.toMatch(/^go=/m);
    });
  });
});

describe(environmentProblem.name, () => {
  it('accepts shell identifiers and explains anything else', () => {
    expect(environmentProblem({ PATH: '/bin', _under: '', a1: 'x', OPTIND: '3' })).toBeUndefined();
    expect(environmentProblem({ 'dotted.name': 'x' })).toContain('"dotted.name"');
    expect(environmentProblem({ '1st': 'x' })).toContain('"1st"');
    expect(environmentProblem({ OPTIND: 'abc' })).toContain('OPTIND');
  });
});

describe(parseExitCodeFile.name, () => {
  it('reads a whole code and nothing else', () => {
    expect(parseExitCodeFile('0\n')).toBe(0);
    expect(parseExitCodeFile('143\n')).toBe(143);
    // A wrapper killed while writing leaves half a line: no code.
    expect(parseExitCodeFile('')).toBeUndefined();
    expect(parseExitCodeFile('14')).toBeUndefined();
  });
});

describe(readRecordedExit.name, () => {
  let sandbox: string;

  beforeEach(() => {
    sandbox = mkdtempSync(join(tmpdir(), 'kiln-exit-code-'));
  });
  afterEach(() => {
    rmSync(sandbox, { recursive: true, force: true });
  });

  it('reads the code the wrapper wrote', async () => {
    writeFileSync(join(sandbox, '.exit_code'), '7\n');
    expect(await readRecordedExit(sandbox)).toEqual({ code: 7 });
  });

  it('knows none when there is no file, or too long a one', async () => {
    expect(await readRecordedExit(sandbox)).toBeUndefined();
    writeFileSync(join(sandbox, '.exit_code'), '0\n'.repeat(10));
    expect(await readRecordedExit(sandbox)).toBeUndefined();
  });

  it('never reads through a symbolic link, nor from anything but a regular file', async () => {
    const elsewhere = join(sandbox, 'elsewhere');
    writeFileSync(elsewhere, '0\n');
    symlinkSync(elsewhere, join(sandbox, '.exit_code'));
    expect(await readRecordedExit(sandbox)).toBeUndefined();
    rmSync(join(sandbox, '.exit_code'));
    // A FIFO with no writer would block a plain open forever.
    execFileSync('mkfifo', [join(sandbox, '.exit_code')]);
    expect(await readRecordedExit(sandbox)).toBeUndefined();
  });
});
