import { createHash, randomBytes } from 'node:crypto';

/** A new personal API token: `kiln_` and 32 random bytes, shown once. */
export function newApiToken(): string {
  return `kiln_${randomBytes(32).toString('base64url')}`;
}

/** A new session id (the cookie's value) or CSRF token. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What is stored of a token or session id: its SHA-256. They are 256 random bits, so a fast hash
 * is as good as a slow one, and a lookup by hash is one indexed query.
 */
export function digestOf(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
