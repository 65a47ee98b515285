import type { Forge } from './types';

type SignatureScheme =
  /** `sha256=<hex HMAC-SHA256(secret, body)>` */
  | 'prefixed-hmac'
  /** `<hex HMAC-SHA256(secret, body)>` */
  | 'bare-hmac'
  /** The shared secret itself, sent as a token. */
  | 'token';

interface ForgeHeaders {
  /** Header names in order of preference; the first one is the one named in errors. */
  signature: readonly string[];
  scheme: SignatureScheme;
  event: readonly string[];
  delivery: readonly string[];
}

// Forgejo still sends the X-Gitea-* headers it inherited, so they are accepted as fallbacks for
// instances or proxies that only forward those.
export const FORGE_HEADERS: Record<Forge, ForgeHeaders> = {
  github: {
    signature: ['X-Hub-Signature-256'],
    scheme: 'prefixed-hmac',
    event: ['X-GitHub-Event'],
    delivery: ['X-GitHub-Delivery'],
  },
  gitlab: {
    signature: ['X-Gitlab-Token'],
    scheme: 'token',
    event: ['X-Gitlab-Event'],
    // X-Gitlab-Event-UUID identifies the delivery; X-Gitlab-Webhook-UUID the hook (older GitLab).
    delivery: ['X-Gitlab-Event-UUID', 'X-Gitlab-Webhook-UUID'],
  },
  gitea: {
    signature: ['X-Gitea-Signature'],
    scheme: 'bare-hmac',
    event: ['X-Gitea-Event'],
    delivery: ['X-Gitea-Delivery'],
  },
  forgejo: {
    signature: ['X-Forgejo-Signature', 'X-Gitea-Signature'],
    scheme: 'bare-hmac',
    event: ['X-Forgejo-Event', 'X-Gitea-Event'],
    delivery: ['X-Forgejo-Delivery', 'X-Gitea-Delivery'],
  },
  bitbucket: {
    signature: ['X-Hub-Signature'],
    scheme: 'prefixed-hmac',
    event: ['X-Event-Key'],
    delivery: ['X-Request-UUID', 'X-Hook-UUID'],
  },
};
