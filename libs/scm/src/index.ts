export { normalizeWebhook, shouldCreateRun } from './webhook/normalize';
export type {
  Forge,
  Headers,
  IgnoredEvent,
  PingEvent,
  PullRequestAction,
  PullRequestEvent,
  PushEvent,
  RepoRef,
  TriggerEvent,
} from './webhook/types';
export { verifyWebhook } from './webhook/verify';
export { WebhookError } from './webhook/webhook-error';
