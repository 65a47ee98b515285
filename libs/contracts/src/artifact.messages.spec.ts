import { describe, expect, it } from 'vitest';
import { ArtifactNameError, normalizeArtifactName } from './artifact.messages';

describe(normalizeArtifactName.name, () => {
  it.each(['a.txt', 'out/a.txt', 'out/.hidden', 'dir/sub/…é.bin', 'a..b/c..', '.config/x'])(
    'keeps %j',
    (name) => expect(normalizeArtifactName(name)).toBe(name),
  );

  it.each([
    ['', 'it is empty'],
    ['/etc/passwd', 'it is an absolute path'],
    ['C:/x', 'it is an absolute path'],
    ['c:x', 'it is an absolute path'],
    ['../../etc/passwd', 'it contains a ".." segment'],
    ['out/../../x', 'it contains a ".." segment'],
    ['out/..', 'it contains a ".." segment'],
    ['./a', 'it contains a "." segment'],
    ['out/./a', 'it contains a "." segment'],
    ['out//a', 'it contains an empty segment'],
    ['out/', 'it contains an empty segment'],
    ['out\\..\\x', 'it contains a backslash'],
    ['a\u0000b', 'it contains a NUL or control character'],
    ['a\nb', 'it contains a NUL or control character'],
    ['a\u007fb', 'it contains a NUL or control character'],
    ['a'.repeat(1025), 'it is longer than 1024 characters'],
  ])('refuses %j: %s', (name, problem) => {
    let error: unknown;
    try {
      normalizeArtifactName(name);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ArtifactNameError);
    expect((error as ArtifactNameError).problem).toBe(problem);
    expect((error as ArtifactNameError).message).toContain(JSON.stringify(name));
  });
});
