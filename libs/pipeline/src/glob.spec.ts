import { describe, expect, it } from 'vitest';
import { matchesGlob } from './glob';

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
  ])('%s against %s is %s', (value, glob, expected) => {
    expect(matchesGlob(value, glob)).toBe(expected);
  });
});
