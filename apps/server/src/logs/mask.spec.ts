import { describe, expect, it } from 'vitest';
import { maskSecrets, secretMasker } from './mask';

describe(maskSecrets.name, () => {
  it('masks every occurrence of each value', () => {
    expect(maskSecrets('token=hunter2; again hunter2.', ['hunter2'])).toBe('token=***; again ***.');
  });

  it('masks the longest value first, so one containing another goes whole', () => {
    expect(maskSecrets('pass passphrase', ['pass', 'passphrase'])).toBe('*** ***');
  });

  it('masks the base64 and URL-encoded forms', () => {
    const secret = 'p@ss w/rd&more';
    const base64 = Buffer.from(secret).toString('base64');
    const piped = Buffer.from(`${secret}\n`).toString('base64');
    const url = encodeURIComponent(secret);
    const masked = maskSecrets(`b64 ${base64} echo ${piped} url ${url}`, [secret]);
    expect(masked).not.toContain(base64);
    expect(masked).not.toContain(url);
    expect(masked).toMatch(/^b64 \*\*\* echo \*\*\*.{0,4} url \*\*\*$/);
  });

  it('masks the lines of a multi-line value one by one, keeping the newlines', () => {
    const key = '-----BEGIN KEY-----\nMIIEvQIBADANBg\nab\n-----END KEY-----\n';
    const log = `cat key:\n${key}done\n`;
    expect(maskSecrets(log, [key])).toBe('cat key:\n***\n***\nab\n***\ndone\n');
  });

  it('does not mask values shorter than 4 characters', () => {
    expect(maskSecrets('yes no abc abcd', ['yes', 'abc', 'abcd', ''])).toBe('yes no abc ***');
  });

  it('treats regular expression characters literally', () => {
    expect(maskSecrets('a.*b a+b$ (x|y)', ['a.*b', '(x|y)'])).toBe('*** a+b$ ***');
    expect(secretMasker([])('unchanged')).toBe('unchanged');
  });
});
