import { describe, expect, it } from 'vitest';
import { checkRef, truncateUtf8 } from './limits';
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
});
