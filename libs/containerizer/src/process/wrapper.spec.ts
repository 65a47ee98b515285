import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
    const args = wrapperArguments('task-1', { IFS: ':', A: '1' }, ['/bin/echo', '$A']);
    expect(args.slice(0, 2)).toEqual(['-c', expect.any(String) as unknown]);
    expect(args.slice(2)).toEqual([
      'kiln-container',
      'task-1',
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

    /**
     * Runs `script` (by default `touch ran`) under the wrapper with `input` on its standard input
     * and the file `exits` as its descriptor 3.
     */
    function run(
      input: string,
      environment: Record<string, string> = {},
      script = 'env > seen; touch ran',
    ) {
      const env = { PATH: '/usr/bin:/bin', ...environment };
      const exits = openSync(join(sandbox, 'exits'), 'a');
      try {
        const result = spawnSync(
          '/bin/sh',
          wrapperArguments('task-1', env, ['/bin/sh', '-c', script]),
          { cwd: sandbox, env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe', exits] },
        );
        return { status: result.status, ran: existsSync(join(sandbox, 'ran')), pid: result.pid };
      } finally {
        closeSync(exits);
      }
    }

    it('runs the command once it reads go, and writes how it ended to its exit file', () => {
      const { pid, ...ran } = run(GO_LINE);
      expect(ran).toEqual({ status: 0, ran: true });
      expect(readFileSync(join(sandbox, 'exits'), 'utf8')).toBe(`task-1 ${pid} 0\n`);
    });

    it('never runs the command when its agent died before the go (end of file), and says so', () => {
      const { pid, ...ran } = run('');
      expect(ran).toMatchObject({ status: UNRECORDED_EXIT_CODE, ran: false });
      expect(readFileSync(join(sandbox, 'exits'), 'utf8')).toBe(`task-1 ${pid} unstarted\n`);
    });

    it('gives the command no descriptor of the exit file, so it cannot write its own line', () => {
      const { pid, status } = run(GO_LINE, {}, 'echo task-1 1 0 >&3; echo other 1 0 >&3; exit 4');
      expect(status).toBe(4);
      expect(readFileSync(join(sandbox, 'exits'), 'utf8')).toBe(`task-1 ${pid} 4\n`);
    });

    it('never runs the command on anything but go', () => {
      expect(run('gone\n')).toMatchObject({ status: UNRECORDED_EXIT_CODE, ran: false });
    });

    it('leaves a task variable named like its line as it was, and gives the command no stdin', () => {
      expect(run(GO_LINE, { go: 'stay' })).toMatchObject({ status: 0, ran: true });
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
