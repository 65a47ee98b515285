import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBox, SecretBoxError } from './secret-box';

const KEY = Buffer.alloc(32, 7);

/** `sealed` with the character at `at` of its part `part` replaced by another one. */
function tamper(sealed: string, part: number, at = 2): string {
  const parts = sealed.split('.');
  const text = parts[part] ?? '';
  const char = text[at] === 'A' ? 'B' : 'A';
  parts[part] = text.slice(0, at) + char + text.slice(at + 1);
  return parts.join('.');
}

describe(SecretBox.name, () => {
  const box = new SecretBox(KEY);

  it('opens what it sealed', () => {
    for (const plaintext of ['', 'hunter2', 'ünïcødé ✓ and a . dot', 'x'.repeat(10_000)]) {
      expect(box.open(box.seal(plaintext))).toBe(plaintext);
    }
  });

  it('seals the same value differently each time, never in the clear', () => {
    const first = box.seal('hunter2');
    expect(box.seal('hunter2')).not.toBe(first);
    expect(first).not.toContain('hunter2');
    expect(first).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it.each([
    ['the version', 0],
    ['the iv', 1],
    ['the tag', 2],
    ['the ciphertext', 3],
  ])('refuses a sealed value whose %s was altered', (_part, part) => {
    const sealed = box.seal('a secret long enough for every part');
    expect(() => box.open(tamper(sealed, part, part === 0 ? 1 : 2))).toThrow(SecretBoxError);
  });

  it('opens a value again from what it kept, and still refuses an altered copy of it', () => {
    const sealed = box.seal('a secret long enough for every part');
    expect(box.open(sealed)).toBe('a secret long enough for every part');
    expect(box.open(sealed)).toBe('a secret long enough for every part');
    for (const part of [1, 2, 3])
      expect(() => box.open(tamper(sealed, part))).toThrow(SecretBoxError);
    expect(() => new SecretBox(Buffer.alloc(32, 8)).open(sealed)).toThrow(SecretBoxError);
  });

  it('refuses values that are not sealed ones', () => {
    const sealed = box.seal('hunter2');
    for (const text of ['', 'hunter2', sealed.split('.').slice(0, 3).join('.'), `${sealed}.x`]) {
      expect(() => box.open(text)).toThrow(SecretBoxError);
    }
  });

  it('cannot open with another key what one key sealed', () => {
    const sealed = box.seal('hunter2');
    expect(() => new SecretBox(Buffer.alloc(32, 8)).open(sealed)).toThrow(
      new SecretBoxError('the sealed value cannot be opened with this key'),
    );
  });

  it('takes a key of 32 bytes only', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(SecretBoxError);
  });

  it('derives a different mac for each purpose and each value', () => {
    expect(box.mac('log-token', 't1')).toBe(box.mac('log-token', 't1'));
    expect(box.mac('log-token', 't1')).not.toBe(box.mac('step-nonce', 't1'));
    expect(box.mac('log-token', 't1')).not.toBe(box.mac('log-token', 't2'));
    // The separator keeps purpose and value apart: ("ab", "c") is not ("a", "bc").
    expect(box.mac('ab', 'c')).not.toBe(box.mac('a', 'bc'));
    expect(new SecretBox(Buffer.alloc(32, 8)).mac('log-token', 't1')).not.toBe(
      box.mac('log-token', 't1'),
    );
  });

  describe('fromConfig', () => {
    let dir: string;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'kiln-secret-box-'));
    });

    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates a key file readable by its owner only, once, and reuses it', () => {
      const keyFile = join(dir, 'nested', 'secret.key');

      const first = SecretBox.fromConfig(undefined, keyFile);
      const key = readFileSync(keyFile, 'utf8');
      expect(key).toMatch(/^[0-9a-f]{64}\n$/);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);

      const second = SecretBox.fromConfig(undefined, keyFile);
      expect(readFileSync(keyFile, 'utf8')).toBe(key);
      expect(second.open(first.seal('hunter2'))).toBe('hunter2');
    });

    it('takes KILN_SECRET_KEY as hex or base64 over the key file, creating no file', () => {
      const keyFile = join(dir, 'secret.key');
      const sealed = box.seal('hunter2');

      expect(SecretBox.fromConfig(KEY.toString('hex'), keyFile).open(sealed)).toBe('hunter2');
      expect(SecretBox.fromConfig(KEY.toString('base64'), keyFile).open(sealed)).toBe('hunter2');
      expect(() => statSync(keyFile)).toThrow(/ENOENT/);
    });

    it.each(['not-a-key', 'ab'.repeat(31), `${'ab'.repeat(31)}zz`, ''])(
      'rejects a malformed KILN_SECRET_KEY (%j), naming the variable',
      (configured) => {
        expect(() => SecretBox.fromConfig(configured, join(dir, 'secret.key'))).toThrow(
          /KILN_SECRET_KEY must be 32 bytes/,
        );
      },
    );
  });
});
