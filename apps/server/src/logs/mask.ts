/** What a secret becomes in a stored log. */
export const MASK = '***';

/** The longest form, and the longest pattern, masked with one regular expression. */
const PATTERN_FORM_MAX = 256;
const PATTERN_MAX = 32_768;

/**
 * Values shorter than this are not masked: a 1-3 character secret ("1", "yes", "dev") occurs by
 * chance all over a build log, and masking every occurrence would wreck the log while hiding
 * little. Such secrets are not worth the name anyway.
 */
export const MIN_MASKED_LENGTH = 4;

/** Masks the secrets of one task in its output; see {@link secretMasker}. */
export interface SecretMasker {
  /** The text with every occurrence of every form of a secret replaced by {@link MASK}. */
  mask(this: void, text: string): string;
  /**
   * How much of `text`, output cut off in the middle of a line, can be masked and stored now: up
   * to where a form of a secret could begin and run on past its end (or the start of a whole one
   * that reaches into that tail). The rest waits for the output that follows it, so that no secret
   * is stored in two halves, each too short to be recognised. The whole text when there are no
   * secrets.
   */
  safeEnd(this: void, text: string): number;
}

/**
 * Replaces every occurrence of each secret value in a text with {@link MASK}, and the forms a
 * build is likely to print it in: base64 and base64url (also the start of the base64 of the value
 * followed by more text, as `echo "$SECRET" | base64` prints), the percent-encodings of
 * JavaScript's `encodeURIComponent` and `URLSearchParams`, of Python's `quote` (`/` kept or
 * encoded) and `quote_plus` (`+` for a space), with upper- or lower-case hex digits, and hex
 * (`xxd -p` of a short value, Python's `bytes.hex()`), in either case. A value of several lines is
 * masked line by line (lines of at least {@link MIN_MASKED_LENGTH} characters), so masking never
 * removes a newline and line numbers stay those of the output. Build it once per set of secrets:
 * it compiles one pattern, longest values first, so a value that contains another is masked whole.
 */
export function secretMasker(secrets: readonly string[]): SecretMasker {
  const forms = new Set<string>();
  for (const secret of secrets) {
    for (const form of maskedForms(secret)) forms.add(form);
  }
  if (forms.size === 0) return { mask: (text) => text, safeEnd: (text) => text.length };
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  // V8 refuses a pattern that compiles too large (a form of 32,768 characters, the hex of a 16 KiB
  // secret, is one): long forms, and any past the pattern's budget, are found without it.
  const inPattern: string[] = [];
  const plain: string[] = [];
  let size = 0;
  for (const form of sorted) {
    const escaped = escapeRegExp(form);
    if (form.length <= PATTERN_FORM_MAX && size + escaped.length < PATTERN_MAX) {
      inPattern.push(escaped);
      size += escaped.length + 1;
    } else {
      plain.push(form);
    }
  }
  const source = inPattern.join('|');
  const pattern = inPattern.length === 0 ? undefined : new RegExp(source, 'g');
  const longest = sorted[0]!.length;
  const patternLongest = sorted.find((form) => !plain.includes(form))?.length ?? 0;
  // Longest first, so that a value that contains another is masked whole.
  const longer = plain.filter((form) => form.length > patternLongest);
  const shorter = plain.filter((form) => form.length <= patternLongest);
  return {
    mask: (text) => {
      for (const form of longer) text = text.replaceAll(form, MASK);
      if (pattern !== undefined) text = text.replace(pattern, MASK);
      for (const form of shorter) text = text.replaceAll(form, MASK);
      return text;
    },
    safeEnd: (text) => {
      // A form cut off by the text's end starts in its last `longest - 1` characters; a whole
      // one that reaches into them is held back from its start. Until no form reaches past `end`.
      let end = Math.max(0, text.length - (longest - 1));
      for (let changed = true; changed;) {
        changed = false;
        const matches = pattern === undefined ? undefined : new RegExp(source, 'g');
        for (let match = matches?.exec(text); match; match = matches?.exec(text)) {
          if (match.index >= end) break;
          if (match.index + match[0].length > end) {
            end = match.index;
            changed = true;
            break;
          }
        }
        for (const form of plain) {
          const at = text.indexOf(form, Math.max(0, end - form.length + 1));
          if (at >= 0 && at < end) {
            end = at;
            changed = true;
          }
        }
      }
      // Never between the two halves of a character outside the Basic Multilingual Plane.
      const before = text.charCodeAt(end - 1);
      return end > 0 && end < text.length && before >= 0xd800 && before <= 0xdbff ? end - 1 : end;
    },
  };
}

/** {@link secretMasker} for one text. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  return secretMasker(secrets).mask(text);
}

function maskedForms(secret: string): string[] {
  if (secret.length < MIN_MASKED_LENGTH) return [];
  const forms: string[] = [];
  const lines = secret.split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines.length > 1) forms.push(...lines);
  else forms.push(secret);
  const bytes = Buffer.from(secret, 'utf8');
  const base64 = bytes.toString('base64');
  forms.push(base64, base64.slice(0, Math.floor(bytes.length / 3) * 4));
  forms.push(bytes.toString('base64url'));
  const encodings = [
    encodeURIComponent(secret),
    new URLSearchParams([['', secret]]).toString().slice(1),
    percentEncoded(bytes, '/', false),
    percentEncoded(bytes, '', false),
    percentEncoded(bytes, '', true),
  ];
  for (const encoded of encodings) {
    forms.push(
      encoded,
      encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()),
    );
  }
  const hex = bytes.toString('hex');
  forms.push(hex, hex.toUpperCase());
  return forms.filter((form) => form.length >= MIN_MASKED_LENGTH && !form.includes('\n'));
}

/** Python's `urllib.parse.quote(value, safe)`, or `quote_plus` when `plus`: `%XX` escapes. */
function percentEncoded(bytes: Buffer, safe: string, plus: boolean): string {
  let encoded = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(char) || (byte < 0x80 && safe.includes(char))) encoded += char;
    else if (plus && char === ' ') encoded += '+';
    else encoded += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
