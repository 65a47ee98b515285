import { describe, expect, it } from 'vitest';
import type { PullRequestEvent, PushEvent } from './types';
import { bounded, checkRef, truncateUtf8 } from './limits';
import { WebhookError } from './webhook-error';

describe(truncateUtf8.name, () => {
  it('keeps a text that fits as it is', () => {
    expect(truncateUtf8('fix: the build', 64)).toBe('fix: the build');
  });

  it('cuts between characters, never inside one, and says how much there was', () => {
    const text = '€'.repeat(1000); // 3 bytes each
    const cut = truncateUtf8(text, 200);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(200);
    expect(cut).not.toContain('\uFFFD');
    expect(cut).toMatch(/^€+\n\n\[cut by Kiln: 3000 bytes, of which the first 200 are kept\]$/);
  });

  it('never splits a surrogate pair', () => {
    const cut = truncateUtf8('😀'.repeat(100), 150);
    expect(cut).toMatch(/^(😀)+\n\n\[cut by Kiln/u);
  });
});

describe(checkRef.name, () => {
  it('takes refs git can store', () => {
    expect(() => checkRef(`refs/heads/${'a'.repeat(255)}`, 'the ref')).not.toThrow();
  });

  it('refuses a part over 255 bytes or a ref over 1024 with 422', () => {
    const long = () => checkRef(`refs/heads/${'é'.repeat(128)}`, 'the ref');
    expect(long).toThrow(WebhookError);
    expect(long).toThrow('the ref has a part longer than 255 bytes');
    expect(() => checkRef(`refs/heads/${'a/'.repeat(600)}x`, 'the ref')).toThrow(
      'the ref is longer than 1024 bytes',
    );
  });

  it.each([
    ['refs/heads/ma\u0000in', 'has a control character'],
    ['refs/heads/a\nb', 'has a control character'],
    ['refs/heads/a b', 'has a control character, a space'],
    ['refs/heads/../../x', 'has ".."'],
    ['refs/heads/\ud800x', 'is not valid Unicode'],
    ['refs/heads/x.lock', 'ends with ".lock"'],
    ['refs/heads/.hidden', 'begins with "."'],
    ['refs/heads/a//b', 'has "//"'],
    ['refs/heads/a@{1}', '"@{"'],
  ])('refuses %j, which git would not store, with 422', (ref, problem) => {
    const check = () => checkRef(ref, 'the ref');
    expect(check).toThrow(WebhookError);
    expect(check).toThrow(problem);
  });
});

describe(bounded.name, () => {
  const push = {
    kind: 'push',
    forge: 'github',
    deliveryId: 'd',
    ref: 'refs/heads/main',
    branch: 'main',
    after: 'a'.repeat(40),
    changedFiles: [],
  } as unknown as PushEvent;
  const pr = {
    kind: 'pull_request',
    forge: 'github',
    deliveryId: 'd',
    number: 7,
    headBranch: 'f',
    baseBranch: 'main',
    headSha: 'b'.repeat(12),
    title: 't',
    fromFork: false,
  } as unknown as PullRequestEvent;

  it('takes commit ids whole or abbreviated, and pull request numbers that are positive integers', () => {
    expect(() => bounded(push)).not.toThrow();
    expect(() => bounded(pr)).not.toThrow();
  });

  it.each(['zzzz', '--upload-pack=touch x', 'A'.repeat(40), ''])(
    'refuses the pushed commit %j with 422',
    (after) => {
      expect(() => bounded({ ...push, after })).toThrow(/the pushed commit .* is no commit id/);
    },
  );

  it.each([-1, 0, 1e308, 2 ** 62, 1.5])('refuses the pull request number %d with 422', (number) => {
    expect(() => bounded({ ...pr, number })).toThrow(/is no positive integer/);
  });
});
