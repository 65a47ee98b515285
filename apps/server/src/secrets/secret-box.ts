import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { fileBackedValue } from './keys';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Sealed values start with their format version, so the scheme can change without guessing. */
const VERSION = 'v1';
/** Opened values kept, by their sealed text (see `open`). */
const OPENED_KEPT = 1_000;

/** A sealed value could not be opened: wrong key, or the stored text was altered. */
export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/**
 * Seals secrets for storage (AES-256-GCM: confidential and tamper-evident) and derives the
 * server's other keys (per-task log tokens) from one master key, `KILN_SECRET_KEY`.
 */
export class SecretBox {
  private readonly key: Buffer;
  private readonly opened = new Map<string, string>();

  constructor(key: Buffer) {
    if (key.length !== 32) throw new SecretBoxError('a secret key is 32 bytes');
    this.key = key;
  }

  /**
   * The key from `KILN_SECRET_KEY` (64 hex digits or base64 of 32 bytes); when unset, the one in
   * `keyFile`, created on first use. Servers sharing a database must share the key: set it.
   */
  static fromConfig(configured: string | undefined, keyFile: string): SecretBox {
    return new SecretBox(parseKey(configured ?? fileBackedValue(keyFile)));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv, cipher.getAuthTag(), body]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /**
   * The value `sealed` holds. What was opened is kept by its exact sealed text (a few hundred
   * values): every webhook opens its repository's secret, and deciphering it each time took a
   * fortieth of a burst's time. Any altered text is another key, opened (and refused) afresh.
   */
  open(sealed: string): string {
    const kept = this.opened.get(sealed);
    if (kept !== undefined) return kept;
    const plaintext = this.decipher(sealed);
    if (this.opened.size >= OPENED_KEPT) {
      const oldest = this.opened.keys().next().value;
      if (oldest !== undefined) this.opened.delete(oldest);
    }
    this.opened.set(sealed, plaintext);
    return plaintext;
  }

  private decipher(sealed: string): string {
    const [version, iv, tag, body, ...rest] = sealed.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || body === undefined) {
      throw new SecretBoxError('not a sealed value');
    }
    if (rest.length > 0) throw new SecretBoxError('not a sealed value');
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(body, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretBoxError('the sealed value cannot be opened with this key');
    }
  }

  /** A keyed digest of `data` for `purpose` (domain separation: one key, many uses). */
  mac(purpose: string, data: string): string {
    return createHmac('sha256', this.key)
      .update(purpose)
      .update('\0')
      .update(data)
      .digest('base64url');
  }
}

function parseKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text)
    ? Buffer.from(text, 'hex')
    : Buffer.from(text, 'base64');
  if (key.length !== 32) {
    throw new SecretBoxError(
      'KILN_SECRET_KEY must be 32 bytes, as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)',
    );
  }
  return key;
}
