import { describe, expect, it } from 'vitest';
import { environmentProblem, parseExitCodeFile, wrapperArguments } from './wrapper';

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
