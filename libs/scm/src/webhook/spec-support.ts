import { createHmac } from 'node:crypto';
import type { Forge, Headers } from './types';
import { WebhookError } from './webhook-error';

// Shared by the specs only: signs a body the way each forge does, so tests exercise real schemes.

export const SECRET = 'It’s a Secret to Everybody';

export function body(payload: unknown): Buffer {
  return Buffer.from(JSON.stringify(payload));
}

function hmacHex(secret: string, raw: Buffer): string {
  return createHmac('sha256', secret).update(raw).digest('hex');
}

export function signatureHeaders(forge: Forge, raw: Buffer, secret = SECRET): Headers {
  switch (forge) {
    case 'github':
      return { 'x-hub-signature-256': `sha256=${hmacHex(secret, raw)}` };
    case 'gitlab':
      return { 'x-gitlab-token': secret };
    case 'gitea':
      return { 'x-gitea-signature': hmacHex(secret, raw) };
    case 'forgejo':
      return { 'x-forgejo-signature': hmacHex(secret, raw) };
    case 'bitbucket':
      return { 'x-hub-signature': `sha256=${hmacHex(secret, raw)}` };
  }
}

/** Event and delivery headers as each forge names them. */
export function deliveryHeaders(forge: Forge, event: string, deliveryId = 'delivery-1'): Headers {
  switch (forge) {
    case 'github':
      return { 'x-github-event': event, 'x-github-delivery': deliveryId };
    case 'gitlab':
      return { 'x-gitlab-event': event, 'x-gitlab-event-uuid': deliveryId };
    case 'gitea':
      return { 'x-gitea-event': event, 'x-gitea-delivery': deliveryId };
    case 'forgejo':
      return { 'x-forgejo-event': event, 'x-forgejo-delivery': deliveryId };
    case 'bitbucket':
      return { 'x-event-key': event, 'x-request-uuid': deliveryId };
  }
}

/** The WebhookError `fn` throws, failing the test if it throws nothing or something else. */
export function webhookError(fn: () => unknown): WebhookError {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookError) return error;
    throw error;
  }
  throw new Error('expected a WebhookError, nothing was thrown');
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}
