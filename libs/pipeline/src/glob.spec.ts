import { describe, expect, it } from 'vitest';
import { Glob, matchesGlob } from './glob';

describe(matchesGlob.name, () => {
  it.each([
    ['main', 'main', true],
    ['release/1.2', 'release/*', true],
    ['release/1.2/rc', 'release/*', false],
    ['release/1.2/rc', 'release/**', true],
    ['src/a.ts', 'src/**/*.ts', true],
    ['src/deep/a.ts', 'src/**/*.ts', true],
    ['src/a.js', 'src/**/*.ts', false],
    ['v1.0', 'v?.?', true],
    ['v1x0', 'v1.0', false],
    ['out/.hidden', 'out/*', true],
    ['out/a/b', 'out/**', true],
    ['a/b', 'a*b', false],
    ['a/b', 'a**b', true],
    ['[ab].txt', '[ab].txt', true],
    ['a.txt', '[ab].txt', false],
    ['x/y', '**/y', true],
    ['y', '**/y', true],
    ['xy', '**/y', false],
    ['é/ü', '?/?', true],
  ])('%s against %s is %s', (value, glob, expected) => {
    expect(matchesGlob(value, glob)).toBe(expected);
  });

  // Both come from a repository. As a regular expression, `[^/]*a[^/]*a…b` tries every way of
  // splitting the `a`s among the stars before it fails: years for these, on a server or an agent
  // that does nothing else meanwhile.
  it('matches a glob of many stars against a long name at once, as a regular expression would not', () => {
    const glob = new Glob(`${'*a'.repeat(100)}b`);
    expect(glob.matches('a'.repeat(255))).toBe(false);
    expect(glob.matches(`${'a'.repeat(254)}b`)).toBe(true);
    expect(new Glob(`${'**a'.repeat(100)}b`).matches(`${'a/'.repeat(2000)}c`)).toBe(false);
  });
});
