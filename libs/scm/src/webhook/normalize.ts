import { FORGE_HEADERS } from './forge-headers';
import { type Normalizer } from './forges/context';
import { normalizeBitbucket } from './forges/bitbucket';
import { normalizeGithubLike } from './forges/github';
import { normalizeGitlab } from './forges/gitlab';
import { readFirstHeader, readHeader } from './headers';
import { optString, parseBody, type JsonObject } from './json';
import { bounded, WEBHOOK_LIMITS } from './limits';
import type { Forge, Headers, TriggerEvent } from './types';
import { WebhookError } from './webhook-error';

const NORMALIZERS: Record<Forge, Normalizer> = {
  github: normalizeGithubLike,
  gitlab: normalizeGitlab,
  gitea: normalizeGithubLike,
  forgejo: normalizeGithubLike,
  bitbucket: normalizeBitbucket,
};

/** Where each forge names the repository a delivery is about, whatever the event. */
const REPOSITORY_NAME: Record<Forge, readonly string[]> = {
  github: ['repository.full_name'],
  gitea: ['repository.full_name'],
  forgejo: ['repository.full_name'],
  gitlab: ['project.path_with_namespace'],
  bitbucket: ['repository.full_name', 'pullrequest.destination.repository.full_name'],
};

const JSON_TYPE = 'application/json';
/** GitHub's other content type: the JSON in a `payload` form field. */
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * A delivery read just far enough to find the repository whose secret verifies it. Nothing in
 * it is trusted yet: only {@link normalizeDelivery}, after the signature was checked, reads it.
 */
export interface WebhookDelivery {
  forge: Forge;
  headers: Headers;
  body: JsonObject;
  /** The repository the payload names (`owner/name`), if any: organization pings name none. */
  repositoryName?: string;
}

/**
 * Reads a delivery's body as JSON (or GitHub's form-encoded JSON). Throws WebhookError 415 for
 * another content type, 400 for no body or a body that is not a JSON object.
 */
export function readDelivery(
  forge: Forge,
  headers: Headers,
  rawBody: Buffer | undefined,
): WebhookDelivery {
  const type = readHeader(headers, 'Content-Type', 400)?.split(';')[0]?.trim().toLowerCase();
  if (type !== undefined && type !== JSON_TYPE && type !== FORM_TYPE) {
    throw new WebhookError(
      415,
      `Content-Type ${type} is not accepted: webhooks are ${JSON_TYPE} (or GitHub's ${FORM_TYPE}); set the hook's content type to JSON`,
    );
  }
  if (rawBody === undefined || rawBody.length === 0) {
    throw new WebhookError(
      400,
      type === undefined
        ? `the webhook has no body, or no Content-Type: send ${JSON_TYPE}`
        : 'the webhook has no body',
    );
  }
  const body = parseBody(type === FORM_TYPE ? formPayload(rawBody) : rawBody);
  const repositoryName = REPOSITORY_NAME[forge]
    .map((path) => optString(body, path))
    .find((name) => name !== undefined);
  return { forge, headers, body, ...(repositoryName === undefined ? {} : { repositoryName }) };
}

function formPayload(rawBody: Buffer): Buffer {
  const payload = new URLSearchParams(rawBody.toString('utf8')).get('payload');
  if (payload === null) throw new WebhookError(400, 'a form-encoded webhook needs a payload field');
  return Buffer.from(payload, 'utf8');
}

function requiredHeader(headers: Headers, names: readonly string[]): string {
  const value = readFirstHeader(headers, names, 400);
  if (value === undefined) throw new WebhookError(400, `header ${names[0]} is missing`);
  return value;
}

/**
 * Turns an (already verified) delivery into the one thing Kiln acts on, bounded as
 * {@link WEBHOOK_LIMITS} says. Does not verify: call verifyWebhook first, on the raw bytes.
 * Throws WebhookError(400) for a missing event or delivery header or an overlong delivery id,
 * and WebhookError(422) for a supported event missing fields Kiln needs.
 */
export function normalizeDelivery(delivery: WebhookDelivery): TriggerEvent {
  const { forge, headers, body } = delivery;
  const names = FORGE_HEADERS[forge];
  const event = requiredHeader(headers, names.event);
  // The delivery id is what makes redeliveries idempotent downstream, so it is mandatory.
  const deliveryId = requiredHeader(headers, names.delivery);
  if (deliveryId.length > WEBHOOK_LIMITS.deliveryIdLength) {
    throw new WebhookError(
      400,
      `header ${names.delivery[0]} is longer than ${WEBHOOK_LIMITS.deliveryIdLength} characters`,
    );
  }
  return bounded(NORMALIZERS[forge]({ forge, deliveryId, event, body }));
}

/** {@link readDelivery} then {@link normalizeDelivery}: for a delivery verified already. */
export function normalizeWebhook(forge: Forge, headers: Headers, rawBody: Buffer): TriggerEvent {
  return normalizeDelivery(readDelivery(forge, headers, rawBody));
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
