import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FORGE_HEADERS } from './forge-headers';
import { readFirstHeader } from './headers';
import type { Forge, Headers } from './types';
import { WebhookError } from './webhook-error';

// Key for comparing two values through their HMACs: digests always have the same length, so
// timingSafeEqual never throws and the comparison leaks neither the expected value nor its length.
// A per-process random key means an attacker cannot precompute inputs whose digests collide early.
const COMPARE_KEY = randomBytes(32);

function digest(value: string | Buffer): Buffer {
  return createHmac('sha256', COMPARE_KEY).update(value).digest();
}

/** Constant-time equality of two strings of any lengths. */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Constant-time equality of a computed HMAC and the one a delivery claims, both hex. The length of
 * a SHA-256 digest is no secret, so a claim of another length is refused at once, and the two are
 * compared as they are: two more HMACs per webhook, as {@link constantTimeEqual} makes, were a
 * twentieth of the receiver's time.
 */
function hmacsEqual(computed: string, claimed: string): boolean {
  return (
    claimed.length === computed.length &&
    timingSafeEqual(Buffer.from(computed, 'latin1'), Buffer.from(claimed, 'latin1'))
  );
}

function hmacHex(secret: string, rawBody: Buffer): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

/**
 * Checks that a webhook was sent by the forge holding `secret`, over the exact bytes received:
 * re-serialized JSON would not match, so this must run on the raw body, before any parsing.
 * Throws WebhookError(401) when the signature header is missing, malformed or does not match.
 */
export function verifyWebhook(
  forge: Forge,
  headers: Headers,
  rawBody: Buffer,
  secret: string,
): void {
  // An empty secret would make every HMAC computable by anyone: fail closed instead.
  if (secret.length === 0) {
    throw new WebhookError(401, `no webhook secret is configured for ${forge}`);
  }
  const { signature: names, scheme } = FORGE_HEADERS[forge];
  const headerName = names[0] ?? 'signature';
  const provided = readFirstHeader(headers, names, 401);
  if (provided === undefined) {
    throw new WebhookError(401, `signature header ${headerName} is missing`);
  }

  let matches: boolean;
  switch (scheme) {
    case 'token':
      // The secret itself: its length is secret too, so both go through constantTimeEqual.
      matches = constantTimeEqual(secret, provided);
      break;
    case 'bare-hmac':
      // Hex case carries no meaning; the header is attacker-controlled, so normalizing leaks nothing.
      matches = hmacsEqual(hmacHex(secret, rawBody), provided.toLowerCase());
      break;
    case 'prefixed-hmac': {
      const [algorithm, hex] = splitOnce(provided, '=');
      if (algorithm.toLowerCase() !== 'sha256' || hex === undefined) {
        throw new WebhookError(
          401,
          `signature header ${headerName} is not of the form sha256=<hex>`,
        );
      }
      matches = hmacsEqual(hmacHex(secret, rawBody), hex.toLowerCase());
      break;
    }
  }
  if (!matches) {
    throw new WebhookError(401, `signature in ${headerName} does not match`);
  }
}

function splitOnce(value: string, separator: string): [string, string | undefined] {
  const at = value.indexOf(separator);
  return at < 0 ? [value, undefined] : [value.slice(0, at), value.slice(at + 1)];
}
