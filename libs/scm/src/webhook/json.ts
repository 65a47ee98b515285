import { WebhookError } from './webhook-error';

/** A parsed JSON object; payloads are read through the accessors below, never trusted as typed. */
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses the body as a JSON object, or throws WebhookError(400) saying what it is instead. */
export function parseBody(rawBody: Buffer): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody.toString('utf8'));
  } catch (error) {
    throw new WebhookError(
      400,
      `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!isObject(parsed)) {
    throw new WebhookError(400, `the body is JSON but not an object: it is ${jsonKind(parsed)}`);
  }
  return parsed;
}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The value at a dotted `path`, or undefined when any step is missing. */
export function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function optString(value: unknown, path: string): string | undefined {
  const found = at(value, path);
  return typeof found === 'string' && found.length > 0 ? found : undefined;
}

export function reqString(value: unknown, path: string): string {
  const found = optString(value, path);
  if (found === undefined) throw new WebhookError(422, `payload has no string at ${path}`);
  return found;
}

/** Ids are numbers on most forges and strings (uuids) on Bitbucket; both become strings. */
export function optId(value: unknown, path: string): string | undefined {
  const found = at(value, path);
  if (typeof found === 'number' && Number.isFinite(found)) return String(found);
  return typeof found === 'string' && found.length > 0 ? found : undefined;
}

export function reqNumber(value: unknown, path: string): number {
  const found = at(value, path);
  if (typeof found !== 'number' || !Number.isInteger(found)) {
    throw new WebhookError(422, `payload has no integer at ${path}`);
  }
  return found;
}

export function optArray(value: unknown, path: string): unknown[] {
  const found = at(value, path);
  return Array.isArray(found) ? found : [];
}
