import { FORGE_HEADERS } from './forge-headers';
import { type Normalizer } from './forges/context';
import { normalizeBitbucket } from './forges/bitbucket';
import { normalizeGithubLike } from './forges/github';
import { normalizeGitlab } from './forges/gitlab';
import { readFirstHeader } from './headers';
import { parseBody } from './json';
import type { Forge, Headers, TriggerEvent } from './types';
import { WebhookError } from './webhook-error';

const NORMALIZERS: Record<Forge, Normalizer> = {
  github: normalizeGithubLike,
  gitlab: normalizeGitlab,
  gitea: normalizeGithubLike,
  forgejo: normalizeGithubLike,
  bitbucket: normalizeBitbucket,
};

function requiredHeader(headers: Headers, names: readonly string[]): string {
  const value = readFirstHeader(headers, names, 400);
  if (value === undefined) throw new WebhookError(400, `header ${names[0]} is missing`);
  return value;
}

/**
 * Turns an (already verified) webhook into the one thing Kiln acts on. Does not verify: call
 * verifyWebhook first, on the same raw bytes.
 * Throws WebhookError(400) for a missing event or delivery header or a body that is not a JSON
 * object, and WebhookError(422) for a supported event missing fields Kiln needs.
 */
export function normalizeWebhook(forge: Forge, headers: Headers, rawBody: Buffer): TriggerEvent {
  const names = FORGE_HEADERS[forge];
  const event = requiredHeader(headers, names.event);
  // The delivery id is what makes redeliveries idempotent downstream, so it is mandatory.
  const deliveryId = requiredHeader(headers, names.delivery);
  const body = parseBody(rawBody);
  return NORMALIZERS[forge]({ forge, deliveryId, event, body });
}

/** Whether Kiln should create a run for this event: the one place that encodes `[skip ci]`. */
export function shouldCreateRun(event: TriggerEvent): boolean {
  switch (event.kind) {
    case 'push':
      return !event.skipCi;
    case 'pull_request':
      return true;
    case 'ping':
    case 'ignored':
      return false;
  }
}
