export {
  normalizeDelivery,
  normalizeWebhook,
  readDelivery,
  shouldCreateRun,
  type WebhookDelivery,
} from './webhook/normalize';
export { truncateUtf8, WEBHOOK_LIMITS } from './webhook/limits';
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
export { defaultApiUrl } from './status/api-url';
export { CommitStatusError } from './status/commit-status-error';
export { commitStatusRequest } from './status/request';
export { sendCommitStatus } from './status/send';
export type { SendCommitStatusOptions } from './status/send';
export type {
  CommitState,
  CommitStatus,
  CommitStatusRequest,
  CommitStatusTarget,
} from './status/types';
