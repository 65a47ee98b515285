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

  let expected: string;
  let actual: string;
  switch (scheme) {
    case 'token':
      expected = secret;
      actual = provided;
      break;
    case 'bare-hmac':
      expected = hmacHex(secret, rawBody);
      // Hex case carries no meaning; the header is attacker-controlled, so normalizing leaks nothing.
      actual = provided.toLowerCase();
      break;
    case 'prefixed-hmac': {
      const [algorithm, hex] = splitOnce(provided, '=');
      if (algorithm.toLowerCase() !== 'sha256' || hex === undefined) {
        throw new WebhookError(
          401,
          `signature header ${headerName} is not of the form sha256=<hex>`,
        );
      }
      expected = hmacHex(secret, rawBody);
      actual = hex.toLowerCase();
      break;
    }
  }
  if (!constantTimeEqual(expected, actual)) {
    throw new WebhookError(401, `signature in ${headerName} does not match`);
  }
}

function splitOnce(value: string, separator: string): [string, string | undefined] {
  const at = value.indexOf(separator);
  return at < 0 ? [value, undefined] : [value.slice(0, at), value.slice(at + 1)];
}
