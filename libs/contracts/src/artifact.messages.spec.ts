import { describe, expect, it } from 'vitest';
import {
  ARTIFACT_MAX_BYTES,
  ArtifactInputsInfo,
  ArtifactNameError,
  normalizeArtifactName,
} from './artifact.messages';
import { TaskInfo } from './task.messages';
import { InvalidMessageError, parseMessage } from './validation';

describe(normalizeArtifactName.name, () => {
  it.each([
    'a.txt',
    'out/a.txt',
    'out/.hidden',
    'dir/sub/…é.bin',
    'a..b/c..',
    '.config/x',
    `out/${'a'.repeat(255)}`,
  ])('keeps %j', (name) => expect(normalizeArtifactName(name)).toBe(name));

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
    ['a\u009b31mb', 'it contains a NUL or control character'],
    ['a\u009d0;titleb', 'it contains a NUL or control character'],
    ['a'.repeat(1025), 'it is longer than 1024 characters'],
    [`out/${'a'.repeat(256)}`, 'a segment of it is longer than a file name may be (255 bytes)'],
    [`${'é'.repeat(128)}/x`, 'a segment of it is longer than a file name may be (255 bytes)'],
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

describe(ArtifactInputsInfo.name, () => {
  const file = {
    name: 'dist/app.tgz',
    sha256: 'ab'.repeat(32),
    size: 1234,
    url: 'http://kiln.test/api/v1/runs/r1/artifacts/dist/app.tgz',
  };
  const inputs = { token: 'tok', files: [file] };

  function problemsOf(json: unknown): string[] {
    try {
      parseMessage(ArtifactInputsInfo, json);
    } catch (error) {
      if (error instanceof InvalidMessageError) return [...error.problems];
      throw error;
    }
    return [];
  }

  it('accepts a well-formed list of files, on its own and in a task', () => {
    expect(parseMessage(ArtifactInputsInfo, inputs).files[0]).toEqual(file);
    const task = parseMessage(TaskInfo, {
      taskId: 'job-1',
      name: 'deploy',
      command: { shell: true, value: './deploy' },
      resources: { cpus: 1, mem: 128, disk: 0, ports: [] },
      inputs,
    });
    expect(task.inputs?.files[0]?.name).toBe('dist/app.tgz');
  });

  it('accepts an empty file and one of the largest size', () => {
    expect(problemsOf({ token: 't', files: [{ ...file, size: 0 }] })).toEqual([]);
    expect(problemsOf({ token: 't', files: [{ ...file, size: ARTIFACT_MAX_BYTES }] })).toEqual([]);
  });

  it.each([
    ['../../etc/passwd', 'it contains a ".." segment'],
    ['/etc/passwd', 'it is an absolute path'],
    ['dist//app.tgz', 'it contains an empty segment'],
    ['dist\\app.tgz', 'it contains a backslash'],
  ])('refuses the name %j, saying what is wrong with it', (name, problem) => {
    expect(problemsOf({ ...inputs, files: [{ ...file, name }] })).toEqual([
      `files.0.name is not an artifact name: ${problem}`,
    ]);
  });

  it('refuses a name that is not a string', () => {
    expect(problemsOf({ ...inputs, files: [{ ...file, name: 7 }] })).toEqual([
      'files.0.name is not an artifact name: it is not a string',
    ]);
  });

  it('refuses a sha256 that is not 64 lowercase hex digits', () => {
    for (const sha256 of ['AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(31)}zz`]) {
      expect(problemsOf({ ...inputs, files: [{ ...file, sha256 }] })).toEqual([
        'files.0.sha256 must be 64 lowercase hex digits',
      ]);
    }
  });

  it('refuses a size that is negative, fractional or over the artifact limit', () => {
    for (const size of [-1, 1.5, ARTIFACT_MAX_BYTES + 1, '12']) {
      expect(problemsOf({ ...inputs, files: [{ ...file, size }] })).not.toEqual([]);
    }
  });

  it('refuses a URL that is not http(s), or longer than 2048 characters', () => {
    for (const url of ['file:///etc/passwd', 'ftp://kiln.test/a', 'kiln.test/a']) {
      expect(problemsOf({ ...inputs, files: [{ ...file, url }] })).toEqual([
        'files.0.url must be an http(s) URL',
      ]);
    }
    const long = `http://kiln.test/${'a'.repeat(2048)}`;
    expect(problemsOf({ ...inputs, files: [{ ...file, url: long }] })).toEqual([
      'files.0.url must be shorter than or equal to 2048 characters',
    ]);
  });

  it('refuses a missing or long token, more than 1000 files and unknown keys', () => {
    expect(problemsOf({ files: [file] })).toContain('token must be a string');
    expect(problemsOf({ ...inputs, token: 'x'.repeat(513) })).toEqual([
      'token must be shorter than or equal to 512 characters',
    ]);
    expect(problemsOf({ ...inputs, files: Array.from({ length: 1001 }, () => file) })).toEqual([
      'files must contain no more than 1000 elements',
    ]);
    expect(problemsOf({ ...inputs, files: [{ ...file, mode: 0o755 }] })).toEqual([
      'files.0.mode: property mode should not exist',
    ]);
    expect(problemsOf({ token: 't' })).toContain('files must be an array');
  });
});
