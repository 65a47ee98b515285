import type { Forge } from '../webhook/types';
import { CommitStatusError } from './commit-status-error';

// scp-style clone address: `git@host:owner/repo.git` (no scheme, a colon before the path).
const SCP_LIKE = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)/;

/**
 * The API root a forge serves for a repository cloned from `cloneUrl`. The clone URL carries the
 * host but not an install's relative root (GitLab or Gitea served under `/git/`, say): such
 * installs must configure the API URL instead. SSH clone addresses map to https on the same host,
 * since the SSH port says nothing about the web port.
 */
export function defaultApiUrl(forge: Forge, cloneUrl: string): string {
  if (forge === 'bitbucket') return 'https://api.bitbucket.org/2.0';
  const { scheme, host } = webOrigin(forge, cloneUrl);
  switch (forge) {
    case 'github':
      return host === 'github.com' || host === 'www.github.com'
        ? 'https://api.github.com'
        : `${scheme}://${host}/api/v3`;
    case 'gitlab':
      return `${scheme}://${host}/api/v4`;
    case 'gitea':
    case 'forgejo':
      return `${scheme}://${host}/api/v1`;
  }
}

function webOrigin(forge: Forge, cloneUrl: string): { scheme: 'http' | 'https'; host: string } {
  const scp = SCP_LIKE.exec(cloneUrl);
  if (scp?.[1] !== undefined) return { scheme: 'https', host: scp[1].toLowerCase() };
  let url: URL;
  try {
    url = new URL(cloneUrl);
  } catch {
    throw invalid(forge, cloneUrl);
  }
  switch (url.protocol) {
    case 'https:':
    case 'http:':
      // `host` keeps a non-default port and drops any user:password@.
      return { scheme: url.protocol === 'https:' ? 'https' : 'http', host: url.host };
    case 'ssh:':
    case 'git+ssh:':
      if (url.hostname === '') throw invalid(forge, cloneUrl);
      return { scheme: 'https', host: url.hostname };
    default:
      throw invalid(forge, cloneUrl);
  }
}

function invalid(forge: Forge, cloneUrl: string): CommitStatusError {
  return new CommitStatusError(
    `${forge}: cannot derive an API URL from clone URL "${cloneUrl}" (expected http(s), ssh:// or git@host:path)`,
    { retryable: false },
  );
}
