import type { Headers } from './types';
import { WebhookError } from './webhook-error';

/**
 * The single value of a header, or undefined when absent or empty. Names are looked up
 * lower-cased first (what Node gives) and then case-insensitively, so hand-built header maps work.
 * A header repeated with different values is ambiguous: a proxy or an attacker may have added one,
 * so it is refused with `status` rather than guessing which one the forge sent.
 */
export function readHeader(headers: Headers, name: string, status: 400 | 401): string | undefined {
  const lower = name.toLowerCase();
  let value = headers[lower];
  if (value === undefined) {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : headers[key];
  }
  if (Array.isArray(value)) {
    const distinct = [...new Set(value)];
    if (distinct.length > 1) throw new WebhookError(status, `header ${name} is repeated`);
    value = distinct[0];
  }
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** The first present header of `names` (a forge's current name, then its legacy aliases). */
export function readFirstHeader(
  headers: Headers,
  names: readonly string[],
  status: 400 | 401,
): string | undefined {
  for (const name of names) {
    const value = readHeader(headers, name, status);
    if (value !== undefined) return value;
  }
  return undefined;
}
