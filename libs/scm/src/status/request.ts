import { createHash } from 'node:crypto';
import type { Forge } from '../webhook/types';
import { CommitStatusError } from './commit-status-error';
import type { CommitState, CommitStatus, CommitStatusRequest, CommitStatusTarget } from './types';

// One table per forge from Kiln's states to the forge's. Mappings that are not the same word are
// explained beside them.

const GITHUB_STATES: Readonly<Record<CommitState, 'pending' | 'success' | 'failure' | 'error'>> = {
  pending: 'pending',
  // The statuses API has no in-progress state (only the Checks API, which needs a GitHub App).
  running: 'pending',
  success: 'success',
  failure: 'failure',
  error: 'error',
  // `failure` says the code failed its checks; `error` says the run could not complete, which is
  // what a cancel means. Both block a required check, so a canceled run never lets a merge through.
  canceled: 'error',
};

const GITLAB_STATES: Readonly<
  Record<CommitState, 'pending' | 'running' | 'success' | 'failed' | 'canceled'>
> = {
  pending: 'pending',
  running: 'running',
  success: 'success',
  failure: 'failed',
  // GitLab has one failed state for both; `canceled` would hide that the run broke.
  error: 'failed',
  canceled: 'canceled',
};

/** Gitea's states; Forgejo, forked from Gitea, keeps the same API. */
const GITEA_STATES: Readonly<
  Record<CommitState, 'pending' | 'success' | 'failure' | 'error' | 'warning'>
> = {
  pending: 'pending',
  // No in-progress state, as on GitHub, whose API Gitea mirrors.
  running: 'pending',
  success: 'success',
  failure: 'failure',
  error: 'error',
  // As on GitHub: the run did not complete. `warning` would read as "finished with caveats".
  canceled: 'error',
};

const BITBUCKET_STATES: Readonly<
  Record<CommitState, 'INPROGRESS' | 'SUCCESSFUL' | 'FAILED' | 'STOPPED'>
> = {
  // Bitbucket has no queued state: a queued run is shown as in progress.
  pending: 'INPROGRESS',
  running: 'INPROGRESS',
  success: 'SUCCESSFUL',
  failure: 'FAILED',
  // Bitbucket has one failed state for both failed checks and broken runs.
  error: 'FAILED',
  canceled: 'STOPPED',
};

const GITHUB_DESCRIPTION_MAX = 140;
const BITBUCKET_KEY_MAX = 40;
// A shortened Bitbucket key keeps this many hex digits of the context's SHA-256: distinct contexts
// sharing a long prefix stay distinct, and the same context always gives the same key.
const BITBUCKET_KEY_HASH = 10;

const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

interface ForgeRequest {
  path: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

type Build = (
  target: CommitStatusTarget,
  sha: string,
  status: CommitStatus,
  token: string | undefined,
) => ForgeRequest;

const BUILDERS: Readonly<Record<Forge, Build>> = {
  github: (target, sha, status, token) => ({
    path: `/repos/${ownerAndName(target)}/statuses/${sha}`,
    headers: {
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
      ...credentials(token, 'Authorization', 'Bearer '),
    },
    body: {
      state: GITHUB_STATES[status.state],
      target_url: status.targetUrl,
      description: truncate(status.description, GITHUB_DESCRIPTION_MAX),
      context: status.context,
    },
  }),
  gitlab: (target, sha, status, token) => ({
    // The project id may be its full path, URL-encoded as one segment (`group%2Fsub%2Fname`).
    path: `/projects/${encodeURIComponent(segments(target, 'nested').join('/'))}/statuses/${sha}`,
    headers: credentials(token, 'PRIVATE-TOKEN'),
    body: {
      state: GITLAB_STATES[status.state],
      name: status.context,
      target_url: status.targetUrl,
      description: status.description,
    },
  }),
  gitea: giteaRequest,
  forgejo: giteaRequest,
  bitbucket: (target, sha, status, token) => ({
    path: `/repositories/${ownerAndName(target)}/commit/${sha}/statuses/build`,
    headers: credentials(token, 'Authorization', 'Bearer '),
    body: {
      key: bitbucketKey(status.context),
      state: BITBUCKET_STATES[status.state],
      name: status.context,
      url: status.targetUrl,
      description: status.description,
    },
  }),
};

function giteaRequest(
  target: CommitStatusTarget,
  sha: string,
  status: CommitStatus,
  token: string | undefined,
): ForgeRequest {
  return {
    path: `/repos/${ownerAndName(target)}/statuses/${sha}`,
    headers: credentials(token, 'Authorization', 'token '),
    body: {
      state: GITEA_STATES[status.state],
      target_url: status.targetUrl,
      description: status.description,
      context: status.context,
    },
  };
}

function credentials(
  token: string | undefined,
  header: string,
  scheme = '',
): Record<string, string> {
  return token === undefined ? {} : { [header]: `${scheme}${token}` };
}

/**
 * The request that sets `status` on `target.sha`, built without I/O. Throws a non-retryable
 * CommitStatusError when the target cannot be addressed: unknown forge, API URL that is not
 * http(s), repository name not of the form owner/name, or a commit that is not a full hash.
 */
export function commitStatusRequest(
  target: CommitStatusTarget,
  status: CommitStatus,
): CommitStatusRequest {
  const build = (BUILDERS as Partial<Record<string, Build>>)[target.forge];
  if (build === undefined) {
    throw new CommitStatusError(`unknown forge "${String(target.forge)}"`, { retryable: false });
  }
  const root = apiRoot(target);
  const sha = commitSha(target);
  const token = target.token === undefined || target.token === '' ? undefined : target.token;
  const { path, headers, body } = build(target, sha, status, token);
  return {
    method: 'POST',
    url: `${root}${path}`,
    headers: {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'User-Agent': 'kiln',
      ...headers,
    },
    body,
  };
}

function apiRoot({ forge, apiUrl }: CommitStatusTarget): string {
  let url: URL | undefined;
  try {
    url = new URL(apiUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new CommitStatusError(`${forge}: API URL "${apiUrl}" is not an http(s) URL`, {
      retryable: false,
    });
  }
  // fetch refuses URLs with credentials; a query or fragment would end up before the path.
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new CommitStatusError(
      `${forge}: API URL must not carry credentials, a query or a fragment`,
      { retryable: false },
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function commitSha({ forge, sha }: CommitStatusTarget): string {
  if (!SHA.test(sha)) {
    throw new CommitStatusError(
      `${forge}: commit "${sha}" is not a full hash (40 or 64 hex characters)`,
      { retryable: false },
    );
  }
  return sha.toLowerCase();
}

/** `owner/name` as two URL-encoded path segments. */
function ownerAndName(target: CommitStatusTarget): string {
  return segments(target, 'two').map(encodeURIComponent).join('/');
}

function segments({ forge, fullName }: CommitStatusTarget, shape: 'two' | 'nested'): string[] {
  const parts = fullName.split('/');
  const counted = shape === 'two' ? parts.length === 2 : parts.length >= 2;
  // `.` and `..` survive URL-encoding and would be resolved by the URL parser, re-targeting the
  // request at another API path.
  if (!counted || parts.some((part) => part === '' || part === '.' || part === '..')) {
    const expected = shape === 'two' ? 'owner/name' : 'group/[subgroup/…]name';
    throw new CommitStatusError(
      `${forge}: repository "${fullName}" is not of the form ${expected}`,
      {
        retryable: false,
      },
    );
  }
  return parts;
}

/** At most `max` characters (code points, so no surrogate pair is split), ending in … if cut. */
function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function bitbucketKey(context: string): string {
  const chars = Array.from(context);
  if (chars.length <= BITBUCKET_KEY_MAX) return context;
  const hash = createHash('sha256').update(context).digest('hex').slice(0, BITBUCKET_KEY_HASH);
  const prefix = chars.slice(0, BITBUCKET_KEY_MAX - BITBUCKET_KEY_HASH - 1).join('');
  return `${prefix}-${hash}`;
}
