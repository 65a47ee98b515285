import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MASK, maskSecrets, secretMasker } from './mask';

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

  it("masks the percent-encodings of Python's quote and quote_plus, in either case of hex", () => {
    // As Python 3 prints them: quote(s), quote(s, safe=''), quote_plus(s).
    const secret = 's3cr3t p@ss/w0rd!~(x)';
    const encoded = [
      's3cr3t%20p%40ss/w0rd%21~%28x%29',
      's3cr3t%20p%40ss%2Fw0rd%21~%28x%29',
      's3cr3t+p%40ss%2Fw0rd%21~%28x%29',
      's3cr3t+p%40ss%2fw0rd%21~%28x%29',
    ];
    expect(maskSecrets(encoded.join(' | '), [secret])).toBe('*** | *** | *** | ***');
  });

  it('masks the hex form, lower- and upper-case', () => {
    const secret = 's3cr3t p@ss/w0rd!~(x)';
    const hex = '73336372337420704073732f77307264217e287829';
    expect(maskSecrets(`hex ${hex} HEX ${hex.toUpperCase()}.`, [secret])).toBe('hex *** HEX ***.');
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
    expect(secretMasker([]).mask('unchanged')).toBe('unchanged');
  });
});

describe('SecretMasker.safeEnd', () => {
  const secret = 'Sup3r$ecret/Value+With=Chars';
  const { safeEnd } = secretMasker([secret]);
  // The longest form of the secret: its hex, two digits a byte.
  const longest = Buffer.from(secret).toString('hex').length;

  it('holds back the end of a text that could be the start of a secret', () => {
    const text = `${'x'.repeat(100)} ${secret.slice(0, 9)}`;
    expect(safeEnd(text)).toBe(text.length - (longest - 1));
    expect(text.slice(0, safeEnd(text))).not.toContain(secret.slice(0, 9));
  });

  it('holds back a whole secret that reaches into that end, from its start', () => {
    // Masked whole after it, the secret starts before the held back end and reaches into it.
    const text = `${'x'.repeat(100)} ${secret}${'y'.repeat(40)}`;
    expect(text.length - (longest - 1)).toBeLessThan(101 + secret.length);
    expect(safeEnd(text)).toBe(101);
  });

  it('holds nothing back without secrets, and never between two halves of a character', () => {
    expect(secretMasker([]).safeEnd('abc')).toBe(3);
    const text = `${'😀'.repeat(40)}`;
    expect(safeEnd(text) % 2).toBe(0);
  });
});

describe('secretMasker of long secrets', () => {
  it('masks a secret too long for one pattern, in its forms, and holds its start back at a cut', () => {
    // 20,000 characters: its hex forms are 40,000, past what V8 compiles into one pattern.
    const secret = randomBytes(10_000).toString('hex');
    const masker = secretMasker([secret, 'short-one']);
    expect(masker.mask(`a ${secret} b short-one c`)).toBe('a *** b *** c');
    expect(masker.mask(Buffer.from(secret).toString('base64'))).toBe(MASK);
    expect(masker.mask(Buffer.from(secret).toString('hex'))).toBe(MASK);
    const cut = `${'z'.repeat(100)}${secret.slice(0, 5_000)}`;
    expect(masker.safeEnd(cut)).toBeLessThanOrEqual(100);
    // A whole one that reaches into the held-back end is held back from its start.
    const whole = `${'z'.repeat(50_000)}${secret}${'z'.repeat(30_000)}`;
    expect(masker.safeEnd(whole)).toBe(50_000);
  });

  it('masks every one of many secrets, past what one pattern holds', () => {
    const secrets = Array.from({ length: 200 }, () => randomBytes(150).toString('hex'));
    const masker = secretMasker(secrets);
    const text = secrets.map((s, i) => `${i}:${s}`).join('\n');
    expect(masker.mask(text)).toBe(secrets.map((_, i) => `${i}:***`).join('\n'));
  });
});
